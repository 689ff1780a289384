import { resolve } from 'node:path';

/**
 * The paths execve tries, in order, as execvp(3) would search them but decided here: a name
 * with a slash is one path (relative to the guest's working directory); a bare name is looked
 * up in each absolute directory of the guest's PATH. Relative and empty PATH entries are
 * skipped: they would make the search depend on the guest's working directory.
 */
export function programCandidates(file: string, cwd: string, path: string | undefined): string[] {
  if (file.includes('/')) return [resolve(cwd, file)];
  return (path ?? '')
    .split(':')
    .filter((dir) => dir.startsWith('/'))
    .map((dir) => `${dir.replace(/\/+$/, '')}/${file}`);
}
