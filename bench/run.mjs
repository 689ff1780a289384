// npm run bench: runs every scenario in its own process, launchers interleaved round by round
// (the machine is shared and noisy, so ratios are taken between neighbours in time), then
// writes docs/benchmarks.md and docs/latency-vs-memory.svg. It reports; it never fails on a
// figure. CAPSPAWN_BENCH_QUICK=1 runs a tiny version and writes to a temporary directory
// (or CAPSPAWN_BENCH_OUT).
import { execFile } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { CHECK_PROGRAM, LAUNCHERS, parseCheck, TARGET, which } from './launchers.mjs';
import { describeMachine } from './machine.mjs';
import { writeReport } from './report.mjs';

const run = promisify(execFile);
const benchDir = dirname(fileURLToPath(import.meta.url));
const root = dirname(benchDir);
const quick = process.env.CAPSPAWN_BENCH_QUICK === '1';

const config = quick
  ? {
      sizes: [0, 64],
      rounds: 1,
      latency: { warmup: 3, iterations: 10, budgetMs: 200, minIterations: 5 },
      floor: { warmup: 3, iterations: 10 },
      throughput: { inflight: [8, 32], rounds: 1, warmup: 8, budgetMs: 200 },
      storm: { count: 50, inflight: 32, rounds: 1, warmup: 8 },
      growth: { warmup: 20, first: 10, total: 60, extra: 20 },
      breakdown: { rounds: 1, warmup: 3, iterations: 10 },
      lifecycle: { rounds: 1, warmup: 3, iterations: 10, calls: 10000 },
    }
  : {
      sizes: [0, 512, 2048],
      rounds: 5,
      latency: { warmup: 20, iterations: 300, budgetMs: 1500, minIterations: 15 },
      floor: { warmup: 50, iterations: 300 },
      throughput: { inflight: [8, 32], rounds: 3, warmup: 50, budgetMs: 2000 },
      storm: { count: 1000, inflight: 32, rounds: 3, warmup: 50 },
      growth: { warmup: 1500, first: 100, total: 10000, extra: 10000 },
      breakdown: { rounds: 5, warmup: 20, iterations: 300 },
      lifecycle: { rounds: 3, warmup: 20, iterations: 200, calls: 1000000 },
    };

const log = (...a) => process.stderr.write(`${a.join(' ')}\n`);
const started = performance.now();
const elapsed = () => `${((performance.now() - started) / 1000).toFixed(0)}s`;

if (process.getuid?.() !== 0) {
  log('capspawn bench: spawning as another user needs root (or CAP_SETUID, CAP_SETGID, CAP_SETPCAP); run it as root');
  process.exit(1);
}

// What is missing is reported and its rows marked "not measured"; nothing is installed.
const missing = {};
if (!which('setpriv')) missing.setpriv = 'setpriv is not on PATH (util-linux): apt-get install util-linux';
if (!which('sudo')) missing.sudo = 'sudo is not installed: `apt-get install sudo` to measure the sudo chain';
let floorBinary = null;
{
  const cc = process.env.CC ?? 'cc';
  const dir = mkdtempSync(join(tmpdir(), 'capspawn-floor-'));
  try {
    await run(cc, ['-O2', '-o', join(dir, 'floor'), join(benchDir, 'floor.c')]);
    floorBinary = join(dir, 'floor');
  } catch (error) {
    missing.floor = `could not build bench/floor.c with ${cc}: ${
      String(error.stderr || error.message)
        .trim()
        .split('\n')[0]
    }`;
  }
}
for (const reason of Object.values(missing)) log(`capspawn bench: ${reason}; that row is not measured`);
const available = (launcher) => !(launcher in missing);

/** Runs one scenario process and returns its JSON line (or {error}). */
async function scenario(script, options, nodeFlags = []) {
  const args = Object.entries(options).flatMap(([k, v]) => [`--${k}`, String(v)]);
  try {
    const { stdout } = await run(process.execPath, [...nodeFlags, join(benchDir, script), ...args], { maxBuffer: 64 << 20, cwd: root });
    return JSON.parse(stdout.trim().split('\n').at(-1));
  } catch (error) {
    const why = String(error.stderr || error.message)
      .trim()
      .split('\n')
      .slice(-3)
      .join(' | ');
    log(`  ${script} ${args.join(' ')} failed: ${why}`);
    return { error: why };
  }
}

async function floorLatency(mem, { warmup, iterations }) {
  const { uid, gid, capNumber } = TARGET;
  try {
    const { stdout } = await run(floorBinary, [mem, warmup, iterations, uid, gid, gid, capNumber, '--', '/bin/true'].map(String), {
      maxBuffer: 64 << 20,
    });
    const { rssMiB, samples } = JSON.parse(stdout.trim().split('\n').at(-1));
    return { scenario: 'latency', launcher: 'floor', memMiB: mem, rssMiB, samples };
  } catch (error) {
    return { error: String(error.stderr || error.message).trim() };
  }
}

async function floorCheck() {
  const { uid, gid, capNumber } = TARGET;
  const { stdout } = await run(floorBinary, ['0', '0', '1', uid, gid, gid, capNumber, '--', ...CHECK_PROGRAM.flat()].map(String)).catch(
    (error) => ({ stdout: '', error }),
  );
  return { scenario: 'check', launcher: 'floor', fields: parseCheck(stdout) };
}

const results = {
  config,
  missing,
  machine: describeMachine(),
  check: [],
  latency: [],
  breakdown: [],
  lifecycle: [],
  throughput: [],
  storm: [],
  growth: [],
};
const rotate = (list, n) => list.map((_, i) => list[(i + n) % list.length]);

log(
  `capspawn bench${quick ? ' (quick)' : ''}: launchers ${LAUNCHERS.filter(available).join(', ')}; parent sizes ${config.sizes.join(', ')} MiB`,
);

// 1. What each launcher's program really gets.
for (const launcher of LAUNCHERS.filter(available)) {
  results.check.push(launcher === 'floor' ? await floorCheck() : await scenario('check.mjs', { launcher }));
}

// 2. Sequential latency: every round visits every size and every launcher, in a rotating order.
for (let round = 0; round < config.rounds; round++) {
  for (const mem of rotate(config.sizes, round)) {
    for (const launcher of rotate(LAUNCHERS, round).filter(available)) {
      const r =
        launcher === 'floor' ? await floorLatency(mem, config.floor) : await scenario('latency.mjs', { launcher, mem, ...config.latency });
      results.latency.push({ round, launcher, memMiB: mem, ...r });
    }
  }
  log(`[${elapsed()}] latency round ${round + 1}/${config.rounds} done`);
}

// 3. Throughput with spawns in flight (the C floor is sequential by construction: not run).
const concurrent = LAUNCHERS.filter((l) => l !== 'floor' && available(l));
for (let round = 0; round < config.throughput.rounds; round++) {
  for (const inflight of config.throughput.inflight) {
    for (const launcher of rotate(concurrent, round)) {
      const { warmup, budgetMs } = config.throughput;
      results.throughput.push({
        round,
        ...(await scenario('throughput.mjs', { launcher, inflight, warmup, budgetMs })),
        launcher,
        inflight,
      });
    }
  }
  log(`[${elapsed()}] throughput round ${round + 1}/${config.throughput.rounds} done`);
}

// 4. Event-loop delay during a storm.
for (let round = 0; round < config.storm.rounds; round++) {
  for (const launcher of rotate(['spawnGuest', 'child_process'], round)) {
    const { count, inflight, warmup } = config.storm;
    results.storm.push({ round, ...(await scenario('storm.mjs', { launcher, count, inflight, warmup })), launcher });
  }
  log(`[${elapsed()}] storm round ${round + 1}/${config.storm.rounds} done`);
}

// 5. Where spawnGuest's time goes, each round beside a floor run of its own.
for (let round = 0; round < config.breakdown.rounds; round++) {
  const { warmup, iterations } = config.breakdown;
  results.breakdown.push({ round, ...(await scenario('breakdown.mjs', { warmup, iterations })) });
  if (available('floor')) results.breakdown.push({ round, ...(await floorLatency(0, config.floor)) });
}
log(`[${elapsed()}] breakdown done`);

// 5b. A cgroup of the guest's own and tracing, beside the plain launch in the same process.
for (let round = 0; round < config.lifecycle.rounds; round++) {
  const { warmup, iterations, calls } = config.lifecycle;
  results.lifecycle.push({ round, ...(await scenario('lifecycle.mjs', { warmup, iterations, calls })) });
}
log(`[${elapsed()}] lifecycle done`);

// 6. Growth of memory and fds: with V8's defaults, and with the young generation sized up
// front, since V8 grows it once, up to a fixed maximum, when a program allocates at a high rate.
const YOUNG = { default: [], fixed: ['--min-semi-space-size=16', '--max-semi-space-size=16'] };
for (const [young, flags] of Object.entries(YOUNG)) {
  for (const launcher of ['spawnGuest', 'child_process']) {
    results.growth.push({ ...(await scenario('growth.mjs', { launcher, ...config.growth }, ['--expose-gc', ...flags])), launcher, young });
  }
}
log(`[${elapsed()}] growth done`);

results.durationSeconds = (performance.now() - started) / 1000;
const outDir = quick
  ? (process.env.CAPSPAWN_BENCH_OUT ?? mkdtempSync(join(tmpdir(), 'capspawn-bench-')))
  : (process.env.CAPSPAWN_BENCH_OUT ?? join(root, 'docs'));
if (!existsSync(outDir)) mkdirSync(outDir, { recursive: true });
const written = writeReport(results, outDir);
// Every sample, for a closer look; not part of the docs.
const raw = join(mkdtempSync(join(tmpdir(), 'capspawn-bench-raw-')), 'results.json');
writeFileSync(raw, `${JSON.stringify(results)}\n`);
log(`[${elapsed()}] wrote ${written.join(', ')}; every sample in ${raw}`);
