import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';
import { UnsupportedPlatformError } from './errors.js';
import type { ResolveAnswer, ResolveRequest } from './identity.js';
import type { LaunchPlan } from './launch-plan.js';

/** What native/launch.cc answers: a running child, or the step that failed. */
export type LaunchAnswer =
  { pid: number; pidfd: number; fds: number[] } | { step: number; errno: number; detail: number; signal: number; program?: number[] };

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

/** The package root: lib/ (sources) and dist/ (build) both sit one level below it. */
const packageRoot = fileURLToPath(new URL('..', import.meta.url));

let addon: NativeAddon | undefined;

/** Loads the addon once: a prebuilt binary from prebuilds/, else build/Release. */
export function loadNative(platform: string = process.platform): NativeAddon {
  if (platform !== 'linux') throw new UnsupportedPlatformError(platform);
  if (addon) return addon;
  const require = createRequire(import.meta.url);
  const load = require('node-gyp-build') as (dir: string) => NativeAddon;
  try {
    addon = load(packageRoot);
  } catch (cause) {
    const error = new Error(
      `capspawn has no native binary for ${process.platform}-${process.arch} (Node-API, ${process.versions.modules ? `ABI ${process.versions.modules}` : ''}) in ${packageRoot}: ` +
        'install a release with prebuilds, or build it with `npm rebuild capspawn` (needs python3, make and a C++ compiler)',
      { cause },
    );
    Object.defineProperty(error, 'code', { value: 'ERR_CAPSPAWN_NATIVE_MISSING', enumerable: true });
    throw error;
  }
  return addon;
}
