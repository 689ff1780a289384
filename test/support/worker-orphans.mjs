// Guests that outlive the worker thread that launched them, `cycles` times (argv[2]): each
// worker launches PROGRAM (argv[4]) with `sleep 600` as USER (argv[3]) and is terminated once
// the guest runs; then every guest is killed, and this process waits (up to 10 s) for them to
// be reaped. Prints {"reaped": N, "zombies": [pids]}; a zombie is a guest nobody reaped.
import { processState as state } from './children.mjs';
import { Worker } from 'node:worker_threads';

const [cycles, user, program] = [Number(process.argv[2] ?? 5), process.argv[3] ?? 'nobody', process.argv[4]];
const dist = new URL('../../dist/index.js', import.meta.url).href;

const pids = [];
for (let i = 0; i < cycles; i++) {
  const worker = new Worker(
    `const { parentPort, workerData: w } = require('node:worker_threads');
     import(w.dist).then(async ({ spawnGuest }) => {
       const guest = await spawnGuest(w.program, ['sleep', '600'], { user: w.user, stdio: 'ignore' });
       parentPort.postMessage(guest.pid);
     });`,
    { eval: true, workerData: { dist, user, program } },
  );
  pids.push(await new Promise((resolve) => worker.once('message', resolve)));
  await worker.terminate();
}
// A cycle takes seconds, and half a minute in an emulated machine on a busy host: a guest
// may have ended on its own (and been reaped) before its kill, which is as good.
for (const pid of pids) {
  try {
    process.kill(pid, 'SIGKILL');
  } catch (error) {
    if (error.code !== 'ESRCH') throw error;
  }
}
for (let tries = 0; tries < 200 && pids.some((pid) => state(pid) !== 'gone'); tries++)
  await new Promise((resolve) => setTimeout(resolve, 50));
const zombies = pids.filter((pid) => state(pid) !== 'gone');
console.log(JSON.stringify({ reaped: pids.length - zombies.length, zombies }));
