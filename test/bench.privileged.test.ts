// The benchmark's smoke check: its scenario scripts and runner emit well-formed results. No
// timing is asserted; benchmarks report, they never fail on a figure.
import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { isRoot, notRootReason } from './support/fixtures.js';

const run = promisify(execFile);
const bench = new URL('../bench/', import.meta.url).pathname;

describe.runIf(isRoot)(`bench (${isRoot ? 'root' : notRootReason})`, () => {
  it('latency.mjs prints one JSON line with a sample per spawn', async () => {
    const { stdout } = await run(process.execPath, [
      join(bench, 'latency.mjs'),
      ...['--launcher', 'spawnGuest', '--mem', '16', '--warmup', '1', '--iterations', '5', '--minIterations', '5', '--budgetMs', '0'],
    ]);
    const lines = stdout.trim().split('\n');
    expect(lines).toHaveLength(1);
    const result = JSON.parse(lines[0] ?? '') as { scenario: string; launcher: string; memMiB: number; rssMiB: number; samples: number[] };
    expect(result).toMatchObject({ scenario: 'latency', launcher: 'spawnGuest', memMiB: 16 });
    expect(result.rssMiB).toBeGreaterThan(16);
    expect(result.samples).toHaveLength(5);
    for (const ms of result.samples) expect(ms).toBeGreaterThan(0);
  });

  it('quick mode writes a report with every section and a standalone SVG chart', async () => {
    const out = mkdtempSync(join(tmpdir(), 'capspawn-bench-test-'));
    await run(process.execPath, [join(bench, 'run.mjs')], {
      env: { ...process.env, CAPSPAWN_BENCH_QUICK: '1', CAPSPAWN_BENCH_OUT: out },
      timeout: 180_000,
    });
    const md = readFileSync(join(out, 'benchmarks.md'), 'utf8');
    for (const heading of [
      '## Targets',
      '## Spawn-and-wait latency',
      '## What the program got',
      '## Throughput',
      '## Event-loop delay during a storm',
      '## Memory and fds',
      "## Where spawnGuest's time goes",
      '## A cgroup of its own, and tracing',
    ]) {
      expect(md).toContain(heading);
    }
    expect(md).toMatch(/^\| capspawn spawnGuest \| \d+\.\d+ \|/m);
    expect(md).toContain('](latency-vs-memory.svg)');
    expect(md).toMatch(/^\| Launch and wait \(plan given\) \| \d+\.\d+/m);
    expect(md).toMatch(/^\| With a cgroup of its own, made and removed \| \d+\.\d+/m);
    expect(md).toMatch(/^\| Tracing, nobody subscribed \(per launch\) \| \d+\.\d+/m);
    expect(md).toMatch(/^\| capspawn spawnGuest \| sized up front \| [\d.]+ MiB \|/m);
    expect(md).toMatch(/^\| child_process\.spawn \{uid, gid\} \| V8 defaults \| [\d.]+ MiB \|/m);
    const svg = readFileSync(join(out, 'latency-vs-memory.svg'), 'utf8');
    expect(svg).toMatch(/^<svg xmlns="http:\/\/www\.w3\.org\/2000\/svg"[^>]*viewBox=/);
    expect(svg.trim().endsWith('</svg>')).toBe(true);
    expect(svg).toContain('<polyline');
    expect(svg).not.toMatch(/NaN|undefined|Infinity/);
  }, 180_000);
});
