// Every error code capspawn raises is named in the documentation a user reads: the README or
// docs/. Codes built from parts (`ERR_CAPSPAWN_TAP_${...}`) are not seen here.
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';

const root = new URL('..', import.meta.url).pathname;

function files(dir: string, suffix: string): string[] {
  return readdirSync(join(root, dir), { withFileTypes: true, recursive: true })
    .filter((entry) => entry.isFile() && entry.name.endsWith(suffix))
    .map((entry) => join(entry.parentPath, entry.name));
}

const raised = [
  ...new Set(
    files('lib', '.ts').flatMap((file) => [...readFileSync(file, 'utf8').matchAll(/'(ERR_CAPSPAWN_[A-Z0-9_]+)'/g)].map((m) => m[1] ?? '')),
  ),
].sort();
const documentation = [join(root, 'README.md'), ...files('docs', '.md')].map((file) => readFileSync(file, 'utf8')).join('\n');

/** Codes that no document names yet: each one to be documented, then taken off this list. */
const NOT_YET_DOCUMENTED = new Set<string>([]);

describe('error codes in the documentation', () => {
  it('finds the codes lib/ raises', () => {
    expect(raised).toContain('ERR_CAPSPAWN_VERIFY');
    expect(raised.length).toBeGreaterThan(10);
  });

  it('names every code lib/ raises (but those listed as not yet documented)', () => {
    expect(raised.filter((code) => !NOT_YET_DOCUMENTED.has(code) && !documentation.includes(code))).toEqual([]);
  });

  it('keeps the list of codes not yet documented current', () => {
    expect([...NOT_YET_DOCUMENTED].filter((code) => !raised.includes(code) || documentation.includes(code))).toEqual([]);
  });
});
