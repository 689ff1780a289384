// The package as users get it: `npm pack`, installed into a fresh project with no compiler on
// PATH and no build/ directory, imported from ESM and CommonJS and run as `npx capspawn`,
// spawning a guest as root.
import { execFile, execFileSync } from 'node:child_process';
import {
  cpSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  realpathSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FIXTURE_USERS, isRoot, notRootReason } from './support/fixtures.js';

const run = promisify(execFile);
const root = new URL('..', import.meta.url).pathname;
// npm's own script, run with this node: where `npm` on the PATH leads (node's own layout puts it
// in lib/node_modules beside bin/node; Debian's npm package in /usr/share/nodejs).
const npmCli = realpathSync(execFileSync('/bin/sh', ['-c', 'command -v npm'], { encoding: 'utf8' }).trim());

/** The files `npm pack` would ship, as it lists them. */
async function packedFiles(): Promise<string[]> {
  const { stdout } = await run(process.execPath, [npmCli, 'pack', '--dry-run', '--json', '--ignore-scripts'], {
    cwd: root,
    encoding: 'utf8',
  });
  return (JSON.parse(stdout) as [{ files: { path: string }[] }])[0].files.map((f) => f.path).sort();
}

describe('the published file list', () => {
  it('ships the built library, its types, the native sources and prebuilds, and nothing else', async () => {
    const files = await packedFiles();
    const unexpected = files.filter(
      (f) =>
        !/^(dist\/.+\.(js|d\.ts)|native\/[a-z_]+\.(cc|h)|prebuilds\/[a-z0-9-]+\/capspawn\.[a-z]+\.node|binding\.gyp|package\.json|README\.md|LICENSE)$/.test(
          f,
        ),
    );
    expect(unexpected).toEqual([]);
    for (const needed of ['dist/index.js', 'dist/index.d.ts', 'binding.gyp', 'native/child.cc', 'native/steps.h', 'LICENSE']) {
      expect(files).toContain(needed);
    }
    expect(files.some((f) => f.startsWith('test/') || f.startsWith('lib/') || f.startsWith('bench/'))).toBe(false);
  });
});

describe('on a platform other than Linux', () => {
  it('imports, and spawnGuest rejects with ERR_CAPSPAWN_UNSUPPORTED_PLATFORM', async () => {
    const script = `Object.defineProperty(process, 'platform', { value: 'darwin' });
const capspawn = await import(${JSON.stringify(join(root, 'dist', 'index.js'))});
const error = await capspawn.spawnGuest('/bin/true', { user: 'nobody' }).catch((e) => e);
console.log(JSON.stringify({ exports: typeof capspawn.spawnGuest, name: error.name, code: error.code, platform: error.platform }));`;
    const { stdout } = await run(process.execPath, ['--input-type=module', '-e', script]);
    expect(JSON.parse(stdout)).toEqual({
      exports: 'function',
      name: 'UnsupportedPlatformError',
      code: 'ERR_CAPSPAWN_UNSUPPORTED_PLATFORM',
      platform: 'darwin',
    });
  });
});

describe.runIf(isRoot)(`the packed tarball, installed without a compiler (${notRootReason})`, () => {
  let work = '';
  let project = '';
  let env: NodeJS.ProcessEnv = {};
  let tarballFiles: string[] = [];
  beforeAll(
    async () => {
      work = mkdtempSync(join(tmpdir(), 'capspawn-pack-'));
      // prepack builds dist/ and the prebuilt binary for this platform: in a copy of the
      // checkout, so that no binary the run uses (a cross-built prebuild) is overwritten.
      const source = join(work, 'source');
      for (const entry of [
        'package.json',
        'README.md',
        'LICENSE',
        'binding.gyp',
        'tsconfig.json',
        'tsconfig.build.json',
        'lib',
        'native',
        'prebuilds',
      ]) {
        if (existsSync(join(root, entry))) cpSync(join(root, entry), join(source, entry), { recursive: true });
      }
      symlinkSync(join(root, 'node_modules'), join(source, 'node_modules'));
      await run(process.execPath, [npmCli, 'pack', '--pack-destination', work], { cwd: source });
      const tarball = readdirSync(work).find((f) => f.endsWith('.tgz'));
      expect(tarball).toBeDefined();
      tarballFiles = execFileSync('tar', ['-tzf', join(work, tarball!)], { encoding: 'utf8' }).split('\n');

      // PATH holds node and sh only: no make, no cc, no g++, no python3.
      const bin = join(work, 'bin');
      mkdirSync(bin);
      symlinkSync(process.execPath, join(bin, 'node'));
      symlinkSync('/bin/sh', join(bin, 'sh'));
      // No registry either: the test VMs have no network, and the emulated arm64 machine no npm
      // cache (there, an install that may reach the registry retried for ten minutes and
      // failed). The dependencies go in beside the tarball, packed from this checkout's
      // node_modules, and npm runs --offline with a cache of its own.
      const dependencies = Object.keys(
        (JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as { dependencies: object }).dependencies,
      );
      for (const name of dependencies)
        await run(process.execPath, [npmCli, 'pack', '--ignore-scripts', '--pack-destination', work], {
          cwd: join(root, 'node_modules', name),
        });
      const dependencyTarballs = readdirSync(work).filter((f) => f.endsWith('.tgz') && f !== tarball);
      expect(dependencyTarballs).toHaveLength(dependencies.length);
      env = { HOME: work, PATH: bin, npm_config_cache: join(work, 'npm-cache'), npm_config_update_notifier: 'false' };
      for (const tool of ['cc', 'g++', 'make', 'python3']) {
        expect(() => execFileSync('sh', ['-c', `command -v ${tool}`], { env })).toThrow();
      }

      project = join(work, 'app');
      mkdirSync(project);
      writeFileSync(join(project, 'package.json'), JSON.stringify({ name: 'app', version: '1.0.0', private: true }));
      const tarballs = [...dependencyTarballs, tarball!].map((f) => join(work, f));
      await run(process.execPath, [npmCli, 'install', '--no-audit', '--no-fund', '--offline', ...tarballs], {
        cwd: project,
        env,
      });
    },
    process.env.CAPSPAWN_IN_VM === '1' ? 1_200_000 : 300_000,
  );
  afterAll(() => rmSync(work, { recursive: true, force: true }));

  const guestScript = (importLine: string) => `${importLine}
const guest = await spawnGuest('/bin/grep', ['^CapAmb:', '/proc/self/status'], { user: '${FIXTURE_USERS.guest.name}', caps: ['net_admin'], stdio: ['ignore', 'inherit', 'inherit'] });
const exit = await guest.exited;
if (exit.code !== 0) process.exit(1);`;

  it("carries this machine's prebuilt binary and every other one the checkout holds (linux-arm64 from npm run prebuild:arm64)", () => {
    const own = `package/prebuilds/${process.platform}-${process.arch}/capspawn.glibc.node`;
    const others = existsSync(join(root, 'prebuilds'))
      ? readdirSync(join(root, 'prebuilds')).flatMap((dir) =>
          readdirSync(join(root, 'prebuilds', dir)).map((f) => `package/prebuilds/${dir}/${f}`),
        )
      : [];
    for (const binary of new Set([own, ...others])) expect(tarballFiles).toContain(binary);
  });

  it('installs from the prebuilt binary, building nothing', () => {
    const installed = join(project, 'node_modules', 'capspawn');
    expect(existsSync(join(installed, 'prebuilds'))).toBe(true);
    expect(existsSync(join(installed, 'build'))).toBe(false);
  });

  it('spawns a guest when imported from ESM', async () => {
    writeFileSync(join(project, 'esm.mjs'), guestScript("import { spawnGuest } from 'capspawn';"));
    const { stdout } = await run(process.execPath, ['esm.mjs'], { cwd: project, env });
    expect(stdout).toBe('CapAmb:\t0000000000001000\n');
  });

  it('runs the CLI through npx capspawn', async () => {
    const npx = (args: string[]) => run(process.execPath, [npmCli, 'exec', '--offline', '--', 'capspawn', ...args], { cwd: project, env });
    const version = await npx(['--version']);
    expect(version.stdout.trim()).toBe(
      `capspawn ${(JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as { version: string }).version}`,
    );
    const { stdout } = await npx([
      '--user',
      FIXTURE_USERS.guest.name,
      '--caps',
      'net_admin',
      '--',
      'grep',
      '^CapAmb:',
      '/proc/self/status',
    ]);
    expect(stdout).toBe('CapAmb:\t0000000000001000\n');
  });

  it('spawns a guest when loaded with require() from CommonJS', async () => {
    writeFileSync(join(project, 'cjs.cjs'), `const { spawnGuest } = require('capspawn');\n(async () => {\n${guestScript('')}\n})();`);
    const { stdout } = await run(process.execPath, ['--no-warnings', 'cjs.cjs'], { cwd: project, env });
    expect(stdout).toBe('CapAmb:\t0000000000001000\n');
  });
});
