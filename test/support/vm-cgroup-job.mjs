// Run inside the test VM (scripts/vm/boot.mjs, a pure cgroup v2 hierarchy, booted with the loop
// module for block devices) by test/cgroup-limits-vm.privileged.test.ts: cgroups of the guests'
// own with memory.max (the OOM killer) and pids.max enforced, cpu.max throttling a guest that spins, cpuset.cpus
// as the guest sees it, cpu.weight, io.weight and io.max as the kernel keeps them, the error for
// a controller the parent does not enable, and killTree by freezing (the only way on a kernel
// without cgroup.kill; forced on one with it). Prints one JSON line.
import { existsSync, mkdirSync, readdirSync, readFileSync, rmdirSync, writeFileSync } from 'node:fs';
import { once } from 'node:events';
import { treeTestHooks } from '../../dist/cgroup-tree.js';
import { alive } from './children.mjs';
import { spawnGuest } from '../../dist/index.js';

const user = process.argv[2];
const root = '/sys/fs/cgroup';
const read = (file) => readFileSync(file, 'latin1').trim();
const subdirs = (dir) => readdirSync(dir, { withFileTypes: true }).filter((e) => e.isDirectory()).length;
/** The guest's stdout up to a match of `until`; rejects when it ends first. */
function output(guest, until) {
  return new Promise((resolve, reject) => {
    let text = '';
    guest.stdout.setEncoding('utf8');
    guest.stdout.on('data', (d) => until.test((text += d)) && resolve(text));
    guest.stdout.on('end', () => reject(new Error(`the guest's stdout ended before ${until}: ${JSON.stringify(text)}`)));
  });
}
const results = { kernel: read('/proc/sys/kernel/osrelease'), cpusOnline: read('/sys/devices/system/cpu/online') };
// Every controller a limit below needs: a kernel without one fails the run here, by name.
const controllers = ['memory', 'pids', 'cpu', 'cpuset', 'io'];
const available = read(`${root}/cgroup.controllers`).split(' ');
const missing = controllers.filter((c) => !available.includes(c));
if (missing.length > 0)
  throw new Error(
    `Linux ${results.kernel} in the VM has no ${missing.join(', ')} controller (${root}/cgroup.controllers: ${available.join(' ')})`,
  );
// The VM has no disk: io.max needs a block device, which the loop module gives (loop0, 7:0).
const blockDevices = readdirSync('/sys/block').sort();
if (blockDevices.length === 0)
  throw new Error('the VM has no block device for io.max (/sys/block is empty; runInVm loads the loop module for one)');
const disk = read(`/sys/block/${blockDevices[0]}/dev`);
const enable = controllers.map((c) => `+${c}`).join(' ');
writeFileSync(`${root}/cgroup.subtree_control`, enable);
const parent = `${root}/capspawn-vms`;
mkdirSync(parent);
writeFileSync(`${parent}/cgroup.subtree_control`, enable);

// pids.max 8: the guest and seven children, then fork fails with EAGAIN.
const forker =
  "import os, time\nn = 0\nfor i in range(50):\n  try:\n    pid = os.fork()\n  except OSError as e:\n    print('failed', e.errno, flush=True); break\n  if pid == 0:\n    time.sleep(300); os._exit(0)\n  n += 1\nprint('forked', n, flush=True)\ntime.sleep(300)";
const limited = await spawnGuest('/usr/bin/python3', ['-c', forker], {
  user,
  cgroup: { parent, limits: { 'memory.max': 32 << 20, 'pids.max': 8 } },
  stdio: ['ignore', 'pipe', 'inherit'],
});
const out = await output(limited, /forked \d+\n/);
results.limits = {
  memoryMax: read(`${limited.cgroup}/memory.max`),
  pidsMax: read(`${limited.cgroup}/pids.max`),
  stdout: out,
  procs: read(`${limited.cgroup}/cgroup.procs`).split('\n').length,
};
const dir = limited.cgroup;
await limited.killTree();
await limited.treeExited;
results.limits.gone = !existsSync(dir);

// memory.max 32 MiB: a guest that allocates 128 MiB is killed by the cgroup's OOM killer, as
// its memory.events says (kept to be read, then removed here).
const allocator = await spawnGuest('/usr/bin/python3', ['-c', "b = b'x' * (128 << 20); print('allocated', flush=True)"], {
  user,
  cgroup: { parent, limits: { 'memory.max': 32 << 20 }, keep: true },
  stdio: ['ignore', 'pipe', 'inherit'],
});
let allocated = '';
allocator.stdout.setEncoding('utf8').on('data', (d) => (allocated += d));
results.memory = { exit: await allocator.exited };
await allocator.treeExited;
results.memory.stdout = allocated;
results.memory.oomKill = Number(/^oom_kill (\d+)$/m.exec(read(`${allocator.cgroup}/memory.events`))?.[1]);
rmdirSync(allocator.cgroup);

// The parent has memory and cpu but does not enable them for its children.
const bare = `${root}/capspawn-bare`;
mkdirSync(bare);
/** How spawnGuest refuses `limits` under `under`, and how many cgroups that left there. */
async function refused(under, limits) {
  try {
    await spawnGuest('/bin/true', [], { user, cgroup: { parent: under, limits }, stdio: 'ignore' });
    return { error: null };
  } catch (error) {
    const { name, code, step, syscall, option, message } = error;
    return { name, code, step, syscall, option, message, left: subdirs(under) };
  }
}
results.controller = await refused(bare, { 'memory.max': 1 << 20 });
results.cpuController = await refused(bare, { 'cpu.max': '10000 100000' });
rmdirSync(bare);

// cpu.max 10 ms in 100 ms, on CPU 1 alone: the guest prints the CPUs it may run on, spins for
// 2 s of wall time and prints that time and the CPU time it got, then sleeps.
const spinner =
  "import time\nprint('cpus', [l.split()[1] for l in open('/proc/self/status') if l.startswith('Cpus_allowed_list:')][0], flush=True)\n" +
  'wall, cpu = time.monotonic(), time.process_time()\nwhile time.monotonic() - wall < 2: pass\n' +
  "print('spun %.2f %.2f' % (time.monotonic() - wall, time.process_time() - cpu), flush=True)\ntime.sleep(300)";
const started = Date.now();
const spinning = await spawnGuest('/usr/bin/python3', ['-c', spinner], {
  user,
  cgroup: {
    parent,
    limits: {
      'cpu.max': '10000 100000',
      'cpu.weight': 50,
      'cpuset.cpus': '1',
      'cpuset.mems': '0',
      'io.weight': 50,
      'io.max': `${disk} wbps=1048576`,
    },
  },
  stdio: ['ignore', 'pipe', 'inherit'],
});
const spun = await output(spinning, /spun .*\n/);
const seconds = (Date.now() - started) / 1000;
const stat = Object.fromEntries(
  read(`${spinning.cgroup}/cpu.stat`)
    .split('\n')
    .map((line) => [line.split(' ')[0], Number(line.split(' ')[1])]),
);
const [, wall, cpu] = /spun (\S+) (\S+)/.exec(spun).map(Number);
results.cpu = {
  stdout: spun,
  allowed: /^cpus (\S+)/.exec(spun)?.[1],
  wall,
  cpu,
  seconds,
  stat,
  max: read(`${spinning.cgroup}/cpu.max`),
  weight: read(`${spinning.cgroup}/cpu.weight`),
  cpus: read(`${spinning.cgroup}/cpuset.cpus`),
  cpusEffective: read(`${spinning.cgroup}/cpuset.cpus.effective`),
  mems: read(`${spinning.cgroup}/cpuset.mems`),
};
results.io = { disk, device: blockDevices[0], weight: read(`${spinning.cgroup}/io.weight`), max: read(`${spinning.cgroup}/io.max`) };
const spinningDir = spinning.cgroup;
await spinning.killTree();
await spinning.treeExited;
results.cpu.gone = !existsSync(spinningDir);

// io.weight for one device is iocost's: the kernel refuses it (EOPNOTSUPP, Node's ENOTSUP)
// until the root's io.cost.qos enables iocost on that device, then keeps it.
const deviceWeight = { 'io.weight': `${disk} 60` };
results.io.before = await refused(parent, deviceWeight);
writeFileSync(`${root}/io.cost.qos`, `${disk} enable=1`);
const weighted = await spawnGuest('/bin/true', [], { user, cgroup: { parent, limits: deviceWeight, keep: true }, stdio: 'ignore' });
await weighted.treeExited;
results.io.deviceWeight = read(`${weighted.cgroup}/io.weight`);
rmdirSync(weighted.cgroup);
writeFileSync(`${root}/io.cost.qos`, `${disk} enable=0`);

// The freeze path: a tree with an orphan and a SIGTERM ignorer, killed with SIGKILL.
results.freeze = { hasCgroupKill: existsSync(`${parent}/cgroup.kill`) };
treeTestHooks.withoutCgroupKill = true;
const tree = await spawnGuest('/bin/sh', ['-c', `sleep 300 & (sleep 300 &); sh -c 'trap "" TERM; sleep 300 & wait' & echo ready; wait`], {
  user,
  cgroup: { parent },
  stdio: ['ignore', 'pipe', 'inherit'],
});
await once(tree.stdout, 'data');
while (read(`${tree.cgroup}/cgroup.procs`).split('\n').length < 5) await new Promise((r) => setTimeout(r, 20));
const pids = read(`${tree.cgroup}/cgroup.procs`).split('\n').map(Number);
const treeDir = tree.cgroup;
results.freeze.signalled = await tree.killTree('SIGKILL');
await tree.treeExited;
results.freeze.pids = pids.length;
results.freeze.alive = alive(pids).length;
results.freeze.gone = !existsSync(treeDir);

rmdirSync(parent);
results.left = readdirSync(root).filter((name) => name.startsWith('capspawn-'));
console.log(`CAPSPAWN-CGROUP-RESULT ${JSON.stringify(results)}`);
