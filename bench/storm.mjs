// Event-loop delay while --count spawns of /bin/true go through one launcher, --inflight at a
// time, measured with perf_hooks.monitorEventLoopDelay (1 ms timer; every value includes that
// 1 ms). A loop that never gets back to its timers records nothing at all, so the longest gap
// between runs of a 1 ms timer, counted up to the end of the storm, is reported beside it.
// Prints {scenario, launcher, count, inflight, elapsedMs, delayMs: {p50, p99, max, samples},
// longestStallMs, loopTurns}.
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { setTimeout as sleep } from 'node:timers/promises';
import { makeLauncher } from './launchers.mjs';
import { emit, keepInFlight, scenarioOptions } from './scenario.mjs';

const o = scenarioOptions({ launcher: 'spawnGuest', count: 1000, inflight: 32, warmup: 50 });
const run = await makeLauncher(o.launcher);
const once = () => run('/bin/true', []);
await keepInFlight(once, { inflight: o.inflight, count: o.warmup });
await sleep(50);

let lastTick = performance.now();
let longestStallMs = 0;
let loopTurns = 0;
let timer;
const tick = () => {
  const now = performance.now();
  longestStallMs = Math.max(longestStallMs, now - lastTick);
  lastTick = now;
  loopTurns++;
  timer = setTimeout(tick, 1);
};
timer = setTimeout(tick, 1);

const histogram = monitorEventLoopDelay({ resolution: 1 });
histogram.enable();
const start = performance.now();
await keepInFlight(once, { inflight: o.inflight, count: o.count });
const end = performance.now();
histogram.disable();
clearTimeout(timer);
longestStallMs = Math.max(longestStallMs, end - lastTick);

const ms = (ns) => ns / 1e6;
const recorded = histogram.count > 0;
emit({
  scenario: 'storm',
  launcher: o.launcher,
  count: o.count,
  inflight: o.inflight,
  elapsedMs: end - start,
  delayMs: {
    p50: recorded ? ms(histogram.percentile(50)) : null,
    p99: recorded ? ms(histogram.percentile(99)) : null,
    max: recorded ? ms(histogram.max) : null,
    samples: histogram.count,
  },
  longestStallMs,
  loopTurns,
});
