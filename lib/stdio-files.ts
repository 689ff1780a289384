import { closeSync, constants, fchmodSync, openSync } from 'node:fs';
import { errnoMessage, invalidValue, SpawnGuestError } from './errors.js';
import type { StdioSlotPlan } from './options.js';

/** The stdio plan with every `{ file }` slot opened, and what closes them once the launch is done. */
export interface OpenedStdio {
  stdio: StdioSlotPlan[];
  /** Closes this process's copies; the guest keeps its own. */
  close(): void;
}

function openLog(path: string, append: boolean, mode: number): number {
  const write = constants.O_WRONLY | (append ? constants.O_APPEND : constants.O_TRUNC);
  try {
    // O_EXCL tells a file made here, which gets exactly `mode` (the umask would narrow it).
    const fd = openSync(path, write | constants.O_CREAT | constants.O_EXCL, mode);
    try {
      fchmodSync(fd, mode);
    } catch (error) {
      closeSync(fd);
      throw error;
    }
    return fd;
  } catch (error) {
    if ((error as { code?: string }).code !== 'EEXIST') throw error;
    return openSync(path, write);
  }
}

/**
 * Opens the `{ file }` slots in this process, before anything is spawned: each as a file the
 * guest gets by descriptor. One path on several output slots is opened once. A failure closes
 * what was opened and is a SpawnGuestError at step `open`.
 */
export function openStdioFiles(stdio: StdioSlotPlan[], spawnargs: readonly string[]): OpenedStdio {
  if (!stdio.some((slot) => slot.kind === 'file')) return { stdio, close: () => {} };
  const opened = new Map<string, { fd: number; append: boolean; slot: number }>();
  const close = () => {
    for (const { fd } of opened.values()) closeSync(fd);
    opened.clear();
  };
  try {
    const planned = stdio.map((slot, index): StdioSlotPlan => {
      if (slot.kind !== 'file' || slot.file === undefined) return slot;
      const { path, append, mode } = slot.file;
      const key = `${index === 0 ? 'r' : 'w'}:${path}`;
      const earlier = opened.get(key);
      if (earlier) {
        if (earlier.append !== append)
          throw invalidValue(`stdio[${index}].append`, `must match stdio[${earlier.slot}], which opens the same file`, append);
        return { kind: 'fd', fd: earlier.fd };
      }
      let fd: number;
      try {
        fd = index === 0 ? openSync(path, constants.O_RDONLY) : openLog(path, append, mode);
      } catch (error) {
        const { errno = 0, code = 'EIO' } = error as { errno?: number; code?: string };
        const failure = new SpawnGuestError(
          `spawnGuest: open ${path} for stdio[${index}] failed: ${code} (${errnoMessage(-errno)}): this process opens it before the launch, so it must be able to ${index === 0 ? 'read it' : 'create or write it'}`,
          { code, errno, step: 'open', syscall: 'open', path, option: `stdio[${index}]` },
          spawnargs,
        );
        throw Object.assign(failure, { cause: error });
      }
      opened.set(key, { fd, append, slot: index });
      return { kind: 'fd', fd };
    });
    return { stdio: planned, close };
  } catch (error) {
    close();
    throw error;
  }
}
