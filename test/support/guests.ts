// Running guests in tests and reading what they report about themselves.
import { execFile } from 'node:child_process';
import { inject } from 'vitest';
import { spawnGuest, type Guest, type GuestExit, type SpawnGuestOptions } from '../../lib/index.js';

export interface GuestOutput extends GuestExit {
  stdout: string;
  stderr: string;
}

/** Collects a guest's stdout and stderr until it has exited and its pipes closed. */
export async function collect(guest: Guest): Promise<GuestOutput> {
  let stdout = '';
  let stderr = '';
  guest.stdout?.setEncoding('utf8').on('data', (d: string) => (stdout += d));
  guest.stderr?.setEncoding('utf8').on('data', (d: string) => (stderr += d));
  const [code, signal] = await new Promise<[number | null, NodeJS.Signals | null]>((resolve) =>
    guest.once('close', (c, s) => resolve([c, s])),
  );
  return { code, signal, stdout, stderr };
}

export async function runGuest(file: string, args: string[], options: SpawnGuestOptions): Promise<GuestOutput> {
  return collect(await spawnGuest(file, args, { stdio: ['ignore', 'pipe', 'pipe'], ...options }));
}

/** What the inspector printed: its /proc/self/status, fds, environment, cwd, umask. */
export interface Inspection {
  status: Record<string, string>;
  fds: { fd: number; target: string }[];
  /** /proc/self/environ, split at NUL. */
  environ: string[];
  environBytes: Buffer;
  cwd: string;
  umask: number;
  ppid: number;
  sid: number;
  pid: number;
  /** prctl(PR_GET_SECUREBITS) */
  securebits: number;
}

export function inspectPath(): string {
  return inject('inspectPath');
}

export function parseInspection(stdout: string): Inspection {
  const raw = JSON.parse(stdout) as Omit<Inspection, 'environ' | 'environBytes'> & { environ: string };
  const environBytes = Buffer.from(raw.environ, 'hex');
  const text = environBytes.toString('utf8');
  return { ...raw, environBytes, environ: text === '' ? [] : text.slice(0, -1).split('\0') };
}

/** Spawns the inspector with these options and returns what it saw. */
export async function inspectGuest(options: SpawnGuestOptions): Promise<Inspection> {
  const out = await runGuest(inspectPath(), [], options);
  if (out.code !== 0) throw new Error(`inspector exited ${out.code ?? out.signal}: ${out.stderr}`);
  return parseInspection(out.stdout);
}

/** A stand-in for a daemon embedding capspawn; see daemon.mjs. */
export const daemonScript = new URL('./daemon.mjs', import.meta.url).pathname;

/**
 * Runs test/support/daemon.mjs with a job, under a launcher that reduces its privileges:
 * `['setpriv', ...options]`, `['capsh', ...options]`, or the inspector's `securebits` mode.
 */
export function runDaemon(launcher: string[], job: unknown, env: NodeJS.ProcessEnv = process.env): Promise<DaemonResult> {
  const [command, ...options] = (launcher.length > 0 ? launcher : ['env']) as [string, ...string[]];
  const node = command === 'capsh' ? [`--shell=${process.execPath}`, '--'] : [...(command === 'setpriv' ? ['--'] : []), process.execPath];
  const argv = [...options, ...node, daemonScript, JSON.stringify(job)];
  return new Promise((resolve, reject) => {
    execFile(command, argv, { env, encoding: 'utf8' }, (error, stdout, stderr) => {
      try {
        resolve(JSON.parse(stdout) as DaemonResult);
      } catch {
        reject(new Error(`daemon printed no result (${error?.message ?? ''}): ${stdout}${stderr}`));
      }
    });
  });
}

export type DaemonResult =
  | {
      ok: true;
      code: number | null;
      signal: string | null;
      stdout: string;
      children: number;
      cloneSharesMemory: boolean;
      parentFds: number[];
    }
  | {
      ok: false;
      error: { name: string; code: string; step?: string; errno?: number; syscall?: string; capability?: string; message: string };
      children: number;
    };

/** test/support/hardening-daemon.mjs: a daemon that runs one hardening scenario and prints the result. */
export const hardeningDaemon = new URL('./hardening-daemon.mjs', import.meta.url).pathname;

/** What the `emfile` scenario prints: each attempt after freeing `freed` more descriptors. */
export interface EmfileResult {
  ok: boolean;
  children: number;
  attempts: {
    freed: number;
    ok: boolean;
    code?: number;
    fdsUnchanged?: boolean;
    error?: { name: string; code: string; step: string; errno: number; syscall?: string; spawnargs?: string[] };
  }[];
}

/**
 * The `emfile` scenario under RLIMIT_NOFILE 128: the daemon uses up its descriptors, keeps
 * `fromFree` free, then launches `file` again after freeing one more each time, `free` times.
 */
export async function runOutOfFds(job: {
  file: string;
  fromFree: number;
  free: number;
  options: unknown;
  [key: string]: unknown;
}): Promise<EmfileResult> {
  const limit = 128;
  const result = await runDaemon(['prlimit', `--nofile=${limit}:${limit}`, process.execPath, hardeningDaemon], {
    scenario: 'emfile',
    limit,
    ...job,
  });
  return result as unknown as EmfileResult;
}
