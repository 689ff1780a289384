// A daemon that launches guests from several threads at once (rounds of concurrent launches on
// libuv's pool), then reports its dumpable flag before and after and who owns its /proc/<pid>
// (root, while its mm is non-dumpable). argv[2]: JSON { file, options, rounds, perRound }.
import { statSync } from 'node:fs';
import { spawnGuest } from '../../dist/index.js';
import { loadNative } from '../../dist/native.js';

const job = JSON.parse(process.argv[2]);
const native = loadNative();
const before = native.dumpable();
let launched = 0;
try {
  for (let round = 0; round < job.rounds; round++) {
    const launches = Array.from({ length: job.perRound }, async () => {
      const guest = await spawnGuest(job.file, [], { stdio: 'ignore', ...job.options });
      launched++;
      await guest.exited;
    });
    await Promise.all(launches);
  }
  console.log(
    JSON.stringify({
      ok: true,
      launched,
      before,
      after: native.dumpable(),
      procOwner: statSync(`/proc/${process.pid}`).uid,
      uid: process.getuid(),
    }),
  );
} catch (error) {
  console.log(JSON.stringify({ ok: false, launched, message: error.message }));
}
