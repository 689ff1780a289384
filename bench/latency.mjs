// Sequential spawn-and-wait of /bin/true through one launcher, from a parent holding --mem MiB.
// Prints {scenario, launcher, memMiB, rssMiB, samples: [ms, ...]}.
import { makeLauncher } from './launchers.mjs';
import { emit, holdMemory, rssMiB, scenarioOptions } from './scenario.mjs';

const o = scenarioOptions({ launcher: 'spawnGuest', mem: 0, warmup: 20, iterations: 400, budgetMs: 2000, minIterations: 20 });
holdMemory(o.mem);
const run = await makeLauncher(o.launcher);
for (let i = 0; i < o.warmup; i++) await run('/bin/true', []);

const samples = [];
const deadline = performance.now() + o.budgetMs;
while (samples.length < o.iterations && (samples.length < o.minIterations || performance.now() < deadline)) {
  const start = performance.now();
  await run('/bin/true', []);
  samples.push(performance.now() - start);
}
emit({ scenario: 'latency', launcher: o.launcher, memMiB: o.mem, rssMiB: rssMiB(), samples });
