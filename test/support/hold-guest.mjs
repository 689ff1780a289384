// Spawns one guest, prints {"pid": N} and then keeps running (or, with "unref", lets the event
// loop end while the guest still runs). argv[2]: JSON { file, args, options, unref }.
import { spawnGuest } from '../../dist/index.js';

const job = JSON.parse(process.argv[2]);
const guest = await spawnGuest(job.file, job.args ?? [], { stdio: 'ignore', ...job.options });
console.log(JSON.stringify({ pid: guest.pid }));
if (job.unref) guest.unref();
else setInterval(() => {}, 1 << 30);
