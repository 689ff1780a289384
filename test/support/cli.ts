// Running the real `capspawn` command (dist/cli.js) as a separate process, as a user would.
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { chmodSync, existsSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { ProgramResult } from './run.js';

export const packageRoot = fileURLToPath(new URL('../..', import.meta.url));
export const cliPath = fileURLToPath(new URL('../../dist/cli.js', import.meta.url));

/** npm test builds first; a bare `vitest run` on a fresh checkout builds here. */
export function ensureCliBuilt(): void {
  if (!existsSync(cliPath)) execFileSync('npm', ['run', 'build'], { cwd: packageRoot, stdio: 'ignore' });
}

/** What a finished `capspawn` run gave: the same as any program's (test/support/run.ts). */
export type CliResult = ProgramResult;

export interface CliRun {
  child: ChildProcess;
  /** Resolves once stdout has printed `text`. */
  printed(text: string): Promise<void>;
  result: Promise<CliResult>;
}

/**
 * Starts `capspawn ARGS`; `wrapper` runs it under another program first, such as
 * `['setpriv', '--bounding-set', '-net_admin', '--']`.
 */
export function startCli(
  args: readonly string[],
  { wrapper = [], env = process.env }: { wrapper?: string[]; env?: NodeJS.ProcessEnv } = {},
): CliRun {
  const argv = [...wrapper, process.execPath, cliPath, ...args];
  const [program, ...rest] = argv as [string, ...string[]];
  const child = spawn(program, rest, { cwd: packageRoot, env, stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  const waiting: { text: string; resolve: () => void }[] = [];
  child.stdout.setEncoding('utf8').on('data', (d: string) => {
    stdout += d;
    for (const w of waiting.filter((w) => stdout.includes(w.text))) w.resolve();
  });
  child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
  const result = new Promise<CliResult>((resolve) => child.on('close', (status, signal) => resolve({ status, signal, stdout, stderr })));
  const printed = (text: string) =>
    new Promise<void>((resolve, reject) => {
      if (stdout.includes(text)) return resolve();
      waiting.push({ text, resolve });
      void result.then((r) =>
        reject(new Error(`capspawn ended (${r.status ?? r.signal}) before printing ${text}: ${r.stdout}${r.stderr}`)),
      );
    });
  return { child, printed, result };
}

/** Runs `capspawn ARGS` to the end. */
export function runCli(args: readonly string[], options?: { wrapper?: string[]; env?: NodeJS.ProcessEnv }): Promise<CliResult> {
  return startCli(args, options).result;
}

/** The value of one `Key:` line of /proc/<pid>/status text, white space trimmed. */
export function statusLine(text: string, key: string): string | undefined {
  return new RegExp(`^${key}:[ \\t]*(.*)$`, 'm').exec(text)?.[1]?.trim();
}

/** A temporary directory the guest can enter (0755), or also write to (0777). */
export function scratchDir(mode = 0o755): string {
  const dir = mkdtempSync(join(tmpdir(), 'capspawn-cli-'));
  chmodSync(dir, mode);
  return dir;
}
