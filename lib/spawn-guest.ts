import { constants as osConstants } from 'node:os';
import { capLastCap } from './capabilities.js';
import { buildEnvironment } from './environment.js';
import { SpawnGuestError, UnsupportedPlatformError } from './errors.js';
import { Guest } from './guest.js';
import { resolveIdentity } from './identity.js';
import { launchFailure } from './launch-error.js';
import { loadNative } from './native.js';
import { normalizeOptions, type SpawnGuestOptions } from './options.js';
import { buildLaunchPlan } from './plan.js';
import { programCandidates } from './program.js';
import { STEP_NAMES } from './steps.js';

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
 * const guest = await spawnGuest('/usr/bin/qemu-system-x86_64', args, {
 *   user: 'justin', primaryGroup: 'cvdnetwork', supplementaryGroups: ['cvdnetwork', 'kvm'],
 *   caps: ['net_admin'], env: { CUTTLEFISH_INSTANCE: '85' },
 * });
 * await guest.exited;
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

  const [args, rawOptions] = Array.isArray(argsOrOptions) ? [argsOrOptions, maybeOptions] : [undefined, argsOrOptions];
  const options = normalizeOptions(file, args, rawOptions);
  const spawnargs = [options.argv0, ...options.args];
  if (options.signal?.aborted) throw abortError(options.signal);
  const native = loadNative();

  try {
    const identity = await resolveIdentity(options, native.resolve, spawnargs);
    const environment = buildEnvironment({ identity: identity.user, env: options.env, passEnv: options.passEnv });
    const cwd = options.cwd ?? process.cwd();
    const guestPath = environment.get('PATH');
    const candidates = programCandidates(options.file, cwd, guestPath);
    const context = { file: options.file, candidates, cwd: options.cwd, uid: identity.uid, gid: identity.gid, caps: options.caps, guestPath, spawnargs };
    if (candidates.length === 0) {
      throw launchFailure({ step: STEP_NAMES.indexOf('execve'), errno: osConstants.errno.ENOENT, detail: -1, signal: 0 }, context);
    }
    const plan = buildLaunchPlan(options, identity, environment, candidates, capLastCap());
    const answer = await native.launch(plan);
    if ('step' in answer) throw launchFailure(answer, context);

    const guest = new Guest({
      native,
      pid: answer.pid,
      pidfd: answer.pidfd,
      fds: answer.fds,
      spawnfile: options.file,
      spawnargs,
      killSignal: options.killSignal,
      timeout: options.timeout,
      signal: options.signal,
    });
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
