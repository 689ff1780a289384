import { constants as osConstants } from 'node:os';
import type { Readable, Writable } from 'node:stream';
import { parseCapability, type CapabilitySpec } from './capabilities.js';
import { checkEnvOption, checkPassEnvOption } from './environment.js';
import type { HostFacts } from './host-facts.js';
import {
  checkCgroup,
  checkNetns,
  checkNetnsPath,
  checkNice,
  checkOomScoreAdj,
  checkRlimits,
  placeCgroup,
  type CgroupPlacement,
  type CgroupRequest,
  type ResolvedRlimit,
  type RlimitName,
  type RlimitValue,
} from './placement.js';
import { invalidType, invalidValue, outOfRange } from './errors.js';
import type { OwnCgroupSpec } from './cgroup-limits.js';
import type { OwnCgroupRequest } from './own-cgroup.js';
import { daemonWorkingDirectory, joinPath } from './program.js';

/** A user or group: a name looked up through NSS, or a numeric id used as is. */
export type IdSpec = string | number;

/**
 * A log file for a stdio slot, opened by this process before the launch (the guest needs no
 * right on it or its directory). For stdout and stderr: created with `mode` (default 0o640) when
 * missing, truncated unless `append`; one file for both (the same inode, however the paths are
 * spelled) is opened once, so they share one file description and their lines stay in order.
 * For stdin: read from.
 *
 * A file the call created is removed when the launch fails. An existing file is truncated only
 * once nothing in this process can fail any more, just before the launch: a failure in the child
 * (chdir, capset, ...) leaves it empty, as systemd's `StandardOutput=truncate:` does; use `append`
 * to keep it. A symbolic link as the last component is refused (ELOOP, not followed), and the
 * directories must not be writable by the guest or another untrusted user, who could otherwise
 * swap the file for any other this process can open.
 */
export interface StdioFile {
  /** The file's path, opened by this process before the launch. */
  file: string;
  /** Append instead of truncating (output slots). */
  append?: boolean;
  /** The mode a new file is created with. Default 0o640. */
  mode?: number;
}

/** One stdio slot, as for child_process.spawn, or a file. */
export type StdioSpec = 'pipe' | 'inherit' | 'ignore' | number | Readable | Writable | StdioFile | null | undefined;

/** Options of {@link spawnGuest}. Only `user` is required. */
export interface SpawnGuestOptions {
  /** The user the guest runs as: a name or a uid. */
  user: IdSpec;
  /** The primary group (real, effective and saved gid). Default: the user's passwd group. */
  primaryGroup?: IdSpec;
  /**
   * The supplementary groups, exactly. Default: the user's groups as NSS lists them
   * (getgrouplist, as login and systemd do); `[]` means none.
   */
  supplementaryGroups?: readonly IdSpec[];
  /**
   * Groups added to the supplementary groups, as systemd's `SupplementaryGroups=` adds to the
   * user's: to the NSS groups by default, or to an explicit `supplementaryGroups`. A group
   * already there (or named twice) is kept once; the primary group is added only if named.
   */
  extraGroups?: readonly IdSpec[];
  /**
   * Capabilities the guest holds: permitted = inheritable = effective = ambient = exactly this
   * set, so they survive execve of an ordinary program. Default: none.
   */
  caps?: readonly CapabilitySpec[];
  /** Variables to set (they override defaults and `passEnv`); `undefined` removes one. */
  env?: Readonly<Record<string, string | undefined>>;
  /** Names or globs copied from `process.env`; globs never copy the target's identity, loader variables or interpreter hooks (GLOB_SKIPPED_VARIABLES). */
  passEnv?: readonly string[];
  /**
   * Working directory, entered as the target user. Passed to the kernel as given (`..` is not
   * collapsed); a relative path is joined to process.cwd(). Default: inherited.
   */
  cwd?: string;
  /** stdio plan, as for child_process.spawn. Default: `'pipe'` for 0, 1 and 2. */
  stdio?: 'pipe' | 'inherit' | 'ignore' | readonly StdioSpec[];
  /**
   * Run the guest on a pseudo-terminal of its own: a new session whose controlling terminal
   * is the pty's slave, as fds 0-2 (owned by the target user, mode 0620). `guest.terminal` is
   * the master side. Excludes `stdio` slots 0-2. Default window size 80x24.
   */
  terminal?:
    | boolean
    | {
        /** Columns. Default 80. */
        cols?: number;
        /** Rows. Default 24. */
        rows?: number;
      };
  /** argv[0] of the guest. Default: `file` as given. */
  argv0?: string;
  /** Start the guest in a new session (setsid), away from this process's terminal and group. */
  detached?: boolean;
  /** File mode creation mask of the guest, 0 to 0o777. Default: inherited. */
  umask?: number;
  /** Set no_new_privs: execve can never grant more (no set-id, no file capabilities). */
  noNewPrivileges?: boolean;
  /** Drop every capability not in `caps` from the guest's bounding set. */
  limitBoundingSet?: boolean;
  /** Signal the guest receives when the thread that launched it dies (PR_SET_PDEATHSIG). */
  parentDeathSignal?: NodeJS.Signals | number;
  /**
   * Aborting kills the guest with `killSignal` (and, before it runs, cancels the spawn). With a
   * cgroup of its own: every process of its tree, until `treeExited`, as disposal does.
   */
  signal?: AbortSignal;
  /**
   * Milliseconds after which the guest is sent `killSignal`. With a cgroup of its own: every
   * process of its tree, even once the first process has exited, as disposal does.
   */
  timeout?: number;
  /** Signal for `timeout`, `signal` and `kill()` without argument. Default: SIGTERM. */
  killSignal?: NodeJS.Signals | number;
  /**
   * Milliseconds after `killSignal` (sent for `timeout`, `signal` or disposal) when SIGKILL
   * follows if the guest is still there; `0` never escalates. Default: 5000.
   */
  forceKillAfter?: number;
  /** Permit uid 0 or gid 0 (primary or supplementary) as a target. Default: false. */
  allowRoot?: boolean;
  /**
   * Run a program that carries privileges of its own: a set-user-ID or set-group-ID bit that
   * would change the guest's ids, or file capabilities (which also clear the ambient set). The
   * guest then gets what the kernel's execve rules give it; `credentials()` shows it. Default:
   * false, such a launch fails at step `privileged_program` (set-id bits are accepted under
   * `noNewPrivileges`, which makes the kernel ignore them; file capabilities are not).
   */
  allowPrivilegedPrograms?: boolean;
  /**
   * A cgroup v2 directory the guest starts in: the child joins it before anything else, so the
   * guest and every process it forks are accounted there from their first instruction. Or
   * `{ parent, name?, limits?, keep? }`: a cgroup of the guest's own, made under `parent` with
   * `limits` written, removed once the guest's whole tree has exited; it gives the guest
   * `killTree()` and `treeExited`.
   */
  cgroup?: string | OwnCgroupSpec;
  /** Resource limits set in the child before execve, by prlimit(1) name: `{ nofile: [1024, 4096] }`. */
  rlimits?: Partial<Record<RlimitName, RlimitValue>>;
  /** A network namespace to join before the credential change: a path such as /run/netns/NAME, or an fd. */
  netns?: string | number;
  /** The guest's oom_score_adj, -1000 to 1000. */
  oomScoreAdj?: number;
  /** The guest's nice value, -20 to 19. */
  nice?: number;
}

export type StdioKind = 'pipe' | 'inherit' | 'ignore' | 'fd' | 'terminal' | 'file';

export interface StdioSlotPlan {
  kind: StdioKind;
  /** For `fd`: the parent's descriptor to copy; for `inherit`: the slot number. */
  fd: number;
  /** For `file`: what to open, just before the launch (lib/stdio-files.ts). */
  file?: { path: string; append: boolean; mode: number };
}

/** The options after every check and before any lookup: type, range, host facts and the paths they name. */
export interface NormalizedOptions {
  file: string;
  args: string[];
  argv0: string;
  user: IdSpec;
  primaryGroup: IdSpec | undefined;
  supplementaryGroups: IdSpec[] | undefined;
  extraGroups: IdSpec[] | undefined;
  caps: number[];
  env: Record<string, string | undefined> | undefined;
  passEnv: string[] | undefined;
  cwd: string | undefined;
  stdio: StdioSlotPlan[];
  /** The guest's pty window size, when it runs on a terminal of its own. */
  terminal: { cols: number; rows: number } | undefined;
  detached: boolean;
  umask: number | undefined;
  noNewPrivileges: boolean;
  limitBoundingSet: boolean;
  parentDeathSignal: number;
  signal: AbortSignal | undefined;
  timeout: number | undefined;
  killSignal: number;
  forceKillAfter: number;
  allowRoot: boolean;
  allowPrivilegedPrograms: boolean;
  /** A cgroup to join, or one of the guest's own to make (it has `parent`). */
  cgroup: CgroupPlacement | OwnCgroupRequest | undefined;
  rlimits: ResolvedRlimit[];
  netns: string | number | undefined;
  oomScoreAdj: number | undefined;
  nice: number | undefined;
}

/** The options after the pure checks (normalizeOptions), before the paths in `cgroup` and `netns` are looked at. */
export interface CheckedOptions extends Omit<NormalizedOptions, 'cgroup'> {
  cgroup: CgroupRequest | undefined;
}

/** Every option spawnGuest takes; any other key is refused. */
export const KNOWN_OPTIONS: ReadonlySet<string> = new Set([
  'user',
  'primaryGroup',
  'supplementaryGroups',
  'extraGroups',
  'caps',
  'env',
  'passEnv',
  'cwd',
  'stdio',
  'terminal',
  'argv0',
  'detached',
  'umask',
  'noNewPrivileges',
  'limitBoundingSet',
  'parentDeathSignal',
  'signal',
  'timeout',
  'killSignal',
  'forceKillAfter',
  'allowRoot',
  'allowPrivilegedPrograms',
  'cgroup',
  'rlimits',
  'netns',
  'oomScoreAdj',
  'nice',
]);

/** Milliseconds from `killSignal` to SIGKILL unless `forceKillAfter` says otherwise (as execa's forceKillAfterDelay). */
export const DEFAULT_FORCE_KILL_AFTER = 5000;

/** Largest id the kernel accepts: (uid_t)-1 means "unchanged" to the set*id calls. */
export const MAX_ID = 2 ** 32 - 2;

/** A string that may reach a system call: no NUL byte. */
export function checkString(value: unknown, option: string, { allowEmpty = true } = {}): string {
  if (typeof value !== 'string') throw invalidType(option, 'a string', value);
  if (value.includes('\0')) throw invalidValue(option, 'must not contain NUL bytes', value);
  if (!allowEmpty && value === '') throw invalidValue(option, 'must not be empty', value);
  return value;
}

/** A user or group spec: a non-empty name, or an integer id from 0 to 2^32-2. */
export function checkId(value: unknown, option: string): IdSpec {
  if (typeof value === 'number') {
    if (!Number.isInteger(value) || value < 0 || value > MAX_ID) {
      throw outOfRange(option, `an integer id from 0 to ${MAX_ID}`, value);
    }
    return value === 0 ? 0 : value; // -0 is uid 0 and is reported as 0
  }
  if (typeof value !== 'string') throw invalidType(option, 'a name or a numeric id', value);
  if (value === '' || /[\0:\s]/.test(value)) {
    throw invalidValue(option, 'must be a name without NUL, ":" or white space (pass ids as numbers)', value);
  }
  return value;
}

export function checkBoolean(value: unknown, option: string): boolean {
  if (value === undefined) return false;
  if (typeof value !== 'boolean') throw invalidType(option, 'a boolean', value);
  return value;
}

const signalNames = new Map<number, NodeJS.Signals>();
for (const [name, number] of Object.entries(osConstants.signals)) {
  if (!signalNames.has(number)) signalNames.set(number, name as NodeJS.Signals);
}

/** `SIGTERM` for 15; undefined for a number this platform does not name. */
export function signalName(signal: number): NodeJS.Signals | undefined {
  return signalNames.get(signal);
}

/** A signal by name or number, as this platform numbers it. */
export function checkSignal(value: unknown, option: string): number {
  if (typeof value === 'number') {
    if (!Number.isInteger(value) || value < 1 || value > 64) throw outOfRange(option, 'a signal number from 1 to 64', value);
    return value;
  }
  if (typeof value === 'string') {
    const number = (osConstants.signals as Record<string, number>)[value];
    if (number !== undefined) return number;
    throw invalidValue(option, "must name a signal, such as 'SIGTERM'", value);
  }
  throw invalidType(option, "a signal name such as 'SIGTERM' or a number", value);
}

/** `true` or `{ cols, rows }`: the first window size of the guest's pty. */
function checkTerminal(value: unknown): { cols: number; rows: number } | undefined {
  if (value === undefined || value === false) return undefined;
  if (value === true) return { cols: 80, rows: 24 };
  if (value === null || typeof value !== 'object' || Array.isArray(value))
    throw invalidType('terminal', 'a boolean or { cols, rows }', value);
  const size = value as Record<string, unknown>;
  for (const key of Object.keys(size))
    if (key !== 'cols' && key !== 'rows') throw invalidValue(`terminal.${key}`, 'is not a field of terminal (cols, rows)', size[key]);
  const dimension = (key: 'cols' | 'rows', fallback: number): number => {
    const n = size[key];
    if (n === undefined) return fallback;
    if (typeof n !== 'number' || !Number.isInteger(n) || n < 1 || n > 65535)
      throw outOfRange(`terminal.${key}`, 'an integer from 1 to 65535', n);
    return n;
  };
  return { cols: dimension('cols', 80), rows: dimension('rows', 24) };
}

/** stdio when the guest has a terminal of its own: slots 0-2 are the pty; others as given. */
function checkTerminalStdio(value: unknown): StdioSlotPlan[] {
  const list: unknown = value === undefined ? [] : value;
  if (!Array.isArray(list) || list.slice(0, 3).some((spec) => spec !== undefined && spec !== null)) {
    throw invalidValue(
      'stdio',
      'slots 0-2 exclude "terminal": the guest\'s stdin, stdout and stderr are its pty (leave them out or null)',
      value,
    );
  }
  const rest = checkStdio([...list.slice(0, 3).map(() => 'ignore'), ...(list as unknown[]).slice(3)]).slice(3);
  const pty: StdioSlotPlan[] = [0, 1, 2].map(() => ({ kind: 'terminal', fd: -1 }));
  return [...pty, ...rest];
}

function checkStdio(value: unknown): StdioSlotPlan[] {
  const list: unknown[] =
    value === undefined ? ['pipe', 'pipe', 'pipe'] : typeof value === 'string' ? [value, value, value] : (value as unknown[]);
  if (!Array.isArray(list)) throw invalidType('stdio', "'pipe', 'inherit', 'ignore' or an array", value);
  if (list.length > 64) throw outOfRange('stdio', 'at most 64 slots', list.length);
  const slots = list.map((spec, slot) => checkStdioSlot(spec, slot));
  while (slots.length < 3) slots.push({ kind: 'pipe', fd: -1 });
  return slots;
}

function checkStdioSlot(spec: unknown, slot: number): StdioSlotPlan {
  const option = `stdio[${slot}]`;
  if (spec === undefined || spec === null) return { kind: slot < 3 ? 'pipe' : 'ignore', fd: -1 };
  if (spec === 'pipe' || spec === 'ignore') return { kind: spec, fd: -1 };
  if (spec === 'inherit') return { kind: 'inherit', fd: slot };
  if (typeof spec === 'number') {
    if (!Number.isInteger(spec) || spec < 0 || spec > 2 ** 31 - 1) throw outOfRange(option, 'a file descriptor', spec);
    return { kind: 'fd', fd: spec };
  }
  if (typeof spec === 'object' && 'file' in spec) return { kind: 'file', fd: -1, file: checkStdioFile(spec, slot) };
  if (typeof spec === 'object') {
    const stream = spec as { fd?: unknown; _handle?: { fd?: unknown } };
    const fd = typeof stream.fd === 'number' ? stream.fd : stream._handle?.fd;
    if (typeof fd === 'number' && fd >= 0) return { kind: 'fd', fd };
    throw invalidValue(option, 'must be a stream with an open file descriptor', spec);
  }
  throw invalidType(option, "'pipe', 'inherit', 'ignore', a file descriptor, a stream or { file }", spec);
}

/** Mode of a log file capspawn creates, unless `mode` says otherwise. */
export const DEFAULT_LOG_MODE = 0o640;

function checkStdioFile(spec: Record<string, unknown>, slot: number): { path: string; append: boolean; mode: number } {
  const option = `stdio[${slot}]`;
  for (const key of Object.keys(spec)) {
    if (key !== 'file' && key !== 'append' && key !== 'mode')
      throw invalidValue(`${option}.${key}`, 'is not a key of a stdio file (file, append, mode)', spec[key]);
  }
  const path = checkString(spec.file, `${option}.file`, { allowEmpty: false });
  if (slot === 0 && (spec.append !== undefined || spec.mode !== undefined)) {
    throw invalidValue(option, 'reads its file: append and mode are for files the guest writes', spec);
  }
  const append = checkBoolean(spec.append, `${option}.append`);
  let mode = DEFAULT_LOG_MODE;
  if (spec.mode !== undefined) {
    if (typeof spec.mode !== 'number') throw invalidType(`${option}.mode`, 'a file mode such as 0o640', spec.mode);
    if (!Number.isInteger(spec.mode) || spec.mode < 0 || spec.mode > 0o7777)
      throw outOfRange(`${option}.mode`, 'a file mode from 0 to 0o7777', spec.mode);
    mode = spec.mode;
  }
  return { path, append, mode };
}

/**
 * Checks and normalises every option against the host facts: a pure function, it reads no
 * file, looks nothing up and spawns nothing. The paths it was given are looked at after it,
 * by {@link checkOptionPaths}.
 */
export function normalizeOptions(file: unknown, args: unknown, options: unknown, facts: HostFacts): CheckedOptions {
  const program = checkString(file, 'file', { allowEmpty: false });
  if (args !== undefined && !Array.isArray(args)) throw invalidType('args', 'an array of strings', args);
  const argList = ((args as unknown[] | undefined) ?? []).map((arg, i) => checkString(arg, `args[${i}]`));
  if (options === null || typeof options !== 'object') throw invalidType('options', 'an object with at least "user"', options);
  const o = options as Record<string, unknown>;
  for (const key of Object.keys(o)) {
    if (!KNOWN_OPTIONS.has(key)) throw invalidValue(key, 'is not an option of spawnGuest', o[key]);
  }

  if (o.user === undefined) throw invalidType('user', 'a name or a numeric id', undefined);
  const user = checkId(o.user, 'user');
  const primaryGroup = o.primaryGroup === undefined ? undefined : checkId(o.primaryGroup, 'primaryGroup');
  let supplementaryGroups: IdSpec[] | undefined;
  if (o.supplementaryGroups !== undefined) {
    if (!Array.isArray(o.supplementaryGroups)) {
      throw invalidType('supplementaryGroups', 'an array of group names or ids', o.supplementaryGroups);
    }
    supplementaryGroups = o.supplementaryGroups.map((g: unknown, i) => checkId(g, `supplementaryGroups[${i}]`));
  }
  let extraGroups: IdSpec[] | undefined;
  if (o.extraGroups !== undefined) {
    if (!Array.isArray(o.extraGroups)) throw invalidType('extraGroups', 'an array of group names or ids', o.extraGroups);
    extraGroups = o.extraGroups.map((g: unknown, i) => checkId(g, `extraGroups[${i}]`));
  }

  let caps: number[] = [];
  if (o.caps !== undefined) {
    if (!Array.isArray(o.caps)) throw invalidType('caps', 'an array of capabilities', o.caps);
    caps = [...new Set(o.caps.map((spec: unknown, i) => parseCapability(spec, `caps[${i}]`, facts.capLastCap)))].sort((a, b) => a - b);
  }

  const argv0 = o.argv0 === undefined ? program : checkString(o.argv0, 'argv0', { allowEmpty: false });
  // As given, never normalised: the kernel resolves `..` and symlinks, as the guest.
  const cwdGiven = o.cwd === undefined ? undefined : checkString(o.cwd, 'cwd', { allowEmpty: false });
  const cwd =
    cwdGiven === undefined || cwdGiven.startsWith('/')
      ? cwdGiven
      : joinPath(daemonWorkingDirectory('cwd', cwdGiven, [argv0, ...argList]), cwdGiven);

  let umask: number | undefined;
  if (o.umask !== undefined) {
    if (typeof o.umask !== 'number') throw invalidType('umask', 'an integer from 0 to 0o777', o.umask);
    if (!Number.isInteger(o.umask) || o.umask < 0 || o.umask > 0o777) throw outOfRange('umask', 'an integer from 0 to 0o777', o.umask);
    umask = o.umask;
  }

  let timeout: number | undefined;
  if (o.timeout !== undefined) {
    if (typeof o.timeout !== 'number') throw invalidType('timeout', 'a number of milliseconds', o.timeout);
    if (!Number.isInteger(o.timeout) || o.timeout <= 0 || o.timeout > 2 ** 31 - 1) {
      throw outOfRange('timeout', 'a positive integer of milliseconds below 2^31', o.timeout);
    }
    timeout = o.timeout;
  }

  let forceKillAfter = DEFAULT_FORCE_KILL_AFTER;
  if (o.forceKillAfter !== undefined) {
    if (typeof o.forceKillAfter !== 'number') throw invalidType('forceKillAfter', 'a number of milliseconds', o.forceKillAfter);
    if (!Number.isInteger(o.forceKillAfter) || o.forceKillAfter < 0 || o.forceKillAfter > 2 ** 31 - 1) {
      throw outOfRange('forceKillAfter', 'an integer of milliseconds from 0 (never) to 2^31-1', o.forceKillAfter);
    }
    forceKillAfter = o.forceKillAfter;
  }

  if (o.signal !== undefined && !(o.signal instanceof AbortSignal)) throw invalidType('signal', 'an AbortSignal', o.signal);

  return {
    file: program,
    args: argList,
    argv0,
    user,
    primaryGroup,
    supplementaryGroups,
    extraGroups,
    caps,
    env: checkEnvOption(o.env),
    passEnv: checkPassEnvOption(o.passEnv),
    cwd,
    stdio: checkTerminal(o.terminal) ? checkTerminalStdio(o.stdio) : checkStdio(o.stdio),
    terminal: checkTerminal(o.terminal),
    detached: checkBoolean(o.detached, 'detached'),
    umask,
    noNewPrivileges: checkBoolean(o.noNewPrivileges, 'noNewPrivileges'),
    limitBoundingSet: checkBoolean(o.limitBoundingSet, 'limitBoundingSet'),
    parentDeathSignal: o.parentDeathSignal === undefined ? 0 : checkSignal(o.parentDeathSignal, 'parentDeathSignal'),
    signal: o.signal,
    timeout,
    killSignal: o.killSignal === undefined ? osConstants.signals.SIGTERM : checkSignal(o.killSignal, 'killSignal'),
    forceKillAfter,
    allowRoot: checkBoolean(o.allowRoot, 'allowRoot'),
    allowPrivilegedPrograms: checkBoolean(o.allowPrivilegedPrograms, 'allowPrivilegedPrograms'),
    cgroup: checkCgroup(o.cgroup),
    rlimits: checkRlimits(o.rlimits, facts.own),
    netns: checkNetns(o.netns),
    oomScoreAdj: checkOomScoreAdj(o.oomScoreAdj),
    nice: checkNice(o.nice),
  };
}

/**
 * The checks of what the paths in the options name, after the pure ones: `cgroup` is an
 * existing cgroup v2 directory (placed among the host's cgroup2 mounts), a `netns` path is a
 * namespace file. They stat the paths given, with the typed errors of those options.
 */
export function checkOptionPaths(options: CheckedOptions, facts: HostFacts): NormalizedOptions {
  let cgroup: NormalizedOptions['cgroup'];
  if (options.cgroup !== undefined) {
    if (facts.cgroup2Mounts === undefined) throw new Error("checkOptionPaths: the host facts lack this process's cgroup2 mounts");
    cgroup = placeCgroup(options.cgroup, facts.cgroup2Mounts);
  }
  checkNetnsPath(options.netns);
  return { ...options, cgroup };
}
