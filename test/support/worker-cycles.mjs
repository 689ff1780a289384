// Starts and terminates worker threads while each one's spawnGuest is in flight, `cycles`
// times (argv[2]), terminating at once or a millisecond later so that some launches complete
// while their worker is being torn down. Prints {"ended": N}; a process that aborts prints nothing.
import { Worker } from 'node:worker_threads';

const cycles = Number(process.argv[2] ?? 10);
const user = process.argv[3] ?? 'nobody';
const dist = new URL('../../dist/index.js', import.meta.url).href;
let ended = 0;
for (let i = 0; i < cycles; i++) {
  const worker = new Worker(
    `const { parentPort, workerData } = require('node:worker_threads');
     import(workerData.dist).then(({ spawnGuest }) => {
       spawnGuest('/bin/true', [], { user: workerData.user, stdio: 'ignore' }).catch(() => {});
       parentPort.postMessage('started');
     });`,
    { eval: true, workerData: { dist, user } },
  );
  worker.on('message', () => setTimeout(() => worker.terminate(), i % 2));
  await new Promise((resolve) => worker.on('exit', resolve));
  ended++;
}
console.log(JSON.stringify({ ended }));
