import { constants as osConstants } from 'node:os';
import { buildEnvironment } from './environment.js';
import { resolveIdentity, type Identity } from './identity.js';
import { launchFailure, preparationFailure, type LaunchContext } from './launch-error.js';
import { loadNative, type NativeAddon } from './native.js';
import { normalizeOptions, type NormalizedOptions, type SpawnGuestOptions } from './options.js';
import { RLIMIT_RESOURCES } from './placement.js';
import { daemonWorkingDirectory, programCandidates } from './program.js';

/** Everything decided before a launch: checked options, ids, environment, program paths. */
export interface PreparedGuest {
  native: NativeAddon;
  options: NormalizedOptions;
  identity: Identity;
  environment: Map<string, string>;
  candidates: string[];
  context: LaunchContext;
}

/** Splits spawnGuest's (file, args?, options) overloads. */
export function splitArguments(
  argsOrOptions: readonly string[] | SpawnGuestOptions | undefined,
  maybeOptions: SpawnGuestOptions | undefined,
): [readonly string[] | undefined, SpawnGuestOptions | undefined] {
  // Anything but an object in second place is meant as args (a string, say): args checks it.
  return Array.isArray(argsOrOptions) || maybeOptions !== undefined || typeof argsOrOptions !== 'object'
    ? [argsOrOptions as readonly string[] | undefined, maybeOptions]
    : [undefined, argsOrOptions as SpawnGuestOptions | undefined];
}

/** Checks the options, resolves names through NSS and decides environment and program paths. */
export async function prepareGuest(file: unknown, args: unknown, rawOptions: unknown): Promise<PreparedGuest> {
  let spawnargs: string[] | undefined;
  let options: NormalizedOptions;
  let identity: Identity;
  let native: NativeAddon;
  try {
    options = normalizeOptions(file, args, rawOptions);
    spawnargs = [options.argv0, ...options.args];
    native = loadNative();
    identity = await resolveIdentity(options, (request) => native.resolve(request), spawnargs);
  } catch (error) {
    // A system error comes only after file and args were checked, so they are strings then.
    throw preparationFailure(error, spawnargs ?? ([file, ...(Array.isArray(args) ? (args as unknown[]) : [])] as string[]));
  }
  const environment = buildEnvironment({ identity: identity.user, env: options.env, passEnv: options.passEnv });
  const guestPath = environment.get('PATH');
  const candidates = programCandidates(
    options.file,
    () => options.cwd ?? daemonWorkingDirectory('file', options.file, spawnargs),
    guestPath,
  );
  const context: LaunchContext = {
    file: options.file,
    candidates,
    cwd: options.cwd,
    uid: identity.uid,
    gid: identity.gid,
    caps: options.caps,
    guestPath,
    spawnargs,
    cgroupProcs: options.cgroup && 'procs' in options.cgroup ? options.cgroup.procs : undefined,
    nofile: options.rlimits.find((r) => r.resource === RLIMIT_RESOURCES.nofile)?.soft,
  };
  return { native, options, identity, environment, candidates, context };
}

/**
 * Rejects a guest with no program path to try, with the error an execve of none would give and
 * no child made. Apart from prepareGuest, so that a traced launch publishes the failure.
 */
export function requireProgram({ candidates, context }: PreparedGuest): void {
  if (candidates.length === 0) throw launchFailure({ step: 'execve', errno: osConstants.errno.ENOENT, detail: -1, signal: 0 }, context);
}
