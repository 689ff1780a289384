// Run inside the test VM (scripts/vm/boot.mjs) by test/memory-limit.privileged.test.ts: a guest
// placed in a cgroup with memory.max 32 MiB allocates 128 MiB; the same guest in a cgroup with
// room to spare. Prints one JSON line: what each guest printed, how it ended, and the
// cgroup's memory.events.
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { spawnGuest } from '../../dist/index.js';

const user = process.argv[2];
const allocate =
  "import sys; print(open('/proc/self/cgroup').read().strip(), flush=True); b = b'x' * (128 << 20); print('allocated', flush=True)";
const results = {};
for (const [name, max] of [
  ['limited', 32 << 20],
  ['roomy', 1 << 30],
]) {
  const cgroup = `/sys/fs/cgroup/capspawn-${name}`;
  mkdirSync(cgroup);
  writeFileSync(`${cgroup}/memory.max`, String(max));
  const guest = await spawnGuest('/usr/bin/python3', ['-c', allocate], { user, cgroup, stdio: ['ignore', 'pipe', 'inherit'] });
  let stdout = '';
  guest.stdout.setEncoding('utf8').on('data', (d) => (stdout += d));
  const exit = await guest.exited;
  await new Promise((resolve) => (guest.stdout.readableEnded ? resolve() : guest.stdout.once('close', resolve)));
  const events = Object.fromEntries(
    readFileSync(`${cgroup}/memory.events`, 'latin1')
      .trim()
      .split('\n')
      .map((l) => l.split(' '))
      .map(([k, v]) => [k, Number(v)]),
  );
  results[name] = { stdout, exit, events, max: readFileSync(`${cgroup}/memory.max`, 'latin1').trim() };
}
console.log(`CAPSPAWN-MEMORY-RESULT ${JSON.stringify(results)}`);
