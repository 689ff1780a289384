import { constants as osConstants } from 'node:os';
import { buildEnvironment } from './environment.js';
import { resolveIdentity, type Identity } from './identity.js';
import { hostFactsNeeded, readHostFacts, type HostFacts } from './host-facts.js';
import { launchFailure, type LaunchContext } from './launch-error.js';
import { loadNative, type NativeAddon } from './native.js';
import { checkOptionPaths, normalizeOptions, type NormalizedOptions, type SpawnGuestOptions } from './options.js';
import { RLIMIT_RESOURCES } from './placement.js';
import { daemonWorkingDirectory, programCandidates } from './program.js';

/** Everything decided before a launch: checked options, ids, environment, program paths. */
export interface PreparedGuest {
  native: NativeAddon;
  options: NormalizedOptions;
  /** What the options were checked against, and the launch plan is built with. */
  facts: HostFacts;
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

/**
 * Reads the host facts, checks the options against them (pure), then the paths they name,
 * resolves names through NSS and decides environment and program paths.
 */
export async function prepareGuest(file: unknown, args: unknown, rawOptions: unknown): Promise<PreparedGuest> {
  // The options are not checked yet: an error reading the facts shows them as given.
  const given = [file, ...(Array.isArray(args) ? (args as unknown[]) : [])] as string[];
  const facts = readHostFacts(hostFactsNeeded(rawOptions), given);
  const options = checkOptionPaths(normalizeOptions(file, args, rawOptions, facts), facts);
  const spawnargs = [options.argv0, ...options.args];
  const native = loadNative();
  const identity = await resolveIdentity(options, (request) => native.resolve(request), spawnargs, facts.ngroupsMax);
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
  return { native, options, facts, identity, environment, candidates, context };
}

/**
 * Rejects a guest with no program path to try, with the error an execve of none would give and
 * no child made. Apart from prepareGuest, so that a traced launch publishes the failure.
 */
export function requireProgram({ candidates, context }: PreparedGuest): void {
  if (candidates.length === 0) throw launchFailure({ step: 'execve', errno: osConstants.errno.ENOENT }, context);
}
