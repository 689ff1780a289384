// A supervisor restarts: its guest trees, each in a cgroup of its own, are found and taken over
// by the next process (listGuests, adoptGuest).
import { execFile } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { adoptGuest, listGuests, spawnGuest } from '../lib/index.js';
import { ensureCliBuilt, statusLine } from './support/cli.js';
import { alive, FIXTURE_GROUPS, FIXTURE_USERS, gidOf, isRoot, notRootReason, uidOf } from './support/fixtures.js';

const user = FIXTURE_USERS.guest.name;
const unified = '/sys/fs/cgroup/unified';
const cgroupRoot = existsSync(join(unified, 'cgroup.procs')) ? unified : '/sys/fs/cgroup';
const daemon = new URL('./support/adopt-daemon.mjs', import.meta.url).pathname;
/** What the launching daemon asks for besides the user: none of it is the user's default. */
const asked = { primaryGroup: FIXTURE_GROUPS.net, supplementaryGroups: [FIXTURE_GROUPS.net, FIXTURE_GROUPS.other], caps: ['net_admin'] };

describe.runIf(isRoot)(`guests found again after the daemon restarts (${notRootReason}; creates cgroups)`, () => {
  const parent = join(cgroupRoot, `capspawn-test-adopt-${process.pid}`);
  let dir: string;
  beforeAll(() => {
    ensureCliBuilt();
    mkdirSync(parent);
    dir = mkdtempSync(join(tmpdir(), 'capspawn-adopt-'));
  });
  afterAll(async () => {
    for (const guest of listGuests(parent)) {
      const adopted = adoptGuest(guest.cgroup, { keep: false });
      await adopted.killTree();
      await adopted.treeExited;
    }
    rmdirSync(parent);
    rmSync(dir, { recursive: true });
  });

  it('a daemon launches a detached guest tree and exits; the next lists it, adopts it, sees its credentials, kills it and sees treeExited', async () => {
    const log = join(dir, 'guest.log');
    const { stdout } = await promisify(execFile)(process.execPath, [daemon, user, parent, log, JSON.stringify(asked)], {
      encoding: 'utf8',
    });
    const launched = JSON.parse(stdout) as { pid: number; cgroup: string };

    const found = listGuests(parent);
    expect(found).toHaveLength(1);
    const [guest] = found as [(typeof found)[number]];
    expect(guest).toMatchObject({ cgroup: launched.cgroup, name: launched.cgroup.slice(parent.length + 1), populated: true });
    expect(guest.pids).toContain(launched.pid);
    expect(guest.pids).toHaveLength(3);

    // The daemon launched it with the default (removed once its tree has exited): say so.
    const adopted = adoptGuest(guest.cgroup, { keep: false });
    const processes = await adopted.processes();
    expect(processes.map((p) => p.pid).sort()).toEqual([...guest.pids].sort());
    // Each process as the kernel shows it, read here from /proc/<pid>/status (not through the
    // library's reader), against what the daemon asked for; processes() must say the same.
    const uid = String(uidOf(user));
    const gid = String(gidOf(FIXTURE_GROUPS.net));
    const groups = asked.supplementaryGroups
      .map(gidOf)
      .sort((a, b) => a - b)
      .join(' ');
    const netAdmin = '0000000000001000';
    for (const { pid, credentials } of processes) {
      const status = readFileSync(`/proc/${pid}/status`, 'latin1');
      const line = (key: string) => statusLine(status, key);
      expect({
        pid,
        Uid: line('Uid'),
        Gid: line('Gid'),
        Groups: line('Groups'),
        CapInh: line('CapInh'),
        CapPrm: line('CapPrm'),
        CapEff: line('CapEff'),
        CapAmb: line('CapAmb'),
      }).toEqual({
        pid,
        Uid: [uid, uid, uid, uid].join('\t'),
        Gid: [gid, gid, gid, gid].join('\t'),
        Groups: groups,
        CapInh: netAdmin,
        CapPrm: netAdmin,
        CapEff: netAdmin,
        CapAmb: netAdmin,
      });
      const { uid: u, gid: g, capabilities: c } = credentials;
      expect({
        uid: [u.real, u.effective, u.saved, u.filesystem].join('\t'),
        gid: [g.real, g.effective, g.saved, g.filesystem].join('\t'),
        groups: credentials.groups.join(' '),
        caps: [c.inheritable.hex, c.permitted.hex, c.effective.hex, c.ambient.hex],
      }).toEqual({ uid: line('Uid'), gid: line('Gid'), groups: line('Groups'), caps: [netAdmin, netAdmin, netAdmin, netAdmin] });
    }

    expect(await adopted.killTree()).toBe(true);
    await adopted.treeExited;
    expect(existsSync(launched.cgroup)).toBe(false);
    expect(alive([launched.pid])).toEqual([]);
    // What the tree said stays with the supervisor: its log file.
    expect(readFileSync(log, 'utf8')).toBe('started\n');
    expect(listGuests(parent)).toEqual([]);
  });

  it('a kept empty cgroup is listed as not populated, and adopting it leaves it unless keep: false', async () => {
    const name = `kept-${process.pid}`;
    const kept = join(parent, name);
    const guest = await spawnGuest('/bin/true', [], { user, cgroup: { parent, name, keep: true }, stdio: 'ignore' });
    await guest.treeExited;
    expect(listGuests(parent)).toEqual([{ cgroup: kept, name, pids: [], populated: false }]);
    await adoptGuest(kept).treeExited;
    expect(existsSync(join(kept, 'cgroup.events'))).toBe(true);
    await adoptGuest(kept, { keep: true }).treeExited;
    expect(existsSync(kept)).toBe(true);
    await adoptGuest(kept, { keep: false }).treeExited;
    expect(existsSync(kept)).toBe(false);
    expect(() => adoptGuest(parent, { keep: 'no' as unknown as boolean })).toThrow(
      expect.objectContaining({ code: 'ERR_INVALID_ARG_TYPE', option: 'options.keep' }),
    );
  });

  it('refuses a path that is not a cgroup v2 directory, and the root of the hierarchy', () => {
    expect(() => adoptGuest('/tmp')).toThrow(expect.objectContaining({ code: 'ERR_CAPSPAWN_NOT_CGROUP2', option: 'cgroupPath' }));
    expect(() => adoptGuest(cgroupRoot)).toThrow(expect.objectContaining({ code: 'ERR_INVALID_ARG_VALUE', option: 'cgroupPath' }));
    expect(() => listGuests('relative')).toThrow(expect.objectContaining({ option: 'parent' }));
  });
});
