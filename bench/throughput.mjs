// Spawn-and-wait of /bin/true with --inflight spawns outstanding, for --budgetMs.
// Prints {scenario, launcher, inflight, completed, elapsedMs, perSecond}.
import { makeLauncher } from './launchers.mjs';
import { emit, keepInFlight, scenarioOptions } from './scenario.mjs';

const o = scenarioOptions({ launcher: 'spawnGuest', inflight: 8, warmup: 50, budgetMs: 2000 });
const run = await makeLauncher(o.launcher);
const once = () => run('/bin/true', []);
await keepInFlight(once, { inflight: o.inflight, count: o.warmup });

const start = performance.now();
const completed = await keepInFlight(once, { inflight: o.inflight, deadline: start + o.budgetMs });
const elapsedMs = performance.now() - start;
emit({
  scenario: 'throughput',
  launcher: o.launcher,
  inflight: o.inflight,
  completed,
  elapsedMs,
  perSecond: (completed * 1000) / elapsedMs,
});
