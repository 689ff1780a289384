import type { GuestProfile } from './guest-profile.js';
import { UsageError } from './usage-error.js';

/** Where the option behind an error came from (`--caps`, `guest.json: field "caps[1]"`). */
const optionSources = new WeakMap<object, string>();

/**
 * Runs a library call and, when it rejects because of one option, remembers which flag or
 * config field set that option, so the message can point at what the user typed.
 */
export async function withOptionSources<T>(profile: GuestProfile, call: () => Promise<T>): Promise<T> {
  try {
    return await call();
  } catch (error) {
    const option = (error as { option?: unknown } | null)?.option;
    if (typeof option === 'string') optionSources.set(error as object, profile.sourceOf(option));
    throw error;
  }
}

/**
 * The one line capspawn prints for an error. Errors of the library and of the command line
 * already say what to check; anything else is a bug, reported with a pointer to the stack.
 */
export function describeError(error: unknown): string {
  if (!(error instanceof Error)) return `capspawn: ${String(error)}`;
  const known = error instanceof UsageError || typeof (error as { code?: unknown }).code === 'string';
  const source = optionSources.get(error);
  const message = error.message.replace(/\s*\n\s*/g, ' ');
  const line = `capspawn: ${source ? `${source}: ` : ''}${message}`;
  return known ? line : `${line} (an internal error: run with CAPSPAWN_DEBUG=1 for the stack trace and report it)`;
}

/** Prints the error on stderr: one line, or the whole stack with CAPSPAWN_DEBUG=1. */
export function reportError(error: unknown, env: NodeJS.ProcessEnv = process.env): void {
  process.stderr.write(`${describeError(error)}\n`);
  if (env.CAPSPAWN_DEBUG === '1' && error instanceof Error && error.stack) process.stderr.write(`${error.stack}\n`);
}
