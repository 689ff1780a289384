import { OptionRangeError } from './errors.js';
import type { HostFacts } from './host-facts.js';
import type { Identity } from './identity.js';
import type { NormalizedOptions, StdioSlotPlan } from './options.js';
import { readOwnLimits, RLIM_INFINITY, RLIMIT_RESOURCES } from './procfs.js';
import { SECBIT_KEEP_CAPS, SECBIT_NOROOT, SECBIT_NOROOT_LOCKED } from './securebits.js';

/**
 * The flat plan native/addon.cc reads: numbers and NUL-terminated byte strings, already
 * checked. Nothing in it needs interpreting on the native side.
 */
export interface LaunchPlan {
  argv: Buffer;
  env: Buffer;
  candidates: Buffer;
  uid: number;
  gid: number;
  groups: Uint32Array;
  /** Capability bits 0-31 and 32-63. */
  caps: Uint32Array;
  capLastCap: number;
  limitBoundingSet: boolean;
  noRoot: boolean;
  noNewPrivileges: boolean;
  /** Refuse a set-id bit that would change the guest's ids (the kernel ignores them under no_new_privs). */
  refuseSetId: boolean;
  /** Refuse file capabilities (they clear the ambient set even under no_new_privs). */
  refuseFileCaps: boolean;
  newSession: boolean;
  /** [cols, rows] of the guest's own pty, or null without one. */
  terminalSize: [number, number] | null;
  /** -1: inherit. */
  umask: number;
  cwd: Buffer | null;
  /** 0: none. */
  parentDeathSignal: number;
  /** Pairs of (kind, fd) per slot; kinds as native/launch.h StdioKind. */
  stdio: Int32Array;
  /** The cgroup to join: its cgroup.procs path and its /proc/<pid>/cgroup line. */
  cgroup: { procs: string; line: string } | null;
  /** A network namespace path or fd, or null. */
  netns: string | number | null;
  /** (resource, soft, hard) triples. */
  rlimits: BigUint64Array;
  oomScoreAdj: number | null;
  nice: number | null;
  testSignalBeforeVerify: number;
  testWalkFds: boolean;
}

/**
 * The securebits a guest of `uid` runs with, given this process's: inherited, plus
 * SECBIT_NOROOT (locked) for uid 0, which the child adds to them; execve clears
 * SECBIT_KEEP_CAPS.
 */
export function guestSecurebits(own: number, uid: number): number {
  return (own | (uid === 0 ? SECBIT_NOROOT | SECBIT_NOROOT_LOCKED : 0)) & ~SECBIT_KEEP_CAPS;
}

/**
 * Switches for the fault tests; not part of the public API. `signalBeforeVerify`: the child
 * sends itself this signal (SIGKILL, SIGSTOP) as it enters the verify step; `walkFds`: it
 * takes the /proc/self/fd walk that kernels before 5.11 need instead of close_range.
 */
export const testHooks = { signalBeforeVerify: 0, walkFds: false };

/**
 * How the child fills a stdio slot: native/launch.h's StdioKind, whose values the addon exports
 * as `stdioKinds` (test/steps.test.ts compares the two).
 */
export const STDIO_KINDS = {
  /** The slot is closed in the child. */
  closed: 0,
  /** A copy of the parent's fd. */
  fd: 1,
  /** /dev/null, read-write. */
  devnull: 2,
  /** A pipe the child reads and the parent writes. */
  pipe_to_child: 3,
  /** A pipe the child writes and the parent reads. */
  pipe_from_child: 4,
  /** A stream socket pair, for slots above 2. */
  socketpair: 5,
  /** The slave of the guest's own pty; the parent keeps the master. */
  terminal: 6,
} as const;

/** The kernel's limit on one argument or environment string, NUL included (MAX_ARG_STRLEN). */
export const MAX_ARG_STRLEN = 32 * 4096;

let argLimitCache: number | undefined;

/**
 * How many bytes of strings and pointers execve accepts: a quarter of the stack limit, at
 * most 6 MiB and at least 128 KiB (fs/exec.c, bprm_stack_limits).
 */
export function argumentSpaceLimit(): number {
  if (argLimitCache === undefined) {
    const soft = readOwnLimits()[RLIMIT_RESOURCES.stack]?.soft ?? RLIM_INFINITY;
    const stack = soft === RLIM_INFINITY ? Infinity : Number(soft);
    argLimitCache = Math.max(Math.min(stack / 4, (8 * 1024 * 1024 * 3) / 4), 128 * 1024);
  }
  return argLimitCache;
}

/** Strings joined as C strings: each followed by NUL. */
export function nulBlock(strings: readonly string[]): Buffer {
  return Buffer.from(strings.length === 0 ? '' : `${strings.join('\0')}\0`, 'utf8');
}

/** The plan's stdio: (kind, fd) for each slot. spawnGuest fills it again once the `{ file }` slots are open. */
export function stdioPairs(stdio: readonly StdioSlotPlan[]): Int32Array {
  const pairs = new Int32Array(stdio.length * 2);
  stdio.forEach((s, slot) => {
    let kind: keyof typeof STDIO_KINDS;
    if (s.kind === 'pipe') kind = slot === 0 ? 'pipe_to_child' : slot < 3 ? 'pipe_from_child' : 'socketpair';
    else if (s.kind === 'ignore') kind = slot < 3 ? 'devnull' : 'closed';
    else if (s.kind === 'terminal') kind = 'terminal';
    else kind = 'fd';
    pairs[slot * 2] = STDIO_KINDS[kind];
    pairs[slot * 2 + 1] = s.fd;
  });
  return pairs;
}

function checkArgumentSizes(argv: readonly string[], env: readonly string[], file: string, limit: number): void {
  let total = Buffer.byteLength(file) + 1 + 8 * (argv.length + env.length + 2);
  const check = (s: string, option: string) => {
    const bytes = Buffer.byteLength(s) + 1;
    if (bytes > MAX_ARG_STRLEN) {
      throw new OptionRangeError(
        'ERR_CAPSPAWN_E2BIG',
        option,
        `The "${option}" string is ${bytes} bytes; execve accepts at most ${MAX_ARG_STRLEN} (MAX_ARG_STRLEN, E2BIG)`,
      );
    }
    total += bytes;
  };
  argv.forEach((a, i) => check(a, i === 0 ? 'argv0' : `args[${i - 1}]`));
  env.forEach((e) => check(e, `env.${e.slice(0, e.indexOf('='))}`));
  if (total > limit) {
    throw new OptionRangeError(
      'ERR_CAPSPAWN_E2BIG',
      'args',
      `Arguments and environment take ${total} bytes; execve accepts at most ${limit} here (a quarter of the stack limit, E2BIG)`,
    );
  }
}

export function buildLaunchPlan(
  options: NormalizedOptions,
  identity: Identity,
  environment: ReadonlyMap<string, string>,
  candidates: readonly string[],
  facts: Pick<HostFacts, 'capLastCap' | 'argumentSpace'>,
): LaunchPlan {
  const argv = [options.argv0, ...options.args];
  const env = [...environment].map(([name, value]) => `${name}=${value}`);
  checkArgumentSizes(argv, env, candidates[0] ?? options.file, facts.argumentSpace);
  const caps = new Uint32Array(2);
  for (const cap of options.caps) {
    const word = caps[cap >> 5];
    if (word === undefined) throw new RangeError(`capability ${cap} is beyond the 64 bits of the plan's mask`);
    caps[cap >> 5] = word | (1 << (cap & 31));
  }
  return {
    argv: nulBlock(argv),
    env: nulBlock(env),
    candidates: nulBlock(candidates),
    uid: identity.uid,
    gid: identity.gid,
    groups: Uint32Array.from(identity.groups),
    caps,
    capLastCap: facts.capLastCap,
    limitBoundingSet: options.limitBoundingSet,
    // Without SECBIT_NOROOT, execve hands uid 0 the whole bounding set again (guestSecurebits).
    noRoot: identity.uid === 0,
    noNewPrivileges: options.noNewPrivileges,
    refuseSetId: programRefusals(options).setId,
    refuseFileCaps: programRefusals(options).fileCaps,
    newSession: options.detached,
    terminalSize: options.terminal ? [options.terminal.cols, options.terminal.rows] : null,
    umask: options.umask ?? -1,
    cwd: options.cwd === undefined ? null : nulBlock([options.cwd]),
    parentDeathSignal: options.parentDeathSignal,
    stdio: stdioPairs(options.stdio),
    // A cgroup of the guest's own is made just before the launch, which fills this in.
    cgroup: options.cgroup && 'procs' in options.cgroup ? options.cgroup : null,
    netns: options.netns ?? null,
    rlimits: BigUint64Array.from(options.rlimits.flatMap((r) => [BigInt(r.resource), r.soft, r.hard])),
    oomScoreAdj: options.oomScoreAdj ?? null,
    nice: options.nice ?? null,
    testSignalBeforeVerify: testHooks.signalBeforeVerify,
    testWalkFds: testHooks.walkFds,
  };
}

/**
 * What the child refuses in the program it runs: set-id bits that would change the guest's ids
 * (the kernel ignores them under no_new_privs) and file capabilities (they clear the ambient
 * set even then), unless allowPrivilegedPrograms.
 */
export function programRefusals(options: { allowPrivilegedPrograms: boolean; noNewPrivileges: boolean }): {
  setId: boolean;
  fileCaps: boolean;
} {
  return { setId: !options.allowPrivilegedPrograms && !options.noNewPrivileges, fileCaps: !options.allowPrivilegedPrograms };
}
