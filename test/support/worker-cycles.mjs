// Starts and terminates worker threads while each one's spawnGuest is in flight, `cycles`
// times (argv[2]), terminating at once or a millisecond later so that some launches complete
// while their worker is being torn down. Prints {"ended": N, "fdsBefore": n, "fdsAfter": n};
// a process that aborts prints nothing. fdsBefore is read after one worker has launched and
// waited for a guest, so that what a process opens once is open already.
import { readdirSync } from 'node:fs';
import { Worker } from 'node:worker_threads';

const cycles = Number(process.argv[2] ?? 10);
const user = process.argv[3] ?? 'nobody';
const dist = new URL('../../dist/index.js', import.meta.url).href;
const openFds = () => readdirSync('/proc/self/fd').length;

/** One worker that launches a guest; terminated `delay` ms after it started the launch, or never. */
async function cycle(delay, wait) {
  const worker = new Worker(
    `const { parentPort, workerData } = require('node:worker_threads');
     import(workerData.dist).then(async ({ spawnGuest }) => {
       const started = spawnGuest('/bin/true', [], { user: workerData.user, stdio: 'pipe' });
       if (workerData.wait) await (await started).exited;
       else started.catch(() => {});
       parentPort.postMessage('started');
     });`,
    { eval: true, workerData: { dist, user, wait } },
  );
  worker.on('message', () => setTimeout(() => worker.terminate(), delay));
  await new Promise((resolve) => worker.on('exit', resolve));
}

await cycle(0, true);
const fdsBefore = openFds();
let ended = 0;
for (let i = 0; i < cycles; i++) {
  await cycle(i % 2, false);
  ended++;
}
await new Promise((resolve) => setTimeout(resolve, 100));
console.log(JSON.stringify({ ended, fdsBefore, fdsAfter: openFds() }));
