import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';
import { UnsupportedPlatformError } from './errors.js';
import type { ResolveAnswer, ResolveRequest } from './identity.js';
import type { LaunchPlan } from './launch-plan.js';
import { stepName, type StepName } from './steps.js';

/** A child that execve'd: its pid, its pidfd and the parent's ends of its stdio. */
export interface LaunchStarted {
  pid: number;
  pidfd: number;
  fds: number[];
}

/** A launch that failed, as native/launch.cc reports it, the step named. */
export interface LaunchReport {
  step: StepName;
  errno: number;
  detail: number;
  signal: number;
  /** privileged_program: st_mode, st_uid, st_gid, security.capability magic, permitted x2, inheritable x2. */
  program?: readonly number[];
}

/** What a launch answers: a running child, or the step that failed. */
export type LaunchAnswer = LaunchStarted | LaunchReport;

/** What the addon itself answers: the step as native/steps.h numbers it. */
type NumberedLaunchAnswer = LaunchStarted | (Omit<LaunchReport, 'step'> & { step: number });

export interface PidfdWatchHandle {
  kill(signal: number): number;
  ref(): void;
  unref(): void;
}

export interface NativeAddon {
  steps: string[];
  verifyItems: string[];
  /** native/launch.h's StdioKind values by name, as lib/launch-plan.ts's STDIO_KINDS spells them. */
  stdioKinds: Record<string, number>;
  /** native/tap.h's TapOp values by name, as lib/tap.ts's TAP_OPS spells them. */
  tapOps: Record<string, number>;
  resolve(request: ResolveRequest): Promise<ResolveAnswer>;
  launch(plan: LaunchPlan): Promise<LaunchAnswer>;
  /** native/tap.cc: one TAP operation; an errno and the call that failed, or nothing. */
  tap(request: {
    op: number;
    name: string;
    flags: number;
    owner: number;
    group: number;
    up: boolean;
  }): Promise<{ errno?: number; syscall?: string }>;
  cloneSharesMemory(): boolean;
  /** This process's securebits (prctl PR_GET_SECUREBITS). */
  securebits(): number;
  /** TIOCSWINSZ on a pty master: 0, or -errno. */
  setWindowSize(fd: number, cols: number, rows: number): number;
  /** TIOCGWINSZ: [cols, rows] of a terminal, or -errno. */
  getWindowSize(fd: number): [number, number] | number;
  /** The words of a file's security.capability attribute ([] for none), or -errno. */
  fileCapabilities(path: string): number[] | number;
  /** This process's dumpable flag (prctl PR_GET_DUMPABLE): 1 unless something changed it. */
  dumpable(): number;
  /** pidfd_open(pid): a close-on-exec pidfd, or -errno. */
  pidfdOpen(pid: number): number;
  /** pidfd_send_signal: 0, or the errno. */
  pidfdSignal(pidfd: number, signal: number): number;
  PidfdWatch: new (pidfd: number, onExit: (code: number | null, signal: number | null, waitErrno: number) => void) => PidfdWatchHandle;
}

/** The addon as native/addon.cc exports it. */
type NativeBinding = Omit<NativeAddon, 'launch'> & { launch(plan: LaunchPlan): Promise<NumberedLaunchAnswer> };

/** The package root: lib/ (sources) and dist/ (build) both sit one level below it. */
const packageRoot = fileURLToPath(new URL('..', import.meta.url));

let addon: NativeAddon | undefined;

/** Loads the addon once: a prebuilt binary from prebuilds/, else build/Release. */
export function loadNative(platform: string = process.platform): NativeAddon {
  if (platform !== 'linux') throw new UnsupportedPlatformError(platform);
  if (addon) return addon;
  const require = createRequire(import.meta.url);
  const load = require('node-gyp-build') as (dir: string) => NativeBinding;
  let binding: NativeBinding;
  try {
    binding = load(packageRoot);
  } catch (cause) {
    const error = new Error(
      `capspawn has no native binary for ${process.platform}-${process.arch} (Node-API, ${process.versions.modules ? `ABI ${process.versions.modules}` : ''}) in ${packageRoot}: ` +
        'install a release with prebuilds, or build it with `npm rebuild capspawn` (needs python3, make and a C++ compiler)',
      { cause },
    );
    Object.defineProperty(error, 'code', { value: 'ERR_CAPSPAWN_NATIVE_MISSING', enumerable: true });
    throw error;
  }
  // The step number becomes its name here, where the answer arrives, and nowhere else.
  const launch = async (plan: LaunchPlan): Promise<LaunchAnswer> => {
    const answer = await binding.launch(plan);
    return 'step' in answer ? { ...answer, step: stepName(answer.step) } : answer;
  };
  addon = { ...binding, launch };
  return addon;
}
