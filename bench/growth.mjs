// Memory and fds after --total spawn-and-waits compared with after --first, following
// --warmup spawns (heaps and pools settle first). Run with --expose-gc: both points are taken
// after two full collections. A third reading after --extra more spawns tells a leak (it keeps
// growing) from allocators settling (it levels off). Prints {scenario, launcher, first, total,
// extra, at: {first, total, extra}}; each reading has rss, V8 heap used and committed, the
// committed young generation (V8's new space), external memory and open fds.
import { getHeapSpaceStatistics } from 'node:v8';
import { makeLauncher } from './launchers.mjs';
import { emit, openFdCount, scenarioOptions } from './scenario.mjs';

const o = scenarioOptions({ launcher: 'spawnGuest', warmup: 1500, first: 100, total: 10000, extra: 10000 });
if (typeof globalThis.gc !== 'function') throw new Error('growth.mjs needs node --expose-gc');
const run = await makeLauncher(o.launcher);
const once = () => run('/bin/true', []);

async function spawnMany(n) {
  for (let i = 0; i < n; i++) await once();
}

async function snapshot() {
  // Let the last exits' streams and handles close before counting.
  await new Promise((resolve) => setTimeout(resolve, 50));
  globalThis.gc();
  globalThis.gc();
  const m = process.memoryUsage();
  const young = getHeapSpaceStatistics().find((s) => s.space_name === 'new_space')?.space_size ?? 0;
  return { rss: m.rss, heapUsed: m.heapUsed, heapTotal: m.heapTotal, young, external: m.external, fds: openFdCount() };
}

await spawnMany(o.warmup);
await spawnMany(o.first);
const first = await snapshot();
await spawnMany(o.total - o.first);
const total = await snapshot();
await spawnMany(o.extra);
const extra = await snapshot();
emit({
  scenario: 'growth',
  launcher: o.launcher,
  warmup: o.warmup,
  first: o.first,
  total: o.total,
  extra: o.extra,
  at: { first, total, extra },
});
