import { SpawnGuestError, UnsupportedPlatformError } from './errors.js';
import { Guest } from './guest.js';
import { readHostFacts } from './host-facts.js';
import { launchFailure } from './launch-error.js';
import { loadNative, type LaunchAnswer } from './native.js';
import { createOwnCgroup, removeCgroup, type OwnCgroup } from './own-cgroup.js';
import { openStdioFiles, type OpenedStdio } from './stdio-files.js';
import { traceEnd, traceError, traceStart } from './launch-trace.js';
import type { SpawnGuestOptions } from './options.js';
import { buildLaunchPlan, stdioPairs } from './launch-plan.js';
import { prepareGuest, requireProgram, splitArguments } from './prepared-guest.js';

// What a launch reads once (the addon, the kernel's host facts) is read at import, while the
// daemon still has descriptors to spare: a first launch made with every fd in use then fails
// with a typed EMFILE at the user lookup, not with a binary that cannot be loaded (dlopen's
// error carries no errno). A failure here is not thrown: the first launch reads again, and
// readHostFacts reports it as a typed error.
if (process.platform === 'linux') {
  try {
    loadNative();
    readHostFacts({ ownLimits: false, cgroup2Mounts: false }, []);
  } catch {}
}

function abortError(signal: AbortSignal): Error {
  return Object.assign(new Error('The operation was aborted', { cause: signal.reason }), { name: 'AbortError', code: 'ABORT_ERR' });
}

/**
 * Starts `file` as another user with exactly the ids, groups and capabilities asked for.
 *
 * Resolves once the program is running (execve succeeded). Rejects with a TypeError or
 * RangeError (`code`, `option`) for bad options, or with a {@link SpawnGuestError} naming the
 * step and errno; either way no child is left behind.
 *
 * @example
 * ```ts
 * const guest = await spawnGuest('/usr/bin/qemu-system-x86_64', args, {
 *   user: 'justin', primaryGroup: 'cvdnetwork', supplementaryGroups: ['cvdnetwork', 'kvm'],
 *   caps: ['net_admin'], env: { CUTTLEFISH_INSTANCE: '85' },
 * });
 * await guest.exited;
 * ```
 */
export async function spawnGuest(file: string, options: SpawnGuestOptions): Promise<Guest>;
export async function spawnGuest(file: string, args: readonly string[], options: SpawnGuestOptions): Promise<Guest>;
export async function spawnGuest(
  file: string,
  argsOrOptions: readonly string[] | SpawnGuestOptions,
  maybeOptions?: SpawnGuestOptions,
): Promise<Guest> {
  // The caller's stack, for errors raised after the native work.
  const origin: { stack?: string } = {};
  Error.captureStackTrace(origin, spawnGuest);
  if (process.platform !== 'linux') throw new UnsupportedPlatformError(process.platform);
  try {
    const [args, rawOptions] = splitArguments(argsOrOptions, maybeOptions);
    const signal = (rawOptions as { signal?: unknown } | undefined)?.signal;
    if (signal instanceof AbortSignal && signal.aborted) throw abortError(signal);
    const prepared = await prepareGuest(file, args, rawOptions);
    const { native, options, facts, identity, environment, candidates, context } = prepared;
    const trace = traceStart(options, identity, environment, context.spawnargs);
    let files: OpenedStdio | undefined;
    let own: OwnCgroup | undefined;
    let answer: LaunchAnswer;
    try {
      requireProgram(prepared);
      // Log files last: the checks and the cgroup fail before a log is created or truncated.
      const plan = buildLaunchPlan(options, identity, environment, candidates, facts);
      if (options.cgroup && 'parent' in options.cgroup) {
        own = createOwnCgroup(options.cgroup, context.spawnargs);
        plan.cgroup = own;
        context.cgroupProcs = own.procs;
      }
      files = openStdioFiles(options.stdio, context.spawnargs);
      // The plan encoded the slots as given; only opened files change them.
      if (files.stdio !== options.stdio) plan.stdio = stdioPairs(files.stdio);
      files.truncate();
      answer = await native.launch(plan);
      if ('step' in answer) throw launchFailure(answer, context);
    } catch (error) {
      files?.removeCreated();
      if (own) removeCgroup(own.dir);
      if (trace) traceError(trace, error);
      throw error;
    } finally {
      files?.close();
    }
    const cgroup = own
      ? { ...own, own: true }
      : options.cgroup && 'procs' in options.cgroup
        ? { ...options.cgroup, own: false, keep: true }
        : undefined;

    const guest = new Guest({
      native,
      pid: answer.pid,
      pidfd: answer.pidfd,
      fds: answer.fds,
      spawnfile: options.file,
      spawnargs: context.spawnargs,
      killSignal: options.killSignal,
      forceKillAfter: options.forceKillAfter,
      timeout: options.timeout,
      signal: options.signal,
      cgroup,
      detached: options.detached,
      terminal: options.terminal !== undefined,
    });
    if (trace) traceEnd(trace, guest.pid, own?.dir);
    if (options.signal?.aborted) {
      // Aborted while it was starting: nothing half-done, so stop it and wait for it.
      await guest[Symbol.asyncDispose]();
      throw abortError(options.signal);
    }
    return guest;
  } catch (error) {
    if (error instanceof SpawnGuestError && origin.stack) {
      error.stack = `${error.name}: ${error.message}\n${origin.stack.split('\n').slice(1).join('\n')}`;
    }
    throw error;
  }
}
