#!/usr/bin/env node
// npm run prebuild:arm64: cross-builds prebuilds/linux-arm64/capspawn.glibc.node on an x86_64
// machine with Debian's g++-aarch64-linux-gnu, then checks it: an AArch64 ELF whose glibc and
// libstdc++ symbol versions are none newer than those the x64 prebuild needs (built first if
// absent). The build runs in a copy of the sources, so build/ keeps the host's addon. Node-API
// headers are the same on every architecture: node-gyp uses this Node's own (scripts/node-headers.mjs).
import { execFileSync, spawnSync } from 'node:child_process';
import { copyFileSync, cpSync, existsSync, mkdirSync, mkdtempSync, rmSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { withOwnHeaders } from './node-headers.mjs';

const checkout = resolve(new URL('..', import.meta.url).pathname);
const CROSS = 'aarch64-linux-gnu-';
const x64 = join(checkout, 'prebuilds', 'linux-x64', 'capspawn.glibc.node');
const target = join(checkout, 'prebuilds', 'linux-arm64', 'capspawn.glibc.node');

function fail(message) {
  process.stderr.write(`prebuild:arm64: ${message}\n`);
  process.exit(1);
}

/** The newest version the binary needs of each of glibc's and libstdc++'s symbol families. */
function newestVersions(file) {
  const text = execFileSync('readelf', ['--version-info', '--wide', file], { encoding: 'utf8' });
  const newest = {};
  for (const [, family, version] of text.matchAll(/Name: (GLIBC|GLIBCXX|CXXABI)_([\d.]+)/g)) {
    const parts = version.split('.').map(Number);
    if (!newest[family] || compare(parts, newest[family]) > 0) newest[family] = parts;
  }
  return newest;
}

function compare(a, b) {
  for (let i = 0; i < Math.max(a.length, b.length); i++) {
    if ((a[i] ?? 0) !== (b[i] ?? 0)) return (a[i] ?? 0) - (b[i] ?? 0);
  }
  return 0;
}

if (spawnSync(`${CROSS}g++`, ['--version']).error) fail(`${CROSS}g++ is missing (apt-get install g++-aarch64-linux-gnu)`);
if (!existsSync(x64)) {
  process.stdout.write('prebuild:arm64: no x64 prebuild to compare with; building it first (npm run build:prebuilds)\n');
  execFileSync('npm', ['run', 'build:prebuilds'], { cwd: checkout, stdio: 'inherit' });
}

const work = mkdtempSync(join(tmpdir(), 'capspawn-arm64-'));
try {
  for (const entry of ['binding.gyp', 'package.json', 'native']) cpSync(join(checkout, entry), join(work, entry), { recursive: true });
  symlinkSync(join(checkout, 'node_modules'), join(work, 'node_modules'));
  const env = withOwnHeaders({
    ...process.env,
    CC: `${CROSS}gcc`,
    CXX: `${CROSS}g++`,
    LINK: `${CROSS}g++`,
    AR: `${CROSS}ar`,
    PREBUILD_LIBC: 'glibc',
  });
  const prebuildify = join(checkout, 'node_modules', 'prebuildify', 'bin.js');
  const args = [prebuildify, '--napi', '--strip', '--strip-bin', `${CROSS}strip`, '--tag-libc', '--arch', 'arm64', '--platform', 'linux'];
  const build = spawnSync(process.execPath, args, { cwd: work, env, stdio: 'inherit' });
  if (build.status !== 0) fail(`the cross build failed (prebuildify exited ${build.status})`);
  const built = join(work, 'prebuilds', 'linux-arm64', 'capspawn.glibc.node');

  const header = execFileSync('readelf', ['--file-header', built], { encoding: 'utf8' });
  if (!/Class:\s+ELF64/.test(header) || !/Machine:\s+AArch64/.test(header)) fail(`${built} is not a 64-bit AArch64 ELF:\n${header}`);
  const floor = newestVersions(x64);
  const needs = newestVersions(built);
  for (const [family, version] of Object.entries(needs)) {
    if (!floor[family] || compare(version, floor[family]) > 0) {
      fail(
        `the arm64 build needs ${family}_${version.join('.')}, newer than the x64 prebuild's ${floor[family] ? `${family}_${floor[family].join('.')}` : `(no ${family})`}`,
      );
    }
  }
  mkdirSync(join(checkout, 'prebuilds', 'linux-arm64'), { recursive: true });
  copyFileSync(built, target);
  const shown = Object.entries(needs)
    .map(([family, version]) => `${family}_${version.join('.')}`)
    .join(', ');
  process.stdout.write(
    `prebuild:arm64: wrote ${target} (AArch64 ELF; needs at most ${shown}; the x64 prebuild needs ${Object.entries(floor)
      .map(([f, v]) => `${f}_${v.join('.')}`)
      .join(', ')})\n`,
  );
} finally {
  rmSync(work, { recursive: true, force: true });
}
