// The promise, checked from inside the child: its own /proc/self/status, fds and environment.
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { closeSync, openSync, readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { planGuest } from '../lib/index.js';
import { FIXTURE_GROUPS, FIXTURE_USERS, gidOf, isRoot, notRootReason, uidOf } from './support/fixtures.js';
import { daemonScript, inspectGuest, inspectPath, parseInspection, runGuest } from './support/guests.js';

const user = FIXTURE_USERS.guest.name;

describe.runIf(isRoot)(`credentials inside the guest (${notRootReason})`, () => {
  it('sets all four uids and gids to the target user', async () => {
    const seen = await inspectGuest({ user, primaryGroup: FIXTURE_GROUPS.net });
    const uid = uidOf(user);
    const gid = gidOf(FIXTURE_GROUPS.net);
    expect(seen.status.Uid).toBe(`${uid}\t${uid}\t${uid}\t${uid}`);
    expect(seen.status.Gid).toBe(`${gid}\t${gid}\t${gid}\t${gid}`);
  });

  it("gives the user's NSS groups by default, primary group included", async () => {
    const seen = await inspectGuest({ user });
    const expected = [gidOf(FIXTURE_GROUPS.primary), gidOf(FIXTURE_GROUPS.extra)].sort((a, b) => a - b);
    expect(seen.status.Groups?.split(' ').filter(Boolean).map(Number)).toEqual(expected);
  });

  it('gives exactly the supplementary groups asked for, by name and number', async () => {
    const seen = await inspectGuest({ user, supplementaryGroups: [FIXTURE_GROUPS.net, gidOf(FIXTURE_GROUPS.other), 4242] });
    const expected = [gidOf(FIXTURE_GROUPS.net), gidOf(FIXTURE_GROUPS.other), 4242].sort((a, b) => a - b);
    expect(seen.status.Groups?.trim()).toBe(expected.join(' '));
  });

  it("extraGroups adds to the user's NSS groups: each gid once, as the kernel and id show them", async () => {
    const extra = [FIXTURE_GROUPS.net, FIXTURE_GROUPS.extra, gidOf(FIXTURE_GROUPS.net)];
    const seen = await inspectGuest({ user, extraGroups: extra });
    const expected = [FIXTURE_GROUPS.primary, FIXTURE_GROUPS.extra, FIXTURE_GROUPS.net].map(gidOf).sort((a, b) => a - b);
    expect(seen.status.Groups?.trim()).toBe(expected.join(' '));
    // id -G: the effective gid first, then the supplementary groups without it.
    const id = await runGuest('/usr/bin/id', ['-G'], { user, extraGroups: extra });
    expect(
      id.stdout
        .trim()
        .split(' ')
        .map(Number)
        .sort((a, b) => a - b),
    ).toEqual(expected);
  });

  it('extraGroups adds to an explicit list; the primary group stays out unless named', async () => {
    const seen = await inspectGuest({
      user,
      primaryGroup: FIXTURE_GROUPS.net,
      supplementaryGroups: [],
      extraGroups: [FIXTURE_GROUPS.other],
    });
    expect(seen.status.Groups?.trim()).toBe(String(gidOf(FIXTURE_GROUPS.other)));
    const id = await runGuest('/usr/bin/id', ['-G'], {
      user,
      primaryGroup: FIXTURE_GROUPS.net,
      supplementaryGroups: [],
      extraGroups: [FIXTURE_GROUPS.other],
    });
    expect(id.stdout).toBe(`${gidOf(FIXTURE_GROUPS.net)} ${gidOf(FIXTURE_GROUPS.other)}\n`);
  });

  it('gives no supplementary group for [], though the parent has some', async () => {
    expect(process.getgroups?.().length).toBeGreaterThan(0);
    const seen = await inspectGuest({ user, supplementaryGroups: [] });
    expect(seen.status.Groups).toBe('');
  });

  it('grants exactly CAP_NET_ADMIN: CapInh, CapPrm, CapEff and CapAmb 0000000000001000', async () => {
    const seen = await inspectGuest({ user, caps: ['net_admin'] });
    for (const set of ['CapInh', 'CapPrm', 'CapEff', 'CapAmb']) expect(seen.status[set], set).toBe('0000000000001000');
  });

  it('grants CAP_NET_ADMIN and CAP_NET_RAW: 0000000000003000', async () => {
    const seen = await inspectGuest({ user, caps: ['CAP_NET_ADMIN', '+net_raw'] });
    for (const set of ['CapInh', 'CapPrm', 'CapEff', 'CapAmb']) expect(seen.status[set], set).toBe('0000000000003000');
  });

  it('grants a capability above 31, CAP_SYSLOG: 0000000400000000', async () => {
    const seen = await inspectGuest({ user, caps: [34] });
    for (const set of ['CapInh', 'CapPrm', 'CapEff', 'CapAmb']) expect(seen.status[set], set).toBe('0000000400000000');
  });

  it('grants no capability when none is asked', async () => {
    const seen = await inspectGuest({ user });
    for (const set of ['CapInh', 'CapPrm', 'CapEff', 'CapAmb']) expect(seen.status[set], set).toBe('0000000000000000');
  });

  it('limits the bounding set to the asked capabilities with limitBoundingSet', async () => {
    const seen = await inspectGuest({ user, caps: ['net_admin'], limitBoundingSet: true });
    expect(seen.status.CapBnd).toBe('0000000000001000');
    const unlimited = await inspectGuest({ user, caps: ['net_admin'] });
    expect(unlimited.status.CapBnd).not.toBe('0000000000001000');
  });

  it('sets no_new_privs only when asked', async () => {
    expect((await inspectGuest({ user, noNewPrivileges: true })).status.NoNewPrivs).toBe('1');
    expect((await inspectGuest({ user })).status.NoNewPrivs).toBe('0');
  });

  it('runs a uid 0 target with allowRoot holding only the asked capabilities after execve', async () => {
    const seen = await inspectGuest({ user: 0, primaryGroup: 0, supplementaryGroups: [], caps: ['net_admin'], allowRoot: true });
    expect(seen.status.Uid).toBe('0\t0\t0\t0');
    expect(seen.status.CapEff).toBe('0000000000001000');
    expect(seen.status.CapPrm).toBe('0000000000001000');
  });

  it('leaves only fds 0, 1 and 2 open, though the parent holds files, sockets and directories without close-on-exec', async () => {
    // A daemon inherits fds 3-5 without close-on-exec (a file, a directory, a socket).
    const file = openSync('/etc/hostname', 'r');
    const dir = openSync('/etc', 'r');
    try {
      const daemon = spawn(process.execPath, [daemonScript, JSON.stringify({ file: inspectPath(), options: { user } })], {
        stdio: ['ignore', 'pipe', 'inherit', file, dir, 'pipe'],
      });
      let out = '';
      daemon.stdout?.setEncoding('utf8').on('data', (d: string) => (out += d));
      await once(daemon, 'close');
      const result = JSON.parse(out) as { ok: boolean; stdout: string; parentFds: number[] };
      expect(result.parentFds).toEqual(expect.arrayContaining([3, 4, 5]));
      expect(parseInspection(result.stdout).fds.map((f) => f.fd)).toEqual([0, 1, 2]);
    } finally {
      closeSync(file);
      closeSync(dir);
    }
  });

  it('passes an extra stdio slot, and only it', async () => {
    const fd = openSync('/etc/hostname', 'r');
    try {
      const seen = await inspectGuest({ user, stdio: ['ignore', 'pipe', 'pipe', 'ignore', fd] });
      expect(seen.fds.map((f) => f.fd)).toEqual([0, 1, 2, 4]);
      expect(seen.fds.find((f) => f.fd === 4)?.target).toBe('/etc/hostname');
      expect(seen.fds.find((f) => f.fd === 0)?.target).toBe('/dev/null');
    } finally {
      closeSync(fd);
    }
  });

  it('resets ignored and blocked signals: SigIgn and SigBlk are 0 though Node ignores SIGPIPE', async () => {
    const own = readFileSync('/proc/self/status', 'latin1');
    expect(/^SigIgn:\s*(\S+)/m.exec(own)?.[1]).not.toBe('0000000000000000');
    const seen = await inspectGuest({ user });
    expect(seen.status.SigIgn).toBe('0000000000000000');
    expect(seen.status.SigBlk).toBe('0000000000000000');
  });

  it('gives exactly the computed environment, byte for byte', async () => {
    process.env.CAPSPAWN_TEST_PASSED = 'passed\nwith=newline ✓';
    process.env.LD_PRELOAD_CANARY_FOR_GLOB = 'x';
    try {
      const options = {
        user,
        env: { CUTTLEFISH_INSTANCE: '85', MULTI: 'a=b\nc', UTF: 'ümlaut ✓' },
        passEnv: ['CAPSPAWN_TEST_*', 'LD_*'],
      };
      const plan = await planGuest(inspectPath(), options);
      const seen = await inspectGuest(options);
      const expected = Buffer.from(plan.env.map(([k, v]) => `${k}=${v}\0`).join(''), 'utf8');
      expect(seen.environBytes.equals(expected)).toBe(true);
      expect(seen.environ).toContain('CAPSPAWN_TEST_PASSED=passed\nwith=newline ✓');
      expect(seen.environ.some((e) => e.startsWith('LD_'))).toBe(false);
      expect(seen.environ.slice(0, 5)).toEqual([
        'PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin',
        'HOME=/nonexistent',
        `USER=${user}`,
        `LOGNAME=${user}`,
        'SHELL=/usr/sbin/nologin',
      ]);
    } finally {
      delete process.env.CAPSPAWN_TEST_PASSED;
      delete process.env.LD_PRELOAD_CANARY_FOR_GLOB;
    }
  });

  it('enters cwd as the target user, applies umask and starts a new session when detached', async () => {
    const seen = await inspectGuest({ user, cwd: '/tmp', umask: 0o027, detached: true });
    expect(seen.cwd).toBe('/tmp');
    expect(seen.umask).toBe(0o027);
    expect(seen.sid).toBe(seen.pid);
    const attached = await inspectGuest({ user });
    expect(attached.sid).not.toBe(attached.pid);
  });

  it('runs argv0 and the arguments as given, finding a bare name in PATH', async () => {
    const out = await runGuest('sh', ['-c', 'echo "$0|$1|$2"', 'one', 'two words'], { user, argv0: 'custom0' });
    expect(out).toMatchObject({ code: 0, stdout: 'one|two words|\n' });
    const argv0 = await runGuest('/bin/sh', ['-c', 'cat /proc/$$/cmdline | tr "\\0" " "'], { user, argv0: 'named-shell' });
    expect(argv0.stdout).toMatch(/^named-shell -c /);
  });
});
