import { readdirSync, readFileSync } from 'node:fs';
import { readFile, readlink } from 'node:fs/promises';
import { capabilitiesInMask, capabilityHex, capabilityName } from './capabilities.js';

// One reader per /proc file: each parser is a pure function of the file's text (tested on
// samples taken from a real /proc, escapes included), each reader a line around it.

/** The four ids of a process, as the Uid: and Gid: lines give them. */
export interface IdQuad {
  /** Real id. */
  real: number;
  /** Effective id. */
  effective: number;
  /** Saved set-id. */
  saved: number;
  /** File-system id. */
  filesystem: number;
}

/** One capability set: the mask, its hex form as in /proc, and the names of its bits. */
export interface CapabilitySet {
  /** The set as a bit mask: bit 12 is CAP_NET_ADMIN. */
  mask: bigint;
  /** The 16 hex digits /proc shows: `0000000000001000`. */
  hex: string;
  /** Names of the capabilities in the set, ascending: `['CAP_NET_ADMIN']`. */
  names: string[];
}

/** The credential-related parts of /proc/<pid>/status. */
export interface ProcStatus {
  /** The command name (`Name:`). */
  name: string;
  /** `Pid:` */
  pid: number;
  /** `PPid:` */
  ppid: number;
  /** `State:`, e.g. `S (sleeping)`. */
  state: string;
  /** `Uid:` real, effective, saved and file-system uid. */
  uid: IdQuad;
  /** `Gid:` real, effective, saved and file-system gid. */
  gid: IdQuad;
  /** `Groups:` the supplementary groups. */
  groups: number[];
  /** The five capability sets. */
  capabilities: {
    /** `CapInh:` */
    inheritable: CapabilitySet;
    /** `CapPrm:` */
    permitted: CapabilitySet;
    /** `CapEff:` */
    effective: CapabilitySet;
    /** `CapBnd:` */
    bounding: CapabilitySet;
    /** `CapAmb:` */
    ambient: CapabilitySet;
  };
  /** `NoNewPrivs:` */
  noNewPrivileges: boolean;
  /** 0 disabled, 1 strict, 2 filter. */
  seccomp: number;
  /** Signal masks. */
  signals: {
    /** `SigBlk:` */
    blocked: bigint;
    /** `SigIgn:` */
    ignored: bigint;
    /** `SigCgt:` */
    caught: bigint;
  };
  /** Every line, by its key. */
  fields: Record<string, string>;
}

function quad(value: string | undefined): IdQuad {
  const [real = NaN, effective = NaN, saved = NaN, filesystem = NaN] = (value ?? '').split(/\s+/).map(Number);
  return { real, effective, saved, filesystem };
}

function capabilitySet(value: string | undefined): CapabilitySet {
  const mask = BigInt(`0x${value ?? '0'}`);
  return { mask, hex: capabilityHex(mask), names: capabilitiesInMask(mask).map(capabilityName) };
}

/** `Key:\tvalue` lines, as status and fdinfo have them, by key. */
function keyedLines(text: string): Record<string, string> {
  const fields: Record<string, string> = {};
  for (const line of text.split('\n')) {
    const colon = line.indexOf(':');
    if (colon > 0) fields[line.slice(0, colon)] = line.slice(colon + 1).trim();
  }
  return fields;
}

/** Parses the text of a /proc/<pid>/status file. */
export function parseProcStatus(text: string): ProcStatus {
  const fields = keyedLines(text);
  const hex = (key: string) => BigInt(`0x${fields[key] ?? '0'}`);
  return {
    name: fields.Name ?? '',
    pid: Number(fields.Pid),
    ppid: Number(fields.PPid),
    state: fields.State ?? '',
    uid: quad(fields.Uid),
    gid: quad(fields.Gid),
    groups: (fields.Groups ?? '').split(/\s+/).filter(Boolean).map(Number),
    capabilities: {
      inheritable: capabilitySet(fields.CapInh),
      permitted: capabilitySet(fields.CapPrm),
      effective: capabilitySet(fields.CapEff),
      bounding: capabilitySet(fields.CapBnd),
      ambient: capabilitySet(fields.CapAmb),
    },
    noNewPrivileges: fields.NoNewPrivs === '1',
    seccomp: Number(fields.Seccomp ?? 0),
    signals: { blocked: hex('SigBlk'), ignored: hex('SigIgn'), caught: hex('SigCgt') },
    fields,
  };
}

/**
 * Reads and parses /proc/<pid>/status of any process. For a guest, prefer
 * `guest.credentials()`, which cannot read a later process that reused the pid.
 */
export async function readProcStatus(pid: number | 'self'): Promise<ProcStatus> {
  return parseProcStatus(await readFile(`/proc/${pid}/status`, 'latin1'));
}

/** This process's /proc/self/status, read now. */
export function readOwnStatus(): ProcStatus {
  return parseProcStatus(readFileSync('/proc/self/status', 'latin1'));
}

const kernelLimits = new Map<string, number>();

/**
 * A limit of the running kernel from /proc/sys/kernel (`cap_last_cap`, `ngroups_max`), read
 * once: it cannot change while the kernel runs.
 */
export function readKernelLimit(name: 'cap_last_cap' | 'ngroups_max'): number {
  let value = kernelLimits.get(name);
  if (value === undefined) {
    value = Number.parseInt(readFileSync(`/proc/sys/kernel/${name}`, 'latin1'), 10);
    kernelLimits.set(name, value);
  }
  return value;
}

/** This process's /proc/self/oom_score_adj, read now. */
export function readOwnOomScoreAdj(): number {
  return Number(readFileSync('/proc/self/oom_score_adj', 'latin1').trim());
}

/** Resource limits by their prlimit(1) names, with the kernel's RLIMIT_* numbers. */
export const RLIMIT_RESOURCES = {
  /** RLIMIT_CPU: CPU time, seconds. */
  cpu: 0,
  /** RLIMIT_FSIZE: largest file written, bytes. */
  fsize: 1,
  /** RLIMIT_DATA: data segment, bytes. */
  data: 2,
  /** RLIMIT_STACK: stack, bytes. */
  stack: 3,
  /** RLIMIT_CORE: core file, bytes. */
  core: 4,
  /** RLIMIT_RSS: resident set (not enforced by Linux), bytes. */
  rss: 5,
  /** RLIMIT_NPROC: processes of the user. */
  nproc: 6,
  /** RLIMIT_NOFILE: open file descriptors. */
  nofile: 7,
  /** RLIMIT_MEMLOCK: locked memory, bytes. */
  memlock: 8,
  /** RLIMIT_AS: address space, bytes. */
  as: 9,
  /** RLIMIT_LOCKS: file locks. */
  locks: 10,
  /** RLIMIT_SIGPENDING: queued signals. */
  sigpending: 11,
  /** RLIMIT_MSGQUEUE: POSIX message queues, bytes. */
  msgqueue: 12,
  /** RLIMIT_NICE: ceiling of the nice value (20 - limit). */
  nice: 13,
  /** RLIMIT_RTPRIO: real-time priority. */
  rtprio: 14,
  /** RLIMIT_RTTIME: real-time CPU time, microseconds. */
  rttime: 15,
} as const;

/** A resource limit name as prlimit(1) spells it: `nofile`, `memlock`, ... */
export type RlimitName = keyof typeof RLIMIT_RESOURCES;

/** The name of the resource limit with the kernel's number `resource`, if it is one of ours. */
export function rlimitName(resource: number): RlimitName | undefined {
  return (Object.keys(RLIMIT_RESOURCES) as RlimitName[]).find((name) => RLIMIT_RESOURCES[name] === resource);
}

/** RLIM_INFINITY */
export const RLIM_INFINITY = 2n ** 64n - 1n;

/** One row of /proc/<pid>/limits; `unlimited` is RLIM_INFINITY. */
export interface LimitRow {
  /** The kernel's label: `Max open files`. */
  label: string;
  soft: bigint;
  hard: bigint;
}

function limitNumber(text: string | undefined, line: string): bigint {
  if (text === 'unlimited') return RLIM_INFINITY;
  if (text === undefined || !/^\d+$/.test(text)) throw new Error(`/proc/<pid>/limits: no limit in "${line}"`);
  return BigInt(text);
}

/**
 * Parses the text of /proc/<pid>/limits into its rows, indexed by RLIMIT number: the kernel
 * prints them in that order, the label padded to 25 columns (fs/proc/base.c, lnames[]).
 */
export function parseLimits(text: string): LimitRow[] {
  return text
    .split('\n')
    .slice(1)
    .filter((line) => line.trim() !== '')
    .map((line) => {
      const [soft, hard] = line.slice(26).trim().split(/\s+/);
      return { label: line.slice(0, 25).trim(), soft: limitNumber(soft, line), hard: limitNumber(hard, line) };
    });
}

/** This process's resource limits, by RLIMIT number, read now. */
export function readOwnLimits(): LimitRow[] {
  return parseLimits(readFileSync('/proc/self/limits', 'latin1'));
}

/** A mount from /proc/<pid>/mountinfo (proc(5)), its escapes decoded. */
export interface Mount {
  /** Mount ID. */
  id: number;
  /** Parent mount ID. */
  parent: number;
  /** The directory of the file system that forms the root of this mount. */
  root: string;
  /** The mount point. */
  point: string;
  /** Per-mount options: `rw`, `nosuid`, ... */
  options: string[];
  /** File-system type: `cgroup2`. */
  type: string;
  /** Mount source. */
  source: string;
  /** Per-superblock options. */
  superOptions: string[];
}

/** Spaces, tabs, newlines and backslashes in mountinfo's paths are octal escapes (fs/proc_namespace.c, mangle). */
function unescapeOctal(text: string): string {
  return text.replace(/\\([0-7]{3})/g, (_, octal: string) => String.fromCharCode(Number.parseInt(octal, 8)));
}

/** Parses the text of /proc/<pid>/mountinfo: one mount a line, optional fields ended by `-`. */
export function parseMountinfo(text: string): Mount[] {
  const mounts: Mount[] = [];
  for (const line of text.split('\n')) {
    const fields = line.split(' ');
    const dash = fields.indexOf('-', 6);
    if (dash < 0) continue;
    mounts.push({
      id: Number(fields[0]),
      parent: Number(fields[1]),
      root: unescapeOctal(fields[3] ?? ''),
      point: unescapeOctal(fields[4] ?? ''),
      options: (fields[5] ?? '').split(','),
      type: unescapeOctal(fields[dash + 1] ?? ''),
      source: unescapeOctal(fields[dash + 2] ?? ''),
      superOptions: unescapeOctal(fields[dash + 3] ?? '').split(','),
    });
  }
  return mounts;
}

/** This process's mounts, read now. */
export function readOwnMounts(): Mount[] {
  return parseMountinfo(readFileSync('/proc/self/mountinfo', 'latin1'));
}

/** The innermost of `mounts` (of `type`, if given) that holds the absolute path `path`. */
export function innermostMount(mounts: readonly Mount[], path: string, type?: string): Mount | undefined {
  let best: Mount | undefined;
  for (const mount of mounts) {
    if (type !== undefined && mount.type !== type) continue;
    const { point } = mount;
    const holds = path === point || path.startsWith(point === '/' ? '/' : `${point}/`);
    if (holds && (best === undefined || point.length >= best.point.length)) best = mount;
  }
  return best;
}

/** The fields of /proc/<pid>/stat that capspawn uses (proc(5)). */
export interface StatLine {
  /** Field 1. */
  pid: number;
  /** Field 2, without its parentheses: the command name, which may hold spaces and `)`. */
  comm: string;
  /** Field 3: `R`, `S`, `Z`, ... */
  state: string;
  /** Field 4. */
  ppid: number;
  /** Field 19. */
  nice: number;
  /** Every field from 3 on, as text: `fields[0]` is field 3. */
  fields: string[];
}

/** Parses a /proc/<pid>/stat line. The command name is cut at the last `)`, as no later field holds one. */
export function parseStatLine(text: string): StatLine {
  const open = text.indexOf(' (');
  const close = text.lastIndexOf(')');
  if (open < 0 || close < open) throw new Error(`/proc/<pid>/stat: no command name in "${text.slice(0, 80)}"`);
  const fields = text
    .slice(close + 2)
    .trim()
    .split(' ');
  return {
    pid: Number(text.slice(0, open)),
    comm: text.slice(open + 2, close),
    state: fields[0] ?? '',
    ppid: Number(fields[1]),
    nice: Number(fields[16]),
    fields,
  };
}

/** This process's /proc/self/stat, read now. */
export function readOwnStat(): StatLine {
  return parseStatLine(readFileSync('/proc/self/stat', 'latin1'));
}

/** The cgroup v2 path in the text of /proc/<pid>/cgroup (its `0::` line), relative to the cgroup2 mount. */
export function parseCgroup(text: string): string | undefined {
  return /^0::(.*)$/m.exec(text)?.[1];
}

/** The cgroup v2 path of process `pid`, read now. */
export function readCgroupPath(pid: number | 'self'): string | undefined {
  return parseCgroup(readFileSync(`/proc/${pid}/cgroup`, 'latin1'));
}

/** Parses the text of /proc/<pid>/fdinfo/<fd> (proc(5)): its `key:\tvalue` lines, by key. */
export function parseFdinfo(text: string): Record<string, string> {
  return keyedLines(text);
}

/**
 * The pids with an open descriptor whose /proc/<pid>/fdinfo/<fd> `holds` accepts; processes
 * and descriptors that go away (or cannot be read) meanwhile are passed over.
 */
export function pidsHoldingFd(holds: (fdinfo: Record<string, string>) => boolean): number[] {
  const pids: number[] = [];
  for (const pid of readdirSync('/proc').filter((e) => /^\d+$/.test(e))) {
    let fds: string[];
    try {
      fds = readdirSync(`/proc/${pid}/fdinfo`);
    } catch {
      continue;
    }
    const found = fds.some((fd) => {
      try {
        return holds(parseFdinfo(readFileSync(`/proc/${pid}/fdinfo/${fd}`, 'latin1')));
      } catch {
        return false;
      }
    });
    if (found) pids.push(Number(pid));
  }
  return pids;
}

/** One resource limit as /proc/<pid>/limits shows it. */
export interface LimitPair {
  /** The soft limit, or `'unlimited'`. */
  soft: number | 'unlimited';
  /** The hard limit, or `'unlimited'`. */
  hard: number | 'unlimited';
}

/** Where a process runs: its cgroup, limits, namespaces and scheduling, from /proc/<pid>. */
export interface ProcPlacement {
  /** The cgroup v2 path, from the `0::` line of /proc/<pid>/cgroup (relative to the cgroup2 mount). */
  cgroup: string;
  /** Every resource limit, by prlimit(1) name. */
  limits: Record<RlimitName, LimitPair>;
  /** Namespace ids by kind, as /proc/<pid>/ns links show them: `{ net: 'net:[4026531840]', ... }`. */
  namespaces: Record<string, string>;
  /** /proc/<pid>/oom_score_adj */
  oomScoreAdj: number;
  /** The nice value (field 19 of /proc/<pid>/stat). */
  nice: number;
}

/** The namespace kinds reported, as named under /proc/<pid>/ns. */
export const NAMESPACE_KINDS = ['cgroup', 'ipc', 'mnt', 'net', 'pid', 'time', 'user', 'uts'] as const;

function limitPairValue(value: bigint): number | 'unlimited' {
  return value === RLIM_INFINITY ? 'unlimited' : Number(value);
}

/** Parses the texts of /proc/<pid>/{cgroup,limits,oom_score_adj,stat} and the ns links. */
export function parsePlacement(files: {
  cgroup: string;
  limits: string;
  oomScoreAdj: string;
  stat: string;
  namespaces: Record<string, string>;
}): ProcPlacement {
  const rows = parseLimits(files.limits);
  const limits = {} as Record<RlimitName, LimitPair>;
  for (const [name, resource] of Object.entries(RLIMIT_RESOURCES) as [RlimitName, number][]) {
    const row = rows[resource];
    if (row) limits[name] = { soft: limitPairValue(row.soft), hard: limitPairValue(row.hard) };
  }
  return {
    cgroup: parseCgroup(files.cgroup) ?? '',
    limits,
    namespaces: files.namespaces,
    oomScoreAdj: Number(files.oomScoreAdj.trim()),
    nice: parseStatLine(files.stat).nice,
  };
}

/** Reads and parses the placement of process `pid`. */
export async function readPlacement(pid: number | 'self'): Promise<ProcPlacement> {
  const dir = `/proc/${pid}`;
  const text = (name: string) => readFile(`${dir}/${name}`, 'latin1');
  const links = await Promise.all(NAMESPACE_KINDS.map((kind) => readlink(`${dir}/ns/${kind}`).catch(() => undefined)));
  const namespaces: Record<string, string> = {};
  NAMESPACE_KINDS.forEach((kind, i) => {
    if (links[i] !== undefined) namespaces[kind] = links[i];
  });
  const [cgroup, limits, oomScoreAdj, stat] = await Promise.all([text('cgroup'), text('limits'), text('oom_score_adj'), text('stat')]);
  return parsePlacement({ cgroup, limits, oomScoreAdj, stat, namespaces });
}
