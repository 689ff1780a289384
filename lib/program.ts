import { errnoMessage, shortText, SpawnGuestError } from './errors.js';

/**
 * `path` after `base` as text, never normalised: an absolute path as given, a relative one
 * behind `base` and a slash. `..` and symlinks are the kernel's to resolve, as the guest, so
 * that search permission on every directory named is checked as it would be for
 * child_process.spawn (`/root/../tmp` needs search permission on /root).
 */
export function joinPath(base: string, path: string): string {
  return path.startsWith('/') ? path : `${base.replace(/\/+$/, '')}/${path}`;
}

/**
 * The paths execve tries, in order, as execvp(3) would search them but decided here: a name
 * with a slash is one path (relative to the guest's working directory, `cwd()` called only
 * then); a bare name is looked up in each absolute directory of the guest's PATH. Relative and
 * empty PATH entries are skipped: they would make the search depend on the guest's working
 * directory. No path is normalised (see {@link joinPath}).
 */
export function programCandidates(file: string, cwd: () => string, path: string | undefined): string[] {
  if (file.includes('/')) return [file.startsWith('/') ? file : joinPath(cwd(), file)];
  return (path ?? '')
    .split(':')
    .filter((dir) => dir.startsWith('/'))
    .map((dir) => joinPath(dir, file));
}

/**
 * This process's working directory, asked for only when a relative `file` or `cwd` needs it.
 * A working directory that was deleted fails here with a typed error naming the option.
 */
export function daemonWorkingDirectory(option: 'file' | 'cwd', path: string, spawnargs: readonly string[]): string {
  try {
    return process.cwd();
  } catch (error) {
    const { code = 'ENOENT', errno = -2 } = error as { code?: string; errno?: number };
    const failure = new SpawnGuestError(
      `spawnGuest: the "${option}" option ${JSON.stringify(shortText(path))} is relative, and this process's working directory ` +
        `cannot be found (uv_cwd: ${code}, ${errnoMessage(-errno)}; was it deleted?): give an absolute path`,
      { code, errno, step: 'resolve', syscall: 'uv_cwd', option },
      spawnargs,
    );
    throw Object.assign(failure, { cause: error });
  }
}
