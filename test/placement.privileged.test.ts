// Placement: cgroup, resource limits, network namespace, oom_score_adj and nice, set in the
// child before execve and checked from inside the guest.
import { execFileSync } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readFileSync, readlinkSync, rmdirSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { planGuest, spawnGuest, type SpawnGuestOptions } from '../lib/index.js';
import { childrenOf, FIXTURE_USERS, isRoot, notRootReason } from './support/fixtures.js';
import { inspectPath, runDaemon, runGuest } from './support/guests.js';

const user = FIXTURE_USERS.guest.name;
const unified = '/sys/fs/cgroup/unified';
const cgroupRoot = existsSync(join(unified, 'cgroup.procs')) ? unified : '/sys/fs/cgroup';
const sh = (script: string, options: Partial<SpawnGuestOptions> = {}) => runGuest('/bin/sh', ['-c', script], { user, ...options });

describe.runIf(isRoot)(`placement of a guest (${notRootReason})`, () => {
  const name = `capspawn-test-${process.pid}`;
  const cgroup = join(cgroupRoot, name);
  const netnsName = `capspawn-test-${process.pid}`;
  const netns = `/run/netns/${netnsName}`;
  const tapName = `cs-${process.pid % 100000}`;
  let tunDir = '';
  beforeAll(() => {
    mkdirSync(cgroup);
    execFileSync('ip', ['netns', 'add', netnsName]);
    // A link of the namespace's own, so that it differs from this one even on a host whose only
    // link is lo (a VM without network).
    execFileSync('ip', ['-n', netnsName, 'tuntap', 'add', 'dev', tapName, 'mode', 'tap']);
    tunDir = mkdtempSync(join(tmpdir(), 'capspawn-tun-'));
    chmodSync(tunDir, 0o755);
    execFileSync('mknod', ['-m', '0666', join(tunDir, 'tun'), 'c', '10', '200']);
  });
  afterAll(() => {
    rmdirSync(cgroup);
    execFileSync('ip', ['netns', 'delete', netnsName]);
    rmSync(tunDir, { recursive: true, force: true });
  });

  it('starts the guest, and what it forks, inside the cgroup before it prints anything', async () => {
    const out = await sh('grep ^0:: /proc/self/cgroup; sh -c "grep ^0:: /proc/self/cgroup"', { cgroup });
    expect(out).toMatchObject({ code: 0, stdout: `0::/${name}\n0::/${name}\n` });
    const outside = await sh('grep ^0:: /proc/self/cgroup');
    expect(outside.stdout).not.toContain(name);
  });

  it("lists the running guest in the cgroup's cgroup.procs; guest.cgroup is the path given, null without one", async () => {
    const guest = await spawnGuest(inspectPath(), ['sleep', '30'], { user, cgroup, stdio: 'ignore' });
    try {
      expect(readFileSync(join(cgroup, 'cgroup.procs'), 'latin1').split('\n')).toContain(String(guest.pid));
      expect((await guest.placement()).cgroup).toBe(`/${name}`);
      expect(guest.cgroup).toBe(cgroup);
    } finally {
      await guest[Symbol.asyncDispose]();
    }
    const plain = await spawnGuest('/bin/true', [], { user, stdio: 'ignore' });
    expect(plain.cgroup).toBeNull();
    await plain.exited;
  });

  it('sets resource limits, visible in /proc/self/limits', async () => {
    const out = await sh('grep -E "^Max (open files|core file size|locked memory)" /proc/self/limits', {
      rlimits: { nofile: [1024, 4096], core: 0, memlock: [65536, 65536] },
    });
    const rows = out.stdout
      .split('\n')
      .filter(Boolean)
      .map((line) => line.replace(/\s+/g, ' ').trim());
    expect(rows).toEqual(['Max core file size 0 0 bytes', 'Max open files 1024 4096 files', 'Max locked memory 65536 65536 bytes']);
  });

  it("runs the guest in the network namespace: it sees only that namespace's links", async () => {
    const links = async (options: Partial<SpawnGuestOptions>) =>
      (await sh('tail -n +3 /proc/self/net/dev | cut -d: -f1 | tr -d " "', options)).stdout.split('\n').filter(Boolean).sort();
    expect(await links({ netns })).toEqual([tapName, 'lo'].sort());
    expect(await links({})).not.toContain(tapName);
  });

  it('lets a guest with net_admin create a TAP device inside the namespace', async () => {
    const out = await runGuest(inspectPath(), ['tap', join(tunDir, 'tun')], { user, netns, caps: ['net_admin'] });
    expect(out).toMatchObject({ code: 0, stdout: 'ok\n' });
  });

  it('reports the namespace, limits, oom_score_adj and nice through placement()', async () => {
    const guest = await spawnGuest(inspectPath(), ['sleep', '30'], {
      user,
      netns,
      oomScoreAdj: 500,
      nice: 7,
      rlimits: { nofile: [512, 1024] },
      stdio: 'ignore',
    });
    try {
      const placement = await guest.placement();
      const expectedNet = `net:[${statSync(netns).ino}]`;
      expect(placement.namespaces.net).toBe(expectedNet);
      expect(placement.namespaces.mnt).toBe(readlinkSync('/proc/self/ns/mnt'));
      expect(placement.oomScoreAdj).toBe(500);
      expect(placement.nice).toBe(7);
      expect(placement.limits.nofile).toEqual({ soft: 512, hard: 1024 });
    } finally {
      await guest[Symbol.asyncDispose]();
    }
  });

  it('sets oom_score_adj and nice, read back from inside the guest', async () => {
    const out = await sh('cat /proc/self/oom_score_adj; cut -d" " -f19 /proc/self/stat', { oomScoreAdj: 800, nice: -5 });
    expect(out.stdout).toBe('800\n-5\n');
  });

  it('fails at the oom_score_adj step when lowering it needs CAP_SYS_RESOURCE the daemon lacks', async () => {
    // A daemon without CAP_SYS_RESOURCE, whatever this process holds.
    const result = await runDaemon(['setpriv', '--bounding-set', '-sys_resource', '--inh-caps', '-all'], {
      file: '/bin/true',
      options: { user, oomScoreAdj: -500 },
    });
    expect(result).toMatchObject({ ok: false, children: 0, error: { name: 'SpawnGuestError', step: 'oom_score_adj', code: 'EACCES' } });
    if (!result.ok) expect(result.error.message).toMatch(/CAP_SYS_RESOURCE/);
  });

  it('refuses bad placement values before spawning', async () => {
    const bad = async (options: Partial<SpawnGuestOptions>, expected: Record<string, unknown>) => {
      await expect(spawnGuest('/bin/true', { user, ...options })).rejects.toMatchObject(expected);
      await expect(planGuest('/bin/true', { user, ...options })).rejects.toMatchObject(expected);
    };
    await bad({ cgroup: '/tmp' }, { name: 'RangeError', code: 'ERR_CAPSPAWN_NOT_CGROUP2', option: 'cgroup' });
    await bad({ cgroup: `${cgroup}/missing` }, { code: 'ERR_CAPSPAWN_NOT_CGROUP2', option: 'cgroup' });
    await bad({ cgroup: 'relative/path' }, { code: 'ERR_INVALID_ARG_VALUE', option: 'cgroup' });
    await bad({ rlimits: { files: 10 } as never }, { code: 'ERR_INVALID_ARG_VALUE', option: 'rlimits.files' });
    await bad({ rlimits: { nofile: [10, 5] } }, { code: 'ERR_OUT_OF_RANGE', option: 'rlimits.nofile' });
    await bad({ rlimits: { nofile: -1 } }, { code: 'ERR_OUT_OF_RANGE', option: 'rlimits.nofile' });
    await bad({ rlimits: { nofile: [1, 2, 3] as never } }, { code: 'ERR_INVALID_ARG_VALUE', option: 'rlimits.nofile' });
    await bad({ netns: '/etc/passwd' }, { code: 'ERR_INVALID_ARG_VALUE', option: 'netns' });
    await bad({ netns: '/run/netns/capspawn-missing' }, { code: 'ERR_INVALID_ARG_VALUE', option: 'netns' });
    await bad({ netns: 'relative' }, { code: 'ERR_INVALID_ARG_VALUE', option: 'netns' });
    await bad({ netns: -1 }, { code: 'ERR_OUT_OF_RANGE', option: 'netns' });
    // A namespace file of another kind, and an fd that is no namespace: refused before the clone.
    await expect(spawnGuest('/bin/true', { user, netns: '/proc/self/ns/mnt' })).rejects.toMatchObject({
      name: 'SpawnGuestError',
      step: 'setns',
      code: 'EINVAL',
    });
    await expect(spawnGuest('/bin/true', { user, netns: 0 })).rejects.toMatchObject({
      step: 'setns',
      message: expect.stringMatching(/not refer to a network namespace/),
    });
    await bad({ oomScoreAdj: 1001 }, { code: 'ERR_OUT_OF_RANGE', option: 'oomScoreAdj' });
    await bad({ oomScoreAdj: 1.5 }, { code: 'ERR_OUT_OF_RANGE', option: 'oomScoreAdj' });
    await bad({ nice: 20 }, { code: 'ERR_OUT_OF_RANGE', option: 'nice' });
    await bad({ nice: '5' as never }, { code: 'ERR_INVALID_ARG_TYPE', option: 'nice' });
    expect(childrenOf()).toEqual([]);
  });

  it("refuses a hard limit above this process's own without CAP_SYS_RESOURCE", async () => {
    // A daemon without CAP_SYS_RESOURCE, whatever this process holds.
    const result = await runDaemon(['setpriv', '--bounding-set', '-sys_resource', '--inh-caps', '-all'], {
      file: '/bin/true',
      options: { user, rlimits: { nofile: [1024, 'unlimited'] } },
    });
    expect(result).toMatchObject({ ok: false, children: 0, error: { name: 'RangeError', code: 'ERR_CAPSPAWN_RLIMIT_ABOVE_HARD' } });
  });
});
