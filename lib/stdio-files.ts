import { closeSync, constants, fchmodSync, fstatSync, ftruncateSync, lstatSync, openSync, unlinkSync } from 'node:fs';
import { errnoMessage, invalidValue, SpawnGuestError } from './errors.js';
import type { StdioSlotPlan } from './options.js';

/** The stdio plan with every `{ file }` slot opened, and what finishes or undoes that. */
export interface OpenedStdio {
  stdio: StdioSlotPlan[];
  /**
   * Truncates the existing logs opened without `append`: the last step before the launch, so
   * that a launch refused earlier leaves them as they were. A SpawnGuestError at step `open`.
   */
  truncate(): void;
  /** Removes the files this call created, when the launch failed: nothing is left behind. */
  removeCreated(): void;
  /** Closes this process's copies; the guest keeps its own. */
  close(): void;
}

interface OpenedFile {
  fd: number;
  slot: number;
  append: boolean;
  /** Made by this call (O_EXCL succeeded): removed again when the launch fails. */
  created: boolean;
  /** An existing regular file written from its start: truncated just before the launch. */
  truncate: boolean;
  path: string;
  dev: bigint;
  ino: bigint;
}

// O_NOFOLLOW: this process is usually root, and a symbolic link in place of the log, made by
// whoever can write in its directory, would have it truncate or hand out any file (ELOOP).
const NOFOLLOW = constants.O_NOFOLLOW;

/** Opens a log without truncating it; `created` when this call made it. */
function openLog(path: string, append: boolean, mode: number): { fd: number; created: boolean } {
  const write = constants.O_WRONLY | NOFOLLOW | (append ? constants.O_APPEND : 0);
  try {
    // O_EXCL tells a file made here, which gets exactly `mode` (the umask would narrow it).
    // With O_CREAT it never follows a link either: a link at the path is EEXIST (open(2)).
    const fd = openSync(path, write | constants.O_CREAT | constants.O_EXCL, mode);
    try {
      fchmodSync(fd, mode);
    } catch (error) {
      closeSync(fd);
      unlinkSync(path);
      throw error;
    }
    return { fd, created: true };
  } catch (error) {
    if ((error as { code?: string }).code !== 'EEXIST') throw error;
    return { fd: openSync(path, write), created: false };
  }
}

function openFailure(error: unknown, syscall: string, path: string, index: number, spawnargs: readonly string[]): SpawnGuestError {
  const { errno = 0, code = 'EIO' } = error as { errno?: number; code?: string };
  const what =
    code === 'ELOOP'
      ? 'its last component is a symbolic link, which this process does not follow (whoever can write in the directory could aim it at any file): give the path of the file itself'
      : syscall === 'ftruncate'
        ? 'the existing file could not be truncated (pass append to keep it as it is)'
        : `this process opens it before the launch, so it must be able to ${index === 0 ? 'read it' : 'create or write it'}`;
  const failure = new SpawnGuestError(
    `spawnGuest: ${syscall} ${path} for stdio[${index}] failed: ${code} (${errnoMessage(-errno)}): ${what}`,
    { code, errno, step: 'open', syscall, path, option: `stdio[${index}]` },
    spawnargs,
  );
  return Object.assign(failure, { cause: error });
}

/**
 * Opens the `{ file }` slots in this process, before anything is spawned: each as a file the
 * guest gets by descriptor. Slots that open the same file (the same device and inode, however
 * the path is spelled) share one descriptor. Nothing is truncated yet (see `truncate`). A
 * failure closes what was opened, removes the files it created and is a SpawnGuestError at
 * step `open`.
 */
export function openStdioFiles(stdio: StdioSlotPlan[], spawnargs: readonly string[]): OpenedStdio {
  const opened = new Map<string, OpenedFile>();
  const close = () => {
    for (const { fd } of opened.values()) closeSync(fd);
    opened.clear();
  };
  const removeCreated = () => {
    for (const file of opened.values()) {
      if (!file.created) continue;
      file.created = false;
      try {
        // Only the file made here: not one that took its name since.
        const now = lstatSync(file.path, { bigint: true });
        if (now.dev === file.dev && now.ino === file.ino) unlinkSync(file.path);
      } catch {}
    }
  };
  const truncate = () => {
    for (const file of opened.values()) {
      if (!file.truncate) continue;
      try {
        ftruncateSync(file.fd, 0);
      } catch (error) {
        throw openFailure(error, 'ftruncate', file.path, file.slot, spawnargs);
      }
      file.truncate = false;
    }
  };
  if (!stdio.some((slot) => slot.kind === 'file')) return { stdio, truncate, removeCreated, close };
  try {
    const planned = stdio.map((slot, index): StdioSlotPlan => {
      if (slot.kind !== 'file' || slot.file === undefined) return slot;
      const { path, append, mode } = slot.file;
      let fd: number;
      let created = false;
      let regular: boolean;
      let dev: bigint;
      let ino: bigint;
      try {
        if (index === 0) fd = openSync(path, constants.O_RDONLY | NOFOLLOW);
        else ({ fd, created } = openLog(path, append, mode));
      } catch (error) {
        throw openFailure(error, 'open', path, index, spawnargs);
      }
      try {
        const stat = fstatSync(fd, { bigint: true });
        ({ dev, ino } = stat);
        regular = stat.isFile();
      } catch (error) {
        closeSync(fd);
        if (created) {
          try {
            unlinkSync(path);
          } catch {}
        }
        throw openFailure(error, 'fstat', path, index, spawnargs);
      }
      const key = `${index === 0 ? 'r' : 'w'}:${dev}:${ino}`;
      const earlier = opened.get(key);
      if (earlier) {
        // One open file description: two would each keep an offset and overwrite each other.
        closeSync(fd);
        if (earlier.append !== append)
          throw invalidValue(`stdio[${index}].append`, `must match stdio[${earlier.slot}], which opens the same file`, append);
        return { kind: 'fd', fd: earlier.fd };
      }
      // O_TRUNC is ignored on FIFOs and terminals, where ftruncate would fail: regular files only.
      const truncateLater = index !== 0 && !created && !append && regular;
      opened.set(key, { fd, slot: index, append, created, truncate: truncateLater, path, dev, ino });
      return { kind: 'fd', fd };
    });
    return { stdio: planned, truncate, removeCreated, close };
  } catch (error) {
    removeCreated();
    close();
    throw error;
  }
}
