// A worker_thread that spawns one guest and posts back what it printed, to show that a
// launch from a worker gives the same child as one from the main thread.
// workerData: { file, args, options }.
import { parentPort, workerData } from 'node:worker_threads';
import { spawnGuest } from '../../dist/index.js';

const guest = await spawnGuest(workerData.file, workerData.args, { stdio: ['ignore', 'pipe', 'ignore'], ...workerData.options });
let stdout = '';
guest.stdout.setEncoding('utf8').on('data', (d) => (stdout += d));
const exit = await guest.exited;
await new Promise((resolve) => (guest.stdout.readableEnded ? resolve() : guest.stdout.once('close', resolve)));
parentPort.postMessage({ ...exit, stdout });
