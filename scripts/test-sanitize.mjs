#!/usr/bin/env node
// `npm run test:sanitize`: builds the addon with AddressSanitizer and UndefinedBehaviorSanitizer
// into node_modules/.cache/capspawn-sanitize/ (not under build/, which `node-gyp rebuild`
// deletes; the default build in build/Release is not touched) and runs the privileged suite
// and test/hardening against it. See docs/hardening.md.
//
// The child procedure (native/child.cc) is compiled without sanitizers, as its own static
// library: it runs in a CLONE_VM child on a stack of its own, before execve, and must not call
// into any runtime (ASan's shadow-memory bookkeeping and UBSan's handlers included).
// Node itself is not instrumented, so libasan is preloaded into every node process of the run;
// leak detection is off because node does not free everything at exit.
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { withOwnHeaders } from './node-headers.mjs';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const buildDir = join(root, 'node_modules', '.cache', 'capspawn-sanitize');
const SANITIZE = ['-fsanitize=address,undefined', '-fno-sanitize-recover=all', '-fno-omit-frame-pointer', '-g'];
const CHILD = 'native/child.cc';

// binding.gyp is JSON apart from comments; the sanitizer project is derived from it.
const gyp = JSON.parse(readFileSync(join(root, 'binding.gyp'), 'utf8').replace(/^\s*#.*$/gm, ''));
const addon = gyp.targets.find((t) => t.target_name === 'capspawn');
const fromRoot = (source) => relative(buildDir, join(root, source));
const child = {
  ...addon,
  target_name: 'capspawn_child',
  type: 'static_library',
  sources: [fromRoot(CHILD)],
  cflags_cc: [...addon.cflags_cc, '-fPIC'],
  conditions: [],
};
const sanitized = {
  ...addon,
  sources: addon.sources.filter((s) => s !== CHILD).map(fromRoot),
  dependencies: [...addon.dependencies, 'capspawn_child'],
  cflags_cc: [...addon.cflags_cc, ...SANITIZE],
  ldflags: [...addon.ldflags, ...SANITIZE],
  conditions: [],
};
mkdirSync(buildDir, { recursive: true });
writeFileSync(join(buildDir, 'binding.gyp'), `${JSON.stringify({ targets: [child, sanitized] }, null, 2)}\n`);
// node-gyp-build reads the package name from here to honour CAPSPAWN_PREBUILD.
writeFileSync(join(buildDir, 'package.json'), '{ "name": "capspawn-sanitize", "private": true }\n');

const nodeGyp = join(root, 'node_modules', '.bin', 'node-gyp');
execFileSync(nodeGyp, ['rebuild'], { cwd: buildDir, stdio: 'inherit', env: withOwnHeaders(process.env) });

// The addon is instrumented; the child procedure is not.
const binary = join(buildDir, 'build', 'Release', 'capspawn.node');
const symbols = (file) => execFileSync('nm', [file], { encoding: 'utf8' });
if (!/__asan_report/.test(symbols(binary))) throw new Error(`${binary} is not instrumented with ASan`);
const childObject = execFileSync('find', [join(buildDir, 'build'), '-name', 'child.o'], { encoding: 'utf8' }).trim();
if (childObject === '' || /__(asan|ubsan)_/.test(symbols(childObject)))
  throw new Error(`${CHILD} must be compiled without sanitizers (${childObject})`);

const libasan = execFileSync('gcc', ['-print-file-name=libasan.so'], { encoding: 'utf8' }).trim();
const env = {
  ...process.env,
  // node-gyp-build looks for <CAPSPAWN_PREBUILD>/build/Release/*.node first.
  CAPSPAWN_PREBUILD: buildDir,
  LD_PRELOAD: [libasan, process.env.LD_PRELOAD].filter(Boolean).join(':'),
  ASAN_OPTIONS: 'detect_leaks=0:abort_on_error=1:halt_on_error=1:detect_stack_use_after_return=0',
  UBSAN_OPTIONS: 'halt_on_error=1:print_stacktrace=1',
};

// The run is only worth something if node really loads this addon with ASan in front.
const probe = spawnSync(
  process.execPath,
  [
    '--input-type=module',
    '-e',
    `
    const { loadNative } = await import(${JSON.stringify(join(root, 'dist', 'native.js'))});
    loadNative();
    const maps = (await import('node:fs')).readFileSync('/proc/self/maps', 'utf8');
    console.log(JSON.stringify({ asan: maps.includes('libasan'), ubsan: maps.includes('libubsan'), addon: maps.includes(${JSON.stringify(binary)}) }));
  `,
  ],
  { env, encoding: 'utf8' },
);
const loaded = JSON.parse(probe.stdout || '{}');
if (!loaded.asan || !loaded.ubsan || !loaded.addon) throw new Error(`sanitized addon not loaded: ${probe.stdout}${probe.stderr}`);

const files = process.argv.slice(2);
const run = spawnSync(
  join(root, 'node_modules', '.bin', 'vitest'),
  ['run', ...(files.length > 0 ? files : ['privileged', 'test/hardening'])],
  {
    cwd: root,
    env,
    stdio: 'inherit',
  },
);
process.exit(run.status ?? 1);
