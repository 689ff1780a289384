// The test VM's Debian kernels (scripts/vm/kernels.mjs): the mirror is the one this machine's
// own apt sources name, and `npm run test:vm -- --kernel` takes only the releases it knows.
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { DEBIAN_KERNELS, debianMirror } from '../scripts/vm/kernels.mjs';
import { runProgram } from './support/run.js';

const runner = new URL('../scripts/vm/test-vm.mjs', import.meta.url).pathname;

describe("the test VM's Debian kernels", () => {
  let dir = '';
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  function aptDir(files: Record<string, string>): string {
    dir = mkdtempSync(join(tmpdir(), 'capspawn-apt-'));
    mkdirSync(join(dir, 'sources.list.d'));
    for (const [name, text] of Object.entries(files)) writeFileSync(join(dir, name), text);
    return dir;
  }

  it('are 5.10, 6.1 and 6.12, from bullseye, bookworm and trixie', () => {
    expect(DEBIAN_KERNELS).toEqual({ '5.10': 'bullseye', '6.1': 'bookworm', '6.12': 'trixie' });
  });

  it("come from the archive of the machine's deb822 sources, not its security mirror", () => {
    const sources = [
      'Types: deb\nURIs: http://deb.debian.org/debian-security\nSuites: bookworm-security\nComponents: main',
      'Types: deb-src\nURIs: http://src.example/debian\nSuites: bookworm\nComponents: main',
      'Types: deb\n# a comment\nURIs: http://mirror.example/debian/\nSuites: bookworm bookworm-updates\nComponents: main',
    ].join('\n\n');
    expect(debianMirror(aptDir({ 'sources.list.d/debian.sources': sources }))).toBe('http://mirror.example/debian');
  });

  it('or of its one-line sources.list', () => {
    const list = '# deb http://old.example/debian buster main\ndeb [signed-by=/k.gpg] http://ftp.example/debian bookworm main\n';
    expect(debianMirror(aptDir({ 'sources.list': list }))).toBe('http://ftp.example/debian');
  });

  it('is none when the machine has no Debian archive source', () => {
    expect(debianMirror(aptDir({ 'sources.list': 'deb https://deb.nodesource.com/node_20.x nodistro-security main\n' }))).toBeUndefined();
  });

  it('--kernel refuses a release it has no Debian kernel for, before booting anything', async () => {
    const run = await runProgram(process.execPath, [runner, '--kernel', '4.19']);
    expect(run.status).toBe(2);
    expect(run.stderr).toBe('test:vm: --kernel takes one of 5.10, 6.1, 6.12, not 4.19\n');
  });
});
