// What every scenario script shares: its options, the parent's held memory, and the one JSON
// line it prints for run.mjs.
import { readdirSync } from 'node:fs';
import { parseArgs } from 'node:util';

/** Parses `--name value` options; every value is a number unless listed in `strings`. */
export function scenarioOptions(defaults) {
  const options = Object.fromEntries(Object.keys(defaults).map((k) => [k, { type: 'string' }]));
  const { values } = parseArgs({ options, strict: true });
  const out = { ...defaults };
  for (const [k, v] of Object.entries(values)) out[k] = typeof defaults[k] === 'number' ? Number(v) : v;
  return out;
}

const held = [];

/**
 * Holds `mib` MiB of resident memory: Buffers outside the V8 heap, every page written, so
 * the kernel really maps them and a fork() has to copy their page tables.
 */
export function holdMemory(mib) {
  const chunk = 64 * 2 ** 20;
  for (let left = mib * 2 ** 20; left > 0; left -= chunk) {
    const b = Buffer.allocUnsafeSlow(Math.min(chunk, left));
    for (let i = 0; i < b.length; i += 4096) b[i] = (i >> 12) | 1;
    held.push(b);
  }
  return held.reduce((n, b) => n + b.length, 0) / 2 ** 20;
}

export function rssMiB() {
  return process.memoryUsage.rss() / 2 ** 20;
}

export function openFdCount() {
  return readdirSync('/proc/self/fd').length;
}

export function emit(result) {
  process.stdout.write(`${JSON.stringify(result)}\n`);
}

/**
 * Runs `once()` with `inflight` calls outstanding until `count` have completed or, when
 * `deadline` (performance.now() ms) passes, no new one starts. Returns the number done.
 */
export async function keepInFlight(once, { inflight, count = Infinity, deadline = Infinity }) {
  let started = 0;
  let done = 0;
  async function lane() {
    while (started < count && performance.now() < deadline) {
      started++;
      await once();
      done++;
    }
  }
  await Promise.all(Array.from({ length: inflight }, lane));
  return done;
}

/**
 * Times each of `parts` (name → async function) `iterations` times, interleaved: every round
 * runs each part once, in turn, so that a slow spell of a shared machine falls on all of them
 * alike. `warmup` rounds first, untimed. Returns {name: [ms, ...]}.
 */
export async function interleaved(parts, { warmup, iterations }) {
  const samples = Object.fromEntries(Object.keys(parts).map((name) => [name, []]));
  for (let i = 0; i < warmup; i++) for (const part of Object.values(parts)) await part();
  for (let i = 0; i < iterations; i++) {
    for (const [name, part] of Object.entries(parts)) {
      const start = performance.now();
      await part();
      samples[name].push(performance.now() - start);
    }
  }
  return samples;
}
