import { closeSync, mkdtempSync, openSync, readFileSync, readSync, rmSync, writeFileSync } from 'node:fs';
import { getPriority, tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import {
  innermostMount,
  parseCgroup,
  parseFdinfo,
  parseLimits,
  parseMountinfo,
  parsePlacement,
  parseProcStatus,
  parseStatLine,
  pidsHoldingFd,
  readKernelLimit,
  readOwnLimits,
  readOwnOomScoreAdj,
  readOwnStat,
  readOwnMounts,
  readPlacement,
  readProcStatus,
  RLIM_INFINITY,
  RLIMIT_RESOURCES,
} from '../lib/procfs.js';

/** A file captured from this project's CI machine with `cat /proc/self/<name>` (see test/fixtures/proc/). */
function sample(name: string): string {
  return readFileSync(new URL(`fixtures/proc/${name}`, import.meta.url), 'latin1');
}

const handMade = `Name:\tqemu
State:\tS (sleeping)
Pid:\t42
PPid:\t1
Uid:\t1000\t1001\t1002\t1003
Gid:\t2000\t2001\t2002\t2003
Groups:\t27 104 
NoNewPrivs:\t1
Seccomp:\t2
SigBlk:\t0000000000000000
SigIgn:\t0000000000001000
SigCgt:\t0000000000000002
CapInh:\t0000000000001000
CapPrm:\t0000000000003000
CapEff:\t0000000000000000
CapBnd:\t000001ffffffffff
CapAmb:\t0000000400001000
`;

describe('parseProcStatus', () => {
  it('reads the four ids, groups and the five capability sets', () => {
    const s = parseProcStatus(handMade);
    expect(s.uid).toEqual({ real: 1000, effective: 1001, saved: 1002, filesystem: 1003 });
    expect(s.gid).toEqual({ real: 2000, effective: 2001, saved: 2002, filesystem: 2003 });
    expect(s.groups).toEqual([27, 104]);
    expect(s.capabilities.inheritable.names).toEqual(['CAP_NET_ADMIN']);
    expect(s.capabilities.permitted.names).toEqual(['CAP_NET_ADMIN', 'CAP_NET_RAW']);
    expect(s.capabilities.effective.mask).toBe(0n);
    expect(s.capabilities.ambient.names).toEqual(['CAP_NET_ADMIN', 'CAP_SYSLOG']);
    expect(s.capabilities.ambient.hex).toBe('0000000400001000');
    expect(s.capabilities.bounding.names).toHaveLength(41);
    expect(s.noNewPrivileges).toBe(true);
    expect(s.seccomp).toBe(2);
    expect(s.signals.ignored).toBe(0x1000n);
    expect(s.pid).toBe(42);
  });

  it('reads an empty Groups line as no groups', () => {
    expect(parseProcStatus('Groups:\t\n').groups).toEqual([]);
  });

  it('reads this process', async () => {
    const self = await readProcStatus('self');
    expect(self.pid).toBe(process.pid);
    expect(self.uid.real).toBe(process.getuid?.());
  });
});

describe('parseProcStatus on a real file', () => {
  it('reads root with the full bounding set and no ambient capabilities', () => {
    const s = parseProcStatus(sample('status'));
    expect(s.name).toBe('cat');
    expect(s.uid).toEqual({ real: 0, effective: 0, saved: 0, filesystem: 0 });
    expect(s.groups).toEqual([]);
    expect(s.capabilities.bounding.hex).toBe('000001fffeffffff');
    expect(s.capabilities.bounding.names).toContain('CAP_SYS_ADMIN');
    expect(s.capabilities.ambient.mask).toBe(0n);
    expect(s.noNewPrivileges).toBe(false);
    expect(s.fields.CapEff).toBe('000001fffeffffff');
  });
});

describe('parseLimits', () => {
  it("gives one row per RLIMIT number, in the kernel's order, unlimited as RLIM_INFINITY", () => {
    const rows = parseLimits(sample('limits'));
    expect(rows).toHaveLength(16);
    expect(rows[RLIMIT_RESOURCES.cpu]).toEqual({ label: 'Max cpu time', soft: RLIM_INFINITY, hard: RLIM_INFINITY });
    expect(rows[RLIMIT_RESOURCES.stack]).toEqual({ label: 'Max stack size', soft: 8388608n, hard: RLIM_INFINITY });
    expect(rows[RLIMIT_RESOURCES.core]).toEqual({ label: 'Max core file size', soft: 0n, hard: RLIM_INFINITY });
    expect(rows[RLIMIT_RESOURCES.nofile]).toEqual({ label: 'Max open files', soft: 20000n, hard: 20000n });
    // No units column for the nice and real-time priority rows.
    expect(rows[RLIMIT_RESOURCES.nice]).toEqual({ label: 'Max nice priority', soft: 0n, hard: 0n });
    expect(rows[RLIMIT_RESOURCES.rttime]?.label).toBe('Max realtime timeout');
  });

  it('reads limits set by prlimit(1): soft below hard, an unlimited stack', () => {
    const rows = parseLimits(sample('limits-prlimit'));
    expect(rows[RLIMIT_RESOURCES.nofile]).toEqual({ label: 'Max open files', soft: 1024n, hard: 4096n });
    expect(rows[RLIMIT_RESOURCES.stack]).toMatchObject({ soft: RLIM_INFINITY, hard: RLIM_INFINITY });
  });

  it('keeps limits above 2^53 exact', () => {
    const text =
      'Limit                     Soft Limit           Hard Limit           Units     \n' +
      'Max cpu time              18446744073709551614 18446744073709551614 seconds   \n';
    expect(parseLimits(text)[0]?.hard).toBe(RLIM_INFINITY - 1n);
  });

  it('refuses a row without a hard limit', () => {
    expect(() => parseLimits('Limit\nMax cpu time              unlimited\n')).toThrow(/no limit/);
  });

  it('reads this process', () => {
    expect(readOwnLimits()).toHaveLength(16);
  });
});

describe('parseMountinfo', () => {
  it('reads every mount of a real file, optional fields included', () => {
    const mounts = parseMountinfo(sample('mountinfo'));
    expect(mounts).toHaveLength(sample('mountinfo').trim().split('\n').length);
    expect(mounts.find((m) => m.type === 'cgroup2')).toEqual({
      id: 41,
      parent: 31,
      root: '/',
      point: '/sys/fs/cgroup/unified',
      options: ['rw', 'relatime'],
      type: 'cgroup2',
      source: 'cgroup2',
      superOptions: ['rw'],
    });
    // `shared:1` is an optional field before the separator.
    expect(mounts.find((m) => m.point === '/run/netns')).toMatchObject({ root: '/run/netns', type: 'ext4', source: '/dev/vda' });
  });

  it('decodes the octal escapes of a space (\\040), a tab (\\011) and a backslash (\\134)', () => {
    const mounts = parseMountinfo(sample('mountinfo-escapes'));
    const points = mounts.map((m) => m.point).filter((p) => p.startsWith('/tmp/'));
    expect(points.map((p) => p.replace(/^\/tmp\/procfs-fx\.[^/]+\//, ''))).toEqual(['a b', 'tab\there', 'back\\slash']);
    expect(mounts.find((m) => m.point.endsWith('/a b'))?.source).toBe('src with space');
    expect(mounts.find((m) => m.point.endsWith('/tab\there'))?.type).toBe('cgroup2');
  });

  it('decodes a newline and leaves a backslash that starts no escape', () => {
    const [mount] = parseMountinfo('90 1 0:50 /a\\012b /mnt/x\\012y\\134\\04 rw shared:7 master:2 - tmpfs a\\040b rw,size=4k\n');
    expect(mount).toMatchObject({ root: '/a\nb', point: '/mnt/x\ny\\\\04', source: 'a b', superOptions: ['rw', 'size=4k'] });
  });

  it('finds the innermost mount that holds a path, of a type if asked', () => {
    const mounts = parseMountinfo(sample('mountinfo'));
    expect(innermostMount(mounts, '/sys/fs/cgroup/unified/a/b', 'cgroup2')?.point).toBe('/sys/fs/cgroup/unified');
    expect(innermostMount(mounts, '/sys/fs/cgroup/unifiedx')?.point).toBe('/sys/fs/cgroup');
    expect(innermostMount(mounts, '/sys/fs/cgroup/memory', 'cgroup2')).toBeUndefined();
    expect(innermostMount(mounts, '/etc/passwd')?.point).toBe('/');
    const escaped = parseMountinfo(sample('mountinfo-escapes'));
    const spaced = escaped.find((m) => m.point.endsWith('/a b'));
    expect(innermostMount(escaped, `${spaced?.point}/sub`)).toBe(spaced);
  });

  it('reads this process', () => {
    expect(readOwnMounts().some((m) => m.point === '/')).toBe(true);
  });
});

describe('parseStatLine', () => {
  it('reads a real line', () => {
    const stat = parseStatLine(sample('stat'));
    expect(stat).toMatchObject({ pid: 14155, comm: 'cat', state: 'R', ppid: 14148, nice: 0 });
    expect(stat.fields[15]).toBe('20'); // field 18, priority
  });

  it('cuts a command name holding ") " and "(" at the last ")"', () => {
    const stat = parseStatLine(sample('stat-odd-comm'));
    expect(stat).toMatchObject({ pid: 14322, comm: 'w) 1 (x) S 2', state: 'S', ppid: 14320, nice: 3 });
  });

  it('reads a hand-made line with a trailing newline and a negative nice value', () => {
    const fields = Array.from({ length: 50 }, (_, i) => (i === 16 ? '-5' : String(i)));
    fields[0] = 'Z';
    const stat = parseStatLine(`7 ()) ) ${fields.join(' ')}\n`);
    expect(stat).toMatchObject({ pid: 7, comm: ')) ', state: 'Z', ppid: 1, nice: -5 });
  });

  it('refuses a line without a command name', () => {
    expect(() => parseStatLine('7 R 1')).toThrow(/no command name/);
  });
});

describe('parseCgroup', () => {
  it('reads the v2 path among the v1 lines of a hybrid host', () => {
    expect(parseCgroup(sample('cgroup'))).toBe('/');
  });

  it('keeps a path with spaces and colons whole', () => {
    expect(parseCgroup('1:name=systemd:/x\n0::/a b/c:d\n')).toBe('/a b/c:d');
  });

  it('has none on a v1-only host', () => {
    expect(parseCgroup('4:memory:/x\n')).toBeUndefined();
  });
});

describe('parseFdinfo', () => {
  it('reads the keys of a tun fd', () => {
    const text = 'pos:\t0\nflags:\t02\nmnt_id:\t24\nino:\t1043\niff:\ttap0\n';
    expect(parseFdinfo(text)).toEqual({ pos: '0', flags: '02', mnt_id: '24', ino: '1043', iff: 'tap0' });
  });
});

describe('pidsHoldingFd', () => {
  it('finds this process by a descriptor of its own, and no process for what none holds', () => {
    const dir = mkdtempSync(join(tmpdir(), 'capspawn-fdinfo-'));
    const file = join(dir, 'data');
    writeFileSync(file, Buffer.alloc(20_000));
    const fd = openSync(file, 'r');
    try {
      // An offset no other descriptor is likely to stand at: fdinfo's `pos:`.
      readSync(fd, Buffer.alloc(12_347), 0, 12_347, null);
      expect(pidsHoldingFd((info) => info.pos === '12347')).toContain(process.pid);
      expect(pidsHoldingFd((info) => info.iff === 'capspawn-none0')).toEqual([]);
    } finally {
      closeSync(fd);
      rmSync(dir, { recursive: true });
    }
  });
});

describe('own and kernel values', () => {
  it('reads the kernel limits, this process nice value and oom_score_adj', () => {
    expect(readKernelLimit('cap_last_cap')).toBe(Number(readFileSync('/proc/sys/kernel/cap_last_cap', 'latin1')));
    expect(readKernelLimit('ngroups_max')).toBe(65536);
    expect(readOwnStat()).toMatchObject({ pid: process.pid, nice: getPriority() });
    expect(readOwnOomScoreAdj()).toBe(Number(readFileSync('/proc/self/oom_score_adj', 'latin1')));
  });
});

describe('parsePlacement', () => {
  it('reads cgroup, limits, oom_score_adj and nice from real files', () => {
    const placement = parsePlacement({
      cgroup: sample('cgroup'),
      limits: sample('limits-prlimit'),
      oomScoreAdj: '-17\n',
      stat: sample('stat-odd-comm'),
      namespaces: { net: 'net:[4026531840]' },
    });
    expect(placement).toMatchObject({ cgroup: '/', oomScoreAdj: -17, nice: 3, namespaces: { net: 'net:[4026531840]' } });
    expect(placement.limits.nofile).toEqual({ soft: 1024, hard: 4096 });
    expect(placement.limits.stack).toEqual({ soft: 'unlimited', hard: 'unlimited' });
    expect(Object.keys(placement.limits)).toEqual(Object.keys(RLIMIT_RESOURCES));
  });

  it('reads this process', async () => {
    const placement = await readPlacement('self');
    expect(placement.limits.nofile.soft).toBeGreaterThan(0);
    expect(placement.namespaces.net).toMatch(/^net:\[\d+\]$/);
  });
});
