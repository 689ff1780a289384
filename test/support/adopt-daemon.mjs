// A supervisor before its restart (test/adopt-guest.privileged.test.ts): launches a detached
// guest tree into a cgroup of its own under argv[3], with the credentials argv[5] asks for (JSON:
// primaryGroup, supplementaryGroups, caps), prints one JSON line and exits, leaving the tree
// running.
import { readFileSync } from 'node:fs';
import { spawnGuest } from '../../dist/index.js';

const [user, parent, log, credentials = '{}'] = process.argv.slice(2);
const guest = await spawnGuest('/bin/sh', ['-c', 'sleep 300 & (sleep 300 &); echo started; exec sleep 300'], {
  user,
  ...JSON.parse(credentials),
  detached: true,
  cgroup: { parent },
  stdio: ['ignore', { file: log }, { file: log }],
});
// Wait until the tree is whole: the guest's log says so.
while (!readFileSync(log, 'utf8').includes('started')) await new Promise((r) => setTimeout(r, 20));
console.log(JSON.stringify({ pid: guest.pid, cgroup: guest.cgroup }));
guest.unref();
