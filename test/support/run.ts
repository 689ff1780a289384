// Running a program to its end from a test without blocking the test's process. Under the test
// VM's emulation one node start takes seconds and npx over a minute; a synchronous wait
// (spawnSync, execFileSync) that long stalls the test worker past vitest's fixed 60 s RPC
// timeout and fails a run whose tests all passed. So every wait for a program that may take
// seconds is asynchronous.
import { spawn, type SpawnOptions } from 'node:child_process';

export interface ProgramResult {
  status: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

/** Runs `file ARGS` (stdin empty) and resolves with its status and output, as spawnSync would give them. */
export function runProgram(
  file: string,
  args: readonly string[],
  options: Pick<SpawnOptions, 'cwd' | 'env' | 'timeout'> = {},
): Promise<ProgramResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(file, args, { ...options, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d));
    child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    child.on('error', reject);
    child.on('close', (status, signal) => resolve({ status, signal, stdout, stderr }));
  });
}
