import type { SpawnGuestOptions } from '../options.js';
import type { FlagSpec } from './command-line.js';
import { UsageError } from './usage-error.js';

/** What parseArgs gives for one flag: its string(s), or true for a switch. */
export type FlagValue = string | string[] | boolean;

/**
 * One command-line flag and the spawnGuest option it sets. Flags only change spelling
 * (lists split at commas, digits become ids, octal umasks); every rule about the values is
 * the library's, so a bad value fails exactly as it would through the API.
 */
export interface GuestFlag extends FlagSpec {
  option: keyof SpawnGuestOptions;
  /** The option's value; `undefined` means "the library's default", overriding a config file. */
  toOption(value: FlagValue): unknown;
}

/** All digits: a uid or gid, as setpriv and chown read them. */
function idFromFlag(spec: string): string | number {
  return /^\d+$/.test(spec) ? Number(spec) : spec;
}

function listFromFlag(value: FlagValue): string[] {
  return ([] as string[]).concat(value as string | string[]).flatMap((item) => item.split(','));
}

function environmentFromFlag(value: FlagValue): Record<string, string> {
  const env: Record<string, string> = {};
  for (const assignment of value as string[]) {
    const equals = assignment.indexOf('=');
    if (equals < 0)
      throw new UsageError(`--env ${assignment}: write NAME=VALUE (use --pass-env NAME to copy a variable from this environment)`);
    env[assignment.slice(0, equals)] = assignment.slice(equals + 1);
  }
  return env;
}

function umaskFromFlag(value: FlagValue): number {
  const text = value as string;
  if (!/^[0-7]+$/.test(text)) throw new UsageError(`--umask ${text}: write the mask in octal, such as 027`);
  return Number.parseInt(text, 8);
}

/** `KILL`, `kill`, `SIGKILL` and `9` all name SIGKILL, as for kill(1) and setpriv --pdeathsig. */
function signalFromFlag(value: FlagValue): string | number {
  const text = value as string;
  if (/^\d+$/.test(text)) return Number(text);
  const upper = text.toUpperCase();
  return upper.startsWith('SIG') ? upper : `SIG${upper}`;
}

/** A duration as timeout(1) writes it: seconds by default, or with a suffix ms, s, m, h or d. */
function millisecondsFromFlag(flag: string) {
  return (value: FlagValue): number => {
    const text = value as string;
    const match = /^(\d+(?:\.\d+)?)(ms|s|m|h|d)?$/.exec(text);
    if (!match) throw new UsageError(`--${flag} ${text}: write a duration, such as 30 (seconds), 500ms, 1.5m or 2h`);
    const unit = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 }[match[2] ?? 's'] ?? 1000;
    return Math.round(Number(match[1]) * unit);
  };
}

/** A whole number, negative allowed: `--nice -5`, `--oom-score-adj 500`. */
function integerFromFlag(flag: string) {
  return (value: FlagValue): number => {
    const text = value as string;
    if (!/^-?\d+$/.test(text)) throw new UsageError(`--${flag} ${text}: write a whole number`);
    return Number(text);
  };
}

/** `--rlimit nofile=1024:4096`, `--rlimit core=0`, `--rlimit memlock=unlimited`, as prlimit(1) writes them. */
function rlimitsFromFlag(value: FlagValue): Record<string, unknown> {
  const limits: Record<string, unknown> = {};
  for (const assignment of value as string[]) {
    const [, name, soft, hard] = /^([a-z]+)=(\d+|unlimited)(?::(\d+|unlimited))?$/.exec(assignment) ?? [];
    if (name === undefined || soft === undefined)
      throw new UsageError(`--rlimit ${assignment}: write NAME=SOFT:HARD or NAME=LIMIT, such as nofile=1024:4096 or core=unlimited`);
    const number = (text: string) => (text === 'unlimited' ? text : Number(text));
    limits[name] = hard === undefined ? number(soft) : [number(soft), number(hard)];
  }
  return limits;
}

/** The flags of run, explain and doctor that mirror spawnGuest's options one to one. */
export const GUEST_FLAGS: readonly GuestFlag[] = [
  { flag: 'user', option: 'user', valueName: 'USER', help: 'run as USER: a name, or a uid', toOption: (v) => idFromFlag(v as string) },
  {
    flag: 'group',
    option: 'primaryGroup',
    valueName: 'GROUP',
    help: "primary group (default: the user's passwd group)",
    toOption: (v) => idFromFlag(v as string),
  },
  {
    flag: 'groups',
    option: 'supplementaryGroups',
    valueName: 'G1,G2',
    help: 'exactly these supplementary groups (names or gids)',
    toOption: (v) => listFromFlag(v).map(idFromFlag),
  },
  {
    flag: 'init-groups',
    option: 'supplementaryGroups',
    help: "the user's groups as NSS lists them (the default)",
    toOption: () => undefined,
  },
  { flag: 'clear-groups', option: 'supplementaryGroups', help: 'no supplementary groups', toOption: () => [] },
  {
    flag: 'add-groups',
    option: 'extraGroups',
    valueName: 'G1,G2',
    help: 'add these groups to the ones above (as systemd SupplementaryGroups=)',
    toOption: (v) => listFromFlag(v).map(idFromFlag),
  },
  {
    flag: 'caps',
    option: 'caps',
    valueName: 'CAPS',
    repeatable: true,
    help: 'ambient capabilities: net_admin,+net_raw,CAP_SYS_NICE',
    toOption: (v) => listFromFlag(v).map(idFromFlag),
  },
  {
    flag: 'env',
    option: 'env',
    valueName: 'NAME=VALUE',
    repeatable: true,
    help: 'set a variable in the guest',
    toOption: environmentFromFlag,
  },
  {
    flag: 'pass-env',
    option: 'passEnv',
    valueName: 'PATTERN',
    repeatable: true,
    help: "copy variables from here by name or glob: 'CUTTLEFISH_*'",
    toOption: (v) => v,
  },
  { flag: 'cwd', option: 'cwd', valueName: 'DIR', help: 'working directory, entered as the guest', toOption: (v) => v },
  { flag: 'umask', option: 'umask', valueName: 'MASK', help: 'file mode creation mask, in octal (027)', toOption: umaskFromFlag },
  { flag: 'no-new-privs', option: 'noNewPrivileges', help: 'set no_new_privs: execve never grants more', toOption: () => true },
  {
    flag: 'limit-bounding-set',
    option: 'limitBoundingSet',
    help: 'keep only --caps in the bounding set',
    toOption: () => true,
  },
  {
    flag: 'pdeathsig',
    option: 'parentDeathSignal',
    valueName: 'SIG',
    help: 'signal for the guest when capspawn dies (KILL, TERM, 9)',
    toOption: signalFromFlag,
  },
  { flag: 'argv0', option: 'argv0', valueName: 'NAME', help: "the guest's argv[0] (default: PROGRAM as given)", toOption: (v) => v },
  {
    flag: 'detached',
    option: 'detached',
    help: 'start the guest in a new session (setsid), with no controlling terminal',
    toOption: () => true,
  },
  {
    flag: 'timeout',
    option: 'timeout',
    valueName: 'DURATION',
    help: 'send --kill-signal after DURATION: 30 (seconds), 500ms, 2m',
    toOption: millisecondsFromFlag('timeout'),
  },
  {
    flag: 'kill-signal',
    option: 'killSignal',
    valueName: 'SIG',
    help: 'the signal --timeout sends (default: TERM)',
    toOption: signalFromFlag,
  },
  {
    flag: 'kill-after',
    option: 'forceKillAfter',
    valueName: 'DURATION',
    help: 'then SIGKILL after DURATION more (0: never), as timeout -k',
    toOption: millisecondsFromFlag('kill-after'),
  },
  { flag: 'allow-root', option: 'allowRoot', help: 'permit uid 0 or gid 0 as the target', toOption: () => true },
  {
    flag: 'allow-privileged-programs',
    option: 'allowPrivilegedPrograms',
    help: 'run a set-id or file-capability program anyway',
    toOption: () => true,
  },
  { flag: 'cgroup', option: 'cgroup', valueName: 'DIR', help: 'start the guest in this cgroup v2 directory', toOption: (v) => v },
  {
    flag: 'rlimit',
    option: 'rlimits',
    valueName: 'NAME=SOFT:HARD',
    repeatable: true,
    help: 'a resource limit, as prlimit names it: nofile=1024:4096',
    toOption: rlimitsFromFlag,
  },
  {
    flag: 'netns',
    option: 'netns',
    valueName: 'PATH',
    help: 'join this network namespace (/run/netns/NAME, or an fd number)',
    toOption: (v) => idFromFlag(v as string),
  },
  {
    flag: 'oom-score-adj',
    option: 'oomScoreAdj',
    valueName: 'N',
    help: "the guest's oom_score_adj, -1000 to 1000",
    toOption: integerFromFlag('oom-score-adj'),
  },
  { flag: 'nice', option: 'nice', valueName: 'N', help: "the guest's nice value, -20 to 19", toOption: integerFromFlag('nice') },
  {
    flag: 'stdout',
    option: 'stdio',
    valueName: 'FILE',
    help: "write the guest's stdout to FILE (made 0640, truncated)",
    toOption: (v) => [undefined, { file: v }],
  },
  {
    flag: 'stderr',
    option: 'stdio',
    valueName: 'FILE',
    help: "write the guest's stderr to FILE (the same as --stdout: shared)",
    toOption: (v) => [undefined, undefined, { file: v }],
  },
  {
    flag: 'append',
    option: 'stdio',
    help: 'append to the --stdout and --stderr files instead of truncating',
    toOption: () => [{ append: true }],
  },
];

/**
 * --stdout, --stderr and --append together: `[stdin, stdout, stderr]` where a slot is a
 * `{ file, append? }` from these flags or undefined (capspawn run inherits it).
 */
export function stdioFromFlags(current: unknown, fromFlag: unknown): unknown[] {
  const slots = Array.isArray(current) ? [...(current as unknown[])] : [];
  const [first, ...rest] = fromFlag as Record<string, unknown>[];
  if (first?.append === true && rest.length === 0) {
    return slots.map((slot) => (slot !== null && typeof slot === 'object' && 'file' in slot ? { ...slot, append: true } : slot));
  }
  (fromFlag as unknown[]).forEach((slot, index) => {
    if (slot !== undefined) slots[index] = slot;
  });
  return slots;
}

/** The flag that sets `option`, for messages about it: `--groups` for `supplementaryGroups`. */
export function flagForOption(option: string): string | undefined {
  const entry = GUEST_FLAGS.find((f) => f.option === option && f.valueName !== undefined) ?? GUEST_FLAGS.find((f) => f.option === option);
  return entry && `--${entry.flag}`;
}
