// Every launch observable on node:diagnostics_channel: the tracing channel capspawn:spawn
// (start, end, error) and capspawn:exit, with environment variable names but never values.
import { channel, tracingChannel } from 'node:diagnostics_channel';
import { existsSync, mkdtempSync, rmdirSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import type { Identity } from '../lib/identity.js';
import { spawnGuest } from '../lib/index.js';
import { traceStart } from '../lib/launch-trace.js';
import type { NormalizedOptions } from '../lib/options.js';
import { FIXTURE_GROUPS, FIXTURE_USERS, gidOf, isRoot, notRootReason, uidOf } from './support/fixtures.js';

const user = FIXTURE_USERS.guest.name;
const unified = '/sys/fs/cgroup/unified';
const cgroupRoot = existsSync(join(unified, 'cgroup.procs')) ? unified : '/sys/fs/cgroup';
const SECRET = 'hunter2-do-not-publish';

describe.runIf(isRoot)(`diagnostics_channel (${notRootReason})`, () => {
  const events: [string, Record<string, unknown>][] = [];
  const spawn = tracingChannel('capspawn:spawn');
  const handlers = {
    start: (m: unknown) => events.push(['start', structuredClone({ ...(m as object) })]),
    end: (m: unknown) => events.push(['end', { ...(m as object) }]),
    asyncStart: () => {},
    asyncEnd: () => {},
    error: (m: unknown) => events.push(['error', { ...(m as object) }]),
  };
  const onExit = (m: unknown) => events.push(['exit', { ...(m as object) }]);
  const subscribe = () => {
    spawn.subscribe(handlers);
    channel('capspawn:exit').subscribe(onExit);
  };
  afterEach(() => {
    spawn.unsubscribe(handlers);
    channel('capspawn:exit').unsubscribe(onExit);
    events.length = 0;
  });

  it('publishes start, end and exit with every field; environment names only', async () => {
    subscribe();
    const guest = await spawnGuest('/bin/sh', ['-c', 'exit 3'], {
      user,
      supplementaryGroups: [FIXTURE_GROUPS.extra],
      caps: ['net_admin'],
      env: { API_TOKEN: SECRET },
      cgroup: { parent: cgroupRoot },
      stdio: 'ignore',
    });
    await guest.exited;
    await guest.treeExited;
    expect(events.map(([kind]) => kind)).toEqual(['start', 'end', 'exit']);
    const [[, start], [, end], [, exit]] = events as [
      [string, Record<string, unknown>],
      [string, Record<string, unknown>],
      [string, Record<string, unknown>],
    ];
    const expected = {
      program: '/bin/sh',
      args: ['/bin/sh', '-c', 'exit 3'],
      uid: uidOf(user),
      gid: gidOf(FIXTURE_GROUPS.primary),
      groups: [gidOf(FIXTURE_GROUPS.extra)],
      caps: ['CAP_NET_ADMIN'],
      cgroup: { parent: cgroupRoot },
      env: expect.arrayContaining(['API_TOKEN', 'PATH', 'HOME']),
    };
    expect(start).toEqual(expected);
    expect(end).toEqual({ ...expected, pid: guest.pid, timeToExec: expect.any(Number), cgroupPath: guest.cgroup });
    expect(end.timeToExec).toBeGreaterThan(0);
    expect(exit).toEqual({ pid: guest.pid, code: 3, signal: null, duration: expect.any(Number) });
    expect(exit.duration).toBeGreaterThanOrEqual(0);
    expect(JSON.stringify(events)).not.toContain(SECRET);
  });

  it('publishes error with the step and errno of a failed launch', async () => {
    subscribe();
    const env = { API_TOKEN: SECRET };
    const failure = await spawnGuest('/bin/true', [], { user, cwd: '/root', env, stdio: 'ignore' }).catch((e: unknown) => e);
    expect(events.map(([kind]) => kind)).toEqual(['start', 'error']);
    expect(events[1]?.[1]).toMatchObject({ program: '/bin/true', step: 'chdir', errno: -13, error: failure });
    expect(events[1]?.[1].env).toContain('API_TOKEN');
    expect(JSON.stringify(events)).not.toContain(SECRET);
  });

  it('publishes a joined cgroup as its path, and the signal that ended a guest', async () => {
    const dir = mkdtempSync(join(cgroupRoot, 'capspawn-trace-'));
    try {
      subscribe();
      const guest = await spawnGuest('/bin/sleep', ['30'], { user, cgroup: dir, stdio: 'ignore' });
      guest.kill('SIGKILL');
      await guest.exited;
      expect(events.map(([kind]) => kind)).toEqual(['start', 'end', 'exit']);
      expect(events[0]?.[1]).toMatchObject({ cgroup: dir });
      expect(events[1]?.[1]).not.toHaveProperty('cgroupPath');
      expect(events[2]?.[1]).toEqual({ pid: guest.pid, code: null, signal: 'SIGKILL', duration: expect.any(Number) });
    } finally {
      rmdirSync(dir);
    }
  });

  it('publishes error for a bare name with no directory to look in, which no child is made for', async () => {
    subscribe();
    // A guest PATH with no absolute directory leaves no path to try: no child is made.
    const env = { PATH: 'bin:' };
    const failure = await spawnGuest('capspawn-no-such-program', [], { user, env, stdio: 'ignore' }).catch((e: unknown) => e);
    expect(failure).toMatchObject({ step: 'execve', code: 'ENOENT' });
    expect(events.map(([kind]) => kind)).toEqual(['start', 'error']);
    expect(events[1]?.[1]).toMatchObject({ program: 'capspawn-no-such-program', step: 'execve', errno: -2, error: failure });
  });

  it('publishes nothing, and builds nothing, when no one subscribes', async () => {
    expect(spawn.start.hasSubscribers || spawn.end.hasSubscribers || spawn.error.hasSubscribers).toBe(false);
    const guest = await spawnGuest('/bin/true', [], { user, stdio: 'ignore' });
    await guest.exited;
    // What spawnGuest calls: no message is built, so there is no trace to finish.
    const options = { file: '/bin/true', caps: [], cgroup: undefined } as unknown as NormalizedOptions;
    const identity = { uid: 1, gid: 1, groups: [1] } as Identity;
    expect(traceStart(options, identity, new Map([['PATH', '/bin']]), ['/bin/true'])).toBeUndefined();
    spawn.subscribe(handlers);
    expect(traceStart(options, identity, new Map([['PATH', '/bin']]), ['/bin/true'])).toMatchObject({ message: { program: '/bin/true' } });
  });
});
