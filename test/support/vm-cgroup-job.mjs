// Run inside the test VM (scripts/vm/boot.mjs, a pure cgroup v2 hierarchy) by
// test/cgroup-limits-vm.privileged.test.ts: cgroups of the guests' own with memory.max and
// pids.max enforced, the error for a controller the parent does not enable, and killTree
// by freezing (the only way on a kernel without cgroup.kill; forced on one with it). Prints one
// JSON line.
import { existsSync, mkdirSync, readdirSync, readFileSync, rmdirSync, writeFileSync } from 'node:fs';
import { once } from 'node:events';
import { treeTestHooks } from '../../dist/cgroup-tree.js';
import { spawnGuest } from '../../dist/index.js';

const user = process.argv[2];
const root = '/sys/fs/cgroup';
const results = { kernel: readFileSync('/proc/sys/kernel/osrelease', 'latin1').trim() };
writeFileSync(`${root}/cgroup.subtree_control`, '+memory +pids');
const parent = `${root}/capspawn-vms`;
mkdirSync(parent);
writeFileSync(`${parent}/cgroup.subtree_control`, '+memory +pids');

// pids.max 8: the guest and seven children, then fork fails with EAGAIN.
const forker =
  "import os, time\nn = 0\nfor i in range(50):\n  try:\n    pid = os.fork()\n  except OSError as e:\n    print('failed', e.errno, flush=True); break\n  if pid == 0:\n    time.sleep(300); os._exit(0)\n  n += 1\nprint('forked', n, flush=True)\ntime.sleep(300)";
const limited = await spawnGuest('/usr/bin/python3', ['-c', forker], {
  user,
  cgroup: { parent, limits: { 'memory.max': 32 << 20, 'pids.max': 8 } },
  stdio: ['ignore', 'pipe', 'inherit'],
});
let out = '';
limited.stdout.setEncoding('utf8').on('data', (d) => (out += d));
while (!out.includes('forked')) await once(limited.stdout, 'data');
results.limits = {
  memoryMax: readFileSync(`${limited.cgroup}/memory.max`, 'latin1').trim(),
  pidsMax: readFileSync(`${limited.cgroup}/pids.max`, 'latin1').trim(),
  stdout: out,
  procs: readFileSync(`${limited.cgroup}/cgroup.procs`, 'latin1').trim().split('\n').length,
};
const dir = limited.cgroup;
await limited.killTree();
await limited.treeExited;
results.limits.gone = !existsSync(dir);

// The parent has memory but does not enable it for its children.
const bare = `${root}/capspawn-bare`;
mkdirSync(bare);
try {
  await spawnGuest('/bin/true', [], { user, cgroup: { parent: bare, limits: { 'memory.max': 1 << 20 } }, stdio: 'ignore' });
  results.controller = { error: null };
} catch (error) {
  results.controller = {
    name: error.name,
    code: error.code,
    option: error.option,
    message: error.message,
    left: readdirSync(bare, { withFileTypes: true }).filter((e) => e.isDirectory()).length,
  };
}
rmdirSync(bare);

// The freeze path: a tree with an orphan and a SIGTERM ignorer, killed with SIGKILL.
results.freeze = { hasCgroupKill: existsSync(`${parent}/cgroup.kill`) };
treeTestHooks.withoutCgroupKill = true;
const tree = await spawnGuest('/bin/sh', ['-c', `sleep 300 & (sleep 300 &); sh -c 'trap "" TERM; sleep 300 & wait' & echo ready; wait`], {
  user,
  cgroup: { parent },
  stdio: ['ignore', 'pipe', 'inherit'],
});
await once(tree.stdout, 'data');
while (readFileSync(`${tree.cgroup}/cgroup.procs`, 'latin1').trim().split('\n').length < 5) await new Promise((r) => setTimeout(r, 20));
const pids = readFileSync(`${tree.cgroup}/cgroup.procs`, 'latin1').trim().split('\n').map(Number);
const treeDir = tree.cgroup;
results.freeze.signalled = await tree.killTree('SIGKILL');
await tree.treeExited;
results.freeze.pids = pids.length;
results.freeze.alive = pids.filter(
  (pid) => existsSync(`/proc/${pid}/stat`) && !/\) Z /.test(readFileSync(`/proc/${pid}/stat`, 'latin1')),
).length;
results.freeze.gone = !existsSync(treeDir);

rmdirSync(parent);
console.log(`CAPSPAWN-CGROUP-RESULT ${JSON.stringify(results)}`);
