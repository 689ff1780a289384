import { constants as osConstants } from 'node:os';
import { getSystemErrorMap } from 'node:util';
import type { StepName } from './steps.js';

/** Longest value a message repeats whole; as Node's ERR_INVALID_ARG_VALUE, longer ones end in "...". */
export const MAX_SHOWN_LENGTH = 128;

/** `text`, or its first {@link MAX_SHOWN_LENGTH} characters and "..." when it is longer. */
export function shortText(text: string): string {
  return text.length > MAX_SHOWN_LENGTH ? `${text.slice(0, MAX_SHOWN_LENGTH)}...` : text;
}

/** Describes a received value the way Node's own argument errors do. */
export function describeReceived(value: unknown): string {
  if (value === null) return 'null';
  if (value === undefined) return 'undefined';
  if (typeof value === 'function') return `function ${value.name || '<anonymous>'}`;
  if (typeof value === 'object') {
    const name = value.constructor?.name;
    return name ? `an instance of ${name}` : 'an object';
  }
  if (typeof value === 'bigint') return `type bigint (${value}n)`;
  let shown =
    typeof value === 'string' ? JSON.stringify(value) : typeof value === 'symbol' ? value.toString() : `${value as number | boolean}`;
  if (shown.length > 40) shown = `${shown.slice(0, 37)}...`;
  return `type ${typeof value} (${shown})`;
}

/**
 * An option has the wrong type or an unusable value. Thrown before anything is spawned.
 * `code` is `ERR_INVALID_ARG_TYPE`, `ERR_INVALID_ARG_VALUE` or an `ERR_CAPSPAWN_...` code.
 */
export class InvalidOptionError extends TypeError {
  /** Machine-readable reason, e.g. `ERR_INVALID_ARG_TYPE`. */
  readonly code: string;
  /** The option at fault, as a path: `caps[1]`, `env.PATH`, `stdio[2]`. */
  readonly option: string;

  constructor(code: string, option: string, message: string) {
    super(message);
    this.code = code;
    this.option = option;
  }

  /** `'TypeError'`, as for Node's own argument errors. */
  override get name(): string {
    return 'TypeError';
  }
}

/**
 * An option is outside the range the kernel or the policy accepts. Thrown before anything is
 * spawned. `code` is `ERR_OUT_OF_RANGE` or an `ERR_CAPSPAWN_...` code.
 */
export class OptionRangeError extends RangeError {
  /** Machine-readable reason, e.g. `ERR_OUT_OF_RANGE`. */
  readonly code: string;
  /** The option at fault, as a path. */
  readonly option: string;

  constructor(code: string, option: string, message: string) {
    super(message);
    this.code = code;
    this.option = option;
  }

  /** `'RangeError'`, as for Node's own range errors. */
  override get name(): string {
    return 'RangeError';
  }
}

export function invalidType(option: string, expected: string, received: unknown): InvalidOptionError {
  return new InvalidOptionError(
    'ERR_INVALID_ARG_TYPE',
    option,
    `The "${option}" option must be ${expected}. Received ${describeReceived(received)}`,
  );
}

export function invalidValue(option: string, reason: string, received: unknown): InvalidOptionError {
  return new InvalidOptionError(
    'ERR_INVALID_ARG_VALUE',
    option,
    `The "${option}" option ${reason}. Received ${describeReceived(received)}`,
  );
}

export function outOfRange(option: string, range: string, received: unknown): OptionRangeError {
  return new OptionRangeError(
    'ERR_OUT_OF_RANGE',
    option,
    `The "${option}" option must be ${range}. Received ${describeReceived(received)}`,
  );
}

/** What a failed launch reports: the fields of Node's SystemError plus the step. */
export interface SpawnGuestErrorFields {
  /** `EPERM`, `ENOENT`, ... or `ERR_CAPSPAWN_...` when no errno applies. */
  code: string;
  /** The step of the launch that failed: a name from {@link STEP_NAMES}. */
  step: StepName;
  /** The system call behind the step. */
  syscall: string;
  /** The negative errno, as in Node's SystemError; undefined when no system call failed. */
  errno?: number;
  /** The program path tried (execve) or the directory (chdir). */
  path?: string;
  /** The option the failure is about, when there is one. */
  option?: string;
  /** The signal that killed the child before it reached execve. */
  signal?: NodeJS.Signals;
  /** What the verify step found different from the plan. */
  mismatch?: string;
  /** The capability involved (capset, ambient_raise, capbset_drop), e.g. `CAP_NET_ADMIN`. */
  capability?: string;
}

/**
 * The launch failed: at a named step, with an errno when a system call failed. No child is
 * left behind: a child that started was reaped before this error was thrown.
 */
export class SpawnGuestError extends Error implements SpawnGuestErrorFields {
  readonly code: string;
  readonly step: StepName;
  readonly syscall: string;
  readonly errno?: number;
  readonly path?: string;
  readonly option?: string;
  readonly signal?: NodeJS.Signals;
  readonly mismatch?: string;
  readonly capability?: string;
  /** The program and arguments of the call that failed, as given. */
  readonly spawnargs: readonly string[];

  constructor(message: string, fields: SpawnGuestErrorFields, spawnargs: readonly string[]) {
    super(message);
    this.code = fields.code;
    this.step = fields.step;
    this.syscall = fields.syscall;
    this.spawnargs = spawnargs;
    // Only the fields that apply, so that logs and deep equality stay clean.
    for (const key of ['errno', 'path', 'option', 'signal', 'mismatch', 'capability'] as const) {
      if (fields[key] !== undefined) Object.defineProperty(this, key, { value: fields[key], enumerable: true });
    }
  }

  /** `'SpawnGuestError'` */
  override get name(): string {
    return 'SpawnGuestError';
  }
}

/** The package runs only on Linux; elsewhere spawnGuest rejects with this. */
export class UnsupportedPlatformError extends Error {
  /** Always `ERR_CAPSPAWN_UNSUPPORTED_PLATFORM`. */
  readonly code = 'ERR_CAPSPAWN_UNSUPPORTED_PLATFORM';
  /** `process.platform` where the call was made. */
  readonly platform: string;

  constructor(platform: string) {
    super(
      `capspawn needs Linux (ambient capabilities, pidfds); this is ${platform}. ` +
        'The package installs here so that code importing it loads, but it cannot spawn.',
    );
    this.platform = platform;
  }

  /** `'UnsupportedPlatformError'` */
  override get name(): string {
    return 'UnsupportedPlatformError';
  }
}

const systemErrors = getSystemErrorMap();
// First name wins where two share a number: EAGAIN over EWOULDBLOCK.
const errnoNames = new Map<number, string>();
for (const [name, n] of Object.entries(osConstants.errno)) if (!errnoNames.has(n)) errnoNames.set(n, name);
/** Messages libuv does not carry (it has no UV_ENOEXEC, for one). */
const extraMessages: Record<string, string> = {
  ENOEXEC: 'exec format error',
  ECHILD: 'no child processes',
  ESTALE: 'stale file handle',
  ENOSYS: 'function not implemented',
};

/** `EPERM` for 1, or `errno 1234` when the number is unknown here. */
export function errnoName(errno: number): string {
  return errnoNames.get(errno) ?? systemErrors.get(-errno)?.[0] ?? `errno ${errno}`;
}

/** `operation not permitted` for 1. */
export function errnoMessage(errno: number): string {
  return systemErrors.get(-errno)?.[1] ?? extraMessages[errnoName(errno)] ?? 'system error';
}
