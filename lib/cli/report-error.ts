import { flagForOption } from './guest-flags.js';
import type { GuestProfile } from './guest-profile.js';
import { UsageError } from './usage-error.js';

/** Where the option behind an error came from (`--caps`, `guest.json: field "caps[1]"`). */
const optionSources = new WeakMap<object, string>();

/**
 * Runs a library call and, when it rejects because of one option, remembers which flag or
 * config field set that option, so the message can point at what the user typed.
 */
export async function withOptionSources<T>(profile: GuestProfile, call: () => T | Promise<T>): Promise<T> {
  try {
    return await call();
  } catch (error) {
    const option = (error as { option?: unknown } | null)?.option;
    if (typeof option === 'string') optionSources.set(error as object, profile.sourceOf(option));
    throw error;
  }
}

/** `[1]` as ` value 2`, `.FOO` as ` FOO`: the rest of an option path after its name. */
function flagItem(rest: string): string {
  const index = /^\[(\d+)\]$/.exec(rest);
  if (index) return ` value ${Number(index[1]) + 1}`;
  return rest.startsWith('.') ? ` ${rest.slice(1) || '""'}` : rest;
}

/**
 * The library's words in the flags a person typed: `The "supplementaryGroups[1]" option` as
 * `--groups value 2`, `"allowRoot: true"` as `--allow-root`, "a uid as a number" as digits.
 * Names without a flag are left as they are.
 */
export function inFlagWords(message: string): string {
  return message
    .replace(/\b([Tt])he "(\w+)((?:\[\d+\]|\.[^"]*)?)" option\b/g, (words, _t, option: string, rest: string) => {
      const flag = flagForOption(option);
      return flag ? `${flag}${flagItem(rest)}` : words;
    })
    .replace(/"(\w+): true"|(?<=\bpass )"(\w+)"/g, (words, set?: string, named?: string) => flagForOption(set ?? named ?? '') ?? words)
    .replace(/\((\w+)(\[\d+\])?\)/g, (words, option: string, index: string = '') => {
      const flag = flagForOption(option);
      return flag ? `(${flag}${flagItem(index)})` : words;
    })
    .replace(/^spawnGuest(?::| (\S+):) /, (_words, file?: string) => (file ? `${file}: ` : ''))
    .replace(/\bspawnGuest\b/g, 'capspawn')
    .replace(/\b(a uid|a gid|ids) as (?:a )?numbers?\b/g, '$1 in digits');
}

/**
 * The one line capspawn prints for an error. Errors of the library and of the command line
 * already say what to check; anything else is a bug, reported with a pointer to the stack.
 */
export function describeError(error: unknown): string {
  if (!(error instanceof Error)) return `capspawn: ${String(error)}`;
  const known = error instanceof UsageError || typeof (error as { code?: unknown }).code === 'string';
  const source = optionSources.get(error);
  let message = error.message.replace(/\s*\n\s*/g, ' ');
  // A profile's fields are the option names; everything else was typed as flags.
  const fromFile = source !== undefined && !source.startsWith('--');
  if (!fromFile && !(error instanceof UsageError)) message = inFlagWords(message);
  const prefix = source && !message.includes(source) ? `${source}: ` : '';
  const line = `capspawn: ${prefix}${message}`;
  return known ? line : `${line} (an internal error: run with CAPSPAWN_DEBUG=1 for the stack trace and report it)`;
}

/** Prints the error on stderr: one line, or the whole stack with CAPSPAWN_DEBUG=1. */
export function reportError(error: unknown, env: NodeJS.ProcessEnv = process.env): void {
  process.stderr.write(`${describeError(error)}\n`);
  if (env.CAPSPAWN_DEBUG === '1' && error instanceof Error && error.stack) process.stderr.write(`${error.stack}\n`);
}
