import { channel, tracingChannel } from 'node:diagnostics_channel';
import { performance } from 'node:perf_hooks';
import { capabilityName } from './capabilities.js';
import type { Identity } from './identity.js';
import type { NormalizedOptions } from './options.js';

/**
 * What `capspawn:spawn` publishes, one object per launch: these fields on `start`; `pid` and
 * `timeToExec` added on `end`; `error`, `step` and `errno` on `error`. The environment is given
 * by variable names only: values (secrets among them) are never published.
 */
export interface SpawnTraceMessage {
  /** The program as given. */
  program: string;
  /** argv of the guest, argv0 first. */
  args: readonly string[];
  /** The resolved uid. */
  uid: number;
  /** The resolved primary gid. */
  gid: number;
  /** The supplementary gids. */
  groups: readonly number[];
  /** Capability names: `CAP_NET_ADMIN`. */
  caps: string[];
  /** The cgroup joined, or `{ parent }` for one of its own (its path is on `end`); null for none. */
  cgroup:
    | string
    | {
        /** The directory its own cgroup is made under. */
        parent: string;
      }
    | null;
  /** Names of the guest's environment variables. */
  env: string[];
  /** On `end`: the guest's pid. */
  pid?: number;
  /** On `end`: milliseconds from `start` to the program running (execve done). */
  timeToExec?: number;
  /** On `end`, for a cgroup of its own: its path. */
  cgroupPath?: string;
  /** On `error`: what spawnGuest rejects with. */
  error?: unknown;
  /** On `error`: the step that failed, when it was a launch step. */
  step?: string;
  /** On `error`: the negative errno, when a system call failed. */
  errno?: number;
}

/** What `capspawn:exit` publishes when a guest has exited and been reaped. */
export interface ExitTraceMessage {
  /** The guest's pid. */
  pid: number;
  /** Its exit code, or null when a signal ended it. */
  code: number | null;
  /** The signal that ended it, or null. */
  signal: NodeJS.Signals | null;
  /** Milliseconds from the launch to the reap. */
  duration: number;
}

/** The tracing channel of launches: `tracing:capspawn:spawn:start`, `:end`, `:error`. */
export const spawnTrace = tracingChannel<SpawnTraceMessage>('capspawn:spawn');
/** The channel of guest exits. */
export const exitChannel = channel('capspawn:exit');

/** A launch being traced: the message and when it started. */
export interface LaunchTrace {
  message: SpawnTraceMessage;
  started: number;
}

/** Publishes `start` and returns the trace, or undefined (building nothing) when nobody listens. */
export function traceStart(
  options: NormalizedOptions,
  identity: Identity,
  environment: ReadonlyMap<string, string>,
  argv: readonly string[],
): LaunchTrace | undefined {
  if (!spawnTrace.start.hasSubscribers && !spawnTrace.end.hasSubscribers && !spawnTrace.error.hasSubscribers) return undefined;
  const cgroup = options.cgroup === undefined ? null : 'dir' in options.cgroup ? options.cgroup.dir : { parent: options.cgroup.parent };
  const message: SpawnTraceMessage = {
    program: options.file,
    args: argv,
    uid: identity.uid,
    gid: identity.gid,
    groups: identity.groups,
    caps: options.caps.map(capabilityName),
    cgroup,
    env: [...environment.keys()],
  };
  spawnTrace.start.publish(message);
  return { message, started: performance.now() };
}

export function traceEnd(trace: LaunchTrace, pid: number, cgroupPath: string | undefined): void {
  trace.message.pid = pid;
  trace.message.timeToExec = performance.now() - trace.started;
  if (cgroupPath !== undefined) trace.message.cgroupPath = cgroupPath;
  spawnTrace.end.publish(trace.message);
}

export function traceError(trace: LaunchTrace, error: unknown): void {
  const { step, errno } = error as { step?: string; errno?: number };
  Object.assign(trace.message, { error, step, errno });
  spawnTrace.error.publish(trace.message);
}
