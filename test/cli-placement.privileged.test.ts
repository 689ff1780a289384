// The CLI's placement flags: --cgroup, --rlimit, --netns, --oom-score-adj, --nice.
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { alive, childrenOf, FIXTURE_USERS, isRoot, notRootReason } from './support/fixtures.js';
import { ensureCliBuilt, runCli, scratchDir, startCli } from './support/cli.js';

const user = FIXTURE_USERS.guest.name;
const cgroupRoot = existsSync('/sys/fs/cgroup/unified/cgroup.procs') ? '/sys/fs/cgroup/unified' : '/sys/fs/cgroup';

/** The promise's value, or undefined when it has not settled within `ms`. */
async function within<T>(promise: Promise<T>, ms: number): Promise<T | undefined> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<undefined>((resolve) => (timer = setTimeout(() => resolve(undefined), ms)));
  try {
    return await Promise.race([promise, late]);
  } finally {
    clearTimeout(timer);
  }
}

describe.runIf(isRoot)(`capspawn placement flags (${notRootReason})`, () => {
  const name = `capspawn-cli-${process.pid}`;
  const cgroup = join(cgroupRoot, name);
  const netns = `/run/netns/${name}`;
  beforeAll(() => {
    ensureCliBuilt();
    mkdirSync(cgroup);
    execFileSync('ip', ['netns', 'add', name]);
  });
  afterAll(() => {
    rmdirSync(cgroup);
    execFileSync('ip', ['netns', 'delete', name]);
  });

  it('runs the guest in the cgroup, with the limits, oom_score_adj and nice asked for', async () => {
    const script =
      'grep ^0:: /proc/self/cgroup; grep "^Max open files" /proc/self/limits | tr -s " "; cat /proc/self/oom_score_adj; cut -d" " -f19 /proc/self/stat';
    const out = await runCli([
      '--user',
      user,
      '--cgroup',
      cgroup,
      '--rlimit',
      'nofile=1024:4096',
      '--oom-score-adj',
      '300',
      '--nice=-3',
      '--',
      '/bin/sh',
      '-c',
      script,
    ]);
    expect(out).toMatchObject({ status: 0, stdout: `0::/${name}\nMax open files 1024 4096 files \n300\n-3\n` });
  });

  it('runs the guest in the network namespace', async () => {
    const out = await runCli([
      '--user',
      user,
      '--netns',
      netns,
      '--',
      '/bin/sh',
      '-c',
      'tail -n +3 /proc/self/net/dev | cut -d: -f1 | tr -d " "',
    ]);
    expect(out).toMatchObject({ status: 0, stdout: 'lo\n' });
  });

  it('explains the placement without spawning', async () => {
    const out = await runCli([
      'explain',
      '--json',
      '--user',
      user,
      '--cgroup',
      cgroup,
      '--rlimit',
      'core=0',
      '--rlimit',
      'nofile=512:1024',
      '--netns',
      netns,
      '--nice',
      '4',
      '--',
      '/bin/true',
    ]);
    const placement = (JSON.parse(out.stdout) as { placement: unknown }).placement;
    expect(placement).toEqual({
      cgroup,
      rlimits: { core: { soft: '0', hard: '0' }, nofile: { soft: '512', hard: '1024' } },
      ownCgroup: null,
      netns,
      oomScoreAdj: null,
      nice: 4,
    });
    expect(childrenOf()).toEqual([]);
  });

  /** The cgroups under the parent: those capspawn made for a guest. */
  const ownCgroups = () =>
    readdirSync(cgroup, { withFileTypes: true })
      .filter((e) => e.isDirectory())
      .map((e) => join(cgroup, e.name));
  const procsOf = (dir: string) => readFileSync(join(dir, 'cgroup.procs'), 'latin1').split('\n').filter(Boolean).map(Number);
  /** A config whose guest gets a cgroup of its own under the parent. */
  function ownCgroupConfig(): string {
    const config = join(scratchDir(), 'guest.json');
    writeFileSync(config, JSON.stringify({ user, cgroup: { parent: cgroup } }));
    return config;
  }
  /** Ends what a failed run left behind, so the next tests and afterAll find the parent empty. */
  async function clearOwnCgroups(): Promise<void> {
    for (const dir of ownCgroups()) {
      writeFileSync(join(dir, 'cgroup.kill'), '1');
      while (procsOf(dir).length > 0) await new Promise((r) => setTimeout(r, 20));
      rmdirSync(dir);
    }
  }

  it('with a cgroup of its own, run passes SIGTERM to the whole tree and exits once it has gone, its directory too', async () => {
    // The background child does not hold capspawn's stdout: only the tree keeps capspawn running.
    const run = startCli(['--config', ownCgroupConfig(), '--', 'sh', '-c', 'sleep 300 >/dev/null 2>&1 & echo ready; exec sleep 300']);
    try {
      await run.printed('ready');
      const [own] = ownCgroups();
      expect(own).toBeDefined();
      for (let i = 0; procsOf(own!).length < 2 && i < 250; i++) await new Promise((r) => setTimeout(r, 20));
      const pids = procsOf(own!);
      expect(pids).toHaveLength(2);
      run.child.kill('SIGTERM');
      const ended = await within(run.result, 10_000);
      expect(ended?.status).toBe(143);
      expect(alive(pids)).toEqual([]);
      expect(existsSync(own!)).toBe(false);
    } finally {
      run.child.kill('SIGKILL');
      await clearOwnCgroups();
    }
  });

  it('with a cgroup of its own, a signal after PROGRAM has exited ends what it left running with SIGKILL', async () => {
    // The background child ignores SIGTERM: passed on as it is, it would keep capspawn waiting.
    const run = startCli(['--config', ownCgroupConfig(), '--', 'sh', '-c', "(trap '' TERM; exec sleep 300) >/dev/null 2>&1 & exit 4"]);
    try {
      // Wait until PROGRAM has exited and the one process left is the sleep that ignores SIGTERM
      // (its subshell may not have run the trap yet when PROGRAM is gone).
      const ignoresTerm = (pid: number) => {
        try {
          const status = readFileSync(`/proc/${pid}/status`, 'latin1');
          const ignored = BigInt(`0x${/^SigIgn:\s*([0-9a-f]+)$/m.exec(status)?.[1] ?? '0'}`);
          return /^Name:\s*sleep$/m.test(status) && (ignored & (1n << 14n)) !== 0n;
        } catch {
          return false;
        }
      };
      let own: string | undefined;
      const settled = () => own !== undefined && procsOf(own).length === 1 && ignoresTerm(procsOf(own)[0]!);
      for (let i = 0; !settled() && i < 1500; i++) {
        await new Promise((r) => setTimeout(r, 20));
        own ??= ownCgroups()[0];
      }
      expect(settled()).toBe(true);
      const pids = procsOf(own!);
      run.child.kill('SIGTERM');
      const ended = await within(run.result, 10_000);
      expect(ended?.status).toBe(4);
      expect(alive(pids)).toEqual([]);
      expect(existsSync(own!)).toBe(false);
    } finally {
      run.child.kill('SIGKILL');
      await clearOwnCgroups();
    }
  });

  it("with a cgroup of its own, run exits once what PROGRAM left running has exited, with PROGRAM's status", async () => {
    const dir = scratchDir(0o777);
    try {
      const out = await runCli([
        '--config',
        ownCgroupConfig(),
        '--',
        'sh',
        '-c',
        `(sleep 1; echo late > ${dir}/late) >/dev/null 2>&1 & exit 3`,
      ]);
      expect(out.status).toBe(3);
      expect(readFileSync(join(dir, 'late'), 'utf8')).toBe('late\n');
      expect(ownCgroups()).toEqual([]);
    } finally {
      await clearOwnCgroups();
      rmSync(dir, { recursive: true });
    }
  });

  it("explains and checks a cgroup of the guest's own from a config file, making nothing", async () => {
    const config = join(mkdtempSync(join(tmpdir(), 'capspawn-cli-')), 'guest.json');
    writeFileSync(config, JSON.stringify({ user, cgroup: { parent: cgroup, limits: { 'hugetlb.2MB.max': 0 } } }));
    const explained = await runCli(['explain', '--config', config, '--', '/bin/true']);
    expect(explained.stdout).toContain(
      `cgroup        ${cgroup}/capspawn-<pid>-<n> (made for the guest: hugetlb.2MB.max=0; removed once its tree has exited)`,
    );
    const doctor = await runCli(['doctor', '--json', '--config', config]);
    const check = (JSON.parse(doctor.stdout) as { checks: { name: string; ok: boolean; detail: string }[] }).checks.find(
      (c) => c.name === 'cgroup',
    );
    // These hosts keep hugetlb in cgroup v2 but the root does not enable it for its children.
    const enabled = readFileSync(join(cgroup, 'cgroup.subtree_control'), 'latin1').includes('hugetlb');
    expect(check).toMatchObject(enabled ? { ok: true } : { ok: false, detail: expect.stringContaining('hugetlb controller') });
    expect(readdirSync(cgroup, { withFileTypes: true }).filter((e) => e.isDirectory())).toEqual([]);
    rmSync(dirname(config), { recursive: true });
  });

  it("explain --json gives the cgroup of the guest's own; explain and doctor pass it, or name a parent this process cannot write", async () => {
    const dir = mkdtempSync(join(tmpdir(), 'capspawn-cli-own-'));
    const config = join(dir, 'guest.json');
    writeFileSync(config, JSON.stringify({ user, cgroup: { parent: cgroup, name: 'vm-1', limits: { 'pids.max': 64 }, keep: true } }));
    const explained = await runCli(['explain', '--json', '--config', config, '--', '/bin/true']);
    const { placement, preflight } = JSON.parse(explained.stdout) as {
      placement: { cgroup: string; ownCgroup: unknown };
      preflight: { checks: { name: string; ok: boolean; detail: string }[] };
    };
    expect(placement.cgroup).toBe(join(cgroup, 'vm-1'));
    expect(placement.ownCgroup).toEqual({ parent: cgroup, limits: [{ file: 'pids.max', controller: 'pids', text: '64' }], keep: true });
    // The host's cgroup v2 root enables pids for its children when pids is on v2 at all.
    const pids = readFileSync(join(cgroup, 'cgroup.subtree_control'), 'latin1').split(/\s+/).includes('pids');
    const expected = pids
      ? { ok: true, detail: `this process can create cgroups in ${cgroup} and write their pids limits` }
      : { ok: false, detail: expect.stringContaining('pids controller') };
    expect(preflight.checks.find((c) => c.name === 'cgroup')).toEqual(expect.objectContaining(expected));
    const text = await runCli(['explain', '--config', config, '--', '/bin/true']);
    expect(text.stdout).toContain(`cgroup        ${join(cgroup, 'vm-1')} (made for the guest: pids.max=64; kept once its tree has exited)`);
    // A parent owned by another user, and this process without CAP_DAC_OVERRIDE: it cannot mkdir there.
    const foreign = join(cgroup, 'foreign');
    mkdirSync(foreign);
    try {
      execFileSync('chown', [user, foreign]);
      writeFileSync(config, JSON.stringify({ user, cgroup: { parent: foreign } }));
      const doctor = await runCli(['doctor', '--json', '--config', config], {
        wrapper: ['setpriv', '--bounding-set', '-dac_override', '--'],
      });
      expect(doctor.status).toBe(1);
      const check = (JSON.parse(doctor.stdout) as { checks: { name: string; ok: boolean; detail: string; code?: string }[] }).checks.find(
        (c) => c.name === 'cgroup',
      );
      expect(check).toMatchObject({ ok: false, code: 'EACCES', detail: `cannot create cgroups in ${foreign} (EACCES)` });
      const ours = await runCli(['doctor', '--json', '--config', config]);
      expect(
        (JSON.parse(ours.stdout) as { checks: { name: string; ok: boolean }[] }).checks.find((c) => c.name === 'cgroup'),
      ).toMatchObject({ ok: true });
      expect(readdirSync(foreign, { withFileTypes: true }).filter((e) => e.isDirectory())).toEqual([]);
    } finally {
      rmdirSync(foreign);
      rmSync(dir, { recursive: true });
    }
    expect(readdirSync(cgroup, { withFileTypes: true }).filter((e) => e.isDirectory())).toEqual([]);
  });

  it.each([
    [['--rlimit', 'nofile=lots'], /--rlimit nofile=lots: write NAME=SOFT:HARD/],
    [['--rlimit', 'files=10'], /--rlimit.*names no resource limit/],
    [['--nice', 'high'], /--nice high: write a whole number/],
    [['--oom-score-adj', '2000'], /--oom-score-adj.*-1000 to 1000/],
    [['--cgroup', '/tmp'], /--cgroup.*cgroup v2 directory/],
    [['--netns', '/etc/hostname'], /--netns.*network namespace/],
  ])('refuses %j with exit 125 and one line', async (flags, message) => {
    const out = await runCli(['--user', user, ...flags, '--', '/bin/true']);
    expect(out.status).toBe(125);
    expect(out.stderr.trim().split('\n')).toHaveLength(1);
    expect(out.stderr).toMatch(message);
  });

  it('doctor reports a cgroup or parent that is not cgroup v2 as a failed check, not a usage error', async () => {
    const joined = await runCli(['doctor', '--user', user, '--cgroup', '/tmp']);
    expect(joined.status).toBe(1);
    expect(joined.stdout).toMatch(/^✗ cgroup: \/tmp is not a directory of a cgroup v2 file system → fix: .*cgroup2/m);
    const config = join(mkdtempSync(join(tmpdir(), 'capspawn-doctor-parent-')), 'guest.json');
    writeFileSync(config, JSON.stringify({ user, cgroup: { parent: '/tmp' } }));
    const parent = await runCli(['doctor', '--config', config]);
    expect(parent.status).toBe(1);
    expect(parent.stdout).toMatch(/^✗ cgroup: \/tmp is not a directory of a cgroup v2 file system/m);
    rmSync(dirname(config), { recursive: true });
  });

  it('doctor reports the cgroup v2 mount and fails CAP_SYS_ADMIN for --netns when this process lacks it', async () => {
    const ok = await runCli(['doctor', '--user', user, '--netns', netns]);
    expect(ok.stdout).toMatch(/^✓ cgroup v2: mounted at /m);
    expect(ok.stdout).toMatch(/^✓ CAP_SYS_ADMIN: .*setns/m);
    const without = await runCli(['doctor', '--user', user, '--netns', netns], {
      wrapper: ['setpriv', '--bounding-set', '-sys_admin', '--'],
    });
    expect(without.status).toBe(1);
    expect(without.stdout).toMatch(/^✗ CAP_SYS_ADMIN: .*setns would fail with EPERM/m);
  });
});
