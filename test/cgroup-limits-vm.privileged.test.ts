// Limits of a cgroup of the guest's own that need controllers these hosts keep on cgroup v1
// (memory, pids) or do not delegate (cpu, cpuset, io), and killTree by freezing, checked inside a
// throwaway VM with a pure cgroup v2 hierarchy (scripts/vm/boot.mjs: 2 CPUs, no disk, so the
// loop module's devices stand in for io.max); on Linux 5.10 too, which has no cgroup.kill, when
// the VM can boot it.
import { describe, expect, it } from 'vitest';
import { runInVm, vmUnavailableReason } from '../scripts/vm/boot.mjs';
import { FIXTURE_USERS, isRoot, notRootReason } from './support/fixtures.js';

/** How spawnGuest refused a launch (error: null when it did not), and the cgroups left. */
type Refusal = {
  name?: string;
  code?: string;
  step?: string;
  syscall?: string;
  option?: string;
  message?: string;
  left?: number;
  error?: null;
};

interface CgroupResults {
  kernel: string;
  cpusOnline: string;
  limits: { memoryMax: string; pidsMax: string; stdout: string; procs: number; gone: boolean };
  memory: { exit: { code: number | null; signal: string | null }; stdout: string; oomKill: number };
  controller: Refusal;
  cpuController: Refusal;
  cpu: {
    stdout: string;
    allowed: string;
    wall: number;
    cpu: number;
    seconds: number;
    stat: Record<'nr_periods' | 'nr_throttled' | 'throttled_usec' | 'usage_usec', number>;
    max: string;
    weight: string;
    cpus: string;
    cpusEffective: string;
    mems: string;
    gone: boolean;
  };
  io: {
    disk: string;
    device: string;
    weight: string;
    max: string;
    before: Refusal;
    deviceWeight: string;
  };
  freeze: { hasCgroupKill: boolean; signalled: boolean; pids: number; alive: number; gone: boolean };
  left: string[];
}

async function runJob(kernel?: string): Promise<CgroupResults> {
  let seen = '';
  const run = await runInVm(['node', 'test/support/vm-cgroup-job.mjs', FIXTURE_USERS.guest.name], {
    timeoutSeconds: 900,
    kernel,
    modules: ['loop'],
    onOutput: (text) => (seen += text),
  });
  expect(run.status, seen.slice(-3000)).toBe(0);
  const line = /CAPSPAWN-CGROUP-RESULT (.*)/.exec(run.console)?.[1];
  expect(line, seen.slice(-3000)).toBeDefined();
  const results = JSON.parse(line!) as CgroupResults;
  const { cpu } = results;
  console.log(
    `Linux ${results.kernel}, cpu.max ${cpu.max}: nr_throttled ${cpu.stat.nr_throttled} of ${cpu.stat.nr_periods} periods, ` +
      `throttled ${cpu.stat.throttled_usec / 1e6} s, usage ${cpu.stat.usage_usec / 1e6} s in ${cpu.seconds} s; the guest got ${cpu.cpu} s of CPU in ${cpu.wall} s; VM ${run.seconds} s`,
  );
  return results;
}

function expectControllerRefused(refusal: Refusal, controller: string, file: string): void {
  expect(refusal).toMatchObject({ name: 'RangeError', code: 'ERR_CAPSPAWN_CGROUP_CONTROLLER', option: `cgroup.limits.${file}`, left: 0 });
  expect(refusal.message).toContain(`echo +${controller} > /sys/fs/cgroup/capspawn-bare/cgroup.subtree_control`);
}

function expectResults(results: CgroupResults): void {
  // memory.max and pids.max written before the guest started; pids.max stops the eighth process.
  expect(results.limits.memoryMax).toBe(String(32 << 20));
  expect(results.limits.pidsMax).toBe('8');
  expect(results.limits.stdout).toBe('failed 11\nforked 7\n');
  expect(results.limits.procs).toBe(8);
  expect(results.limits.gone).toBe(true);
  // memory.max 32 MiB: the guest allocating 128 MiB is killed by the cgroup's OOM killer.
  expect(results.memory).toMatchObject({ exit: { code: null, signal: 'SIGKILL' }, stdout: '' });
  expect(results.memory.oomKill).toBeGreaterThanOrEqual(1);
  // A controller the parent has but does not enable for its children: named, how to enable it.
  expectControllerRefused(results.controller, 'memory', 'memory.max');
  expectControllerRefused(results.cpuController, 'cpu', 'cpu.max');
  // cpu.max 10 ms in 100 ms: a guest that spins is throttled by the kernel's own count, and its
  // CPU time is about a tenth of the wall time it spun.
  expect(results.cpu).toMatchObject({ max: '10000 100000', weight: '50', gone: true });
  expect(results.cpu.stat.nr_throttled).toBeGreaterThan(0);
  expect(results.cpu.stat.throttled_usec).toBeGreaterThan(0);
  expect(results.cpu.wall).toBeGreaterThanOrEqual(2);
  expect(results.cpu.cpu / results.cpu.wall).toBeLessThan(0.5);
  // cpuset.cpus 1 of the VM's 0-1: the guest's own /proc/self/status says CPU 1 alone.
  expect(results.cpusOnline).toBe('0-1');
  expect(results.cpu.allowed).toBe('1');
  expect(results.cpu).toMatchObject({ cpus: '1', cpusEffective: '1', mems: '0' });
  // io.weight without a device is the default weight; io.max names a device (loop0, 7:0).
  expect(results.io).toMatchObject({
    device: 'loop0',
    disk: '7:0',
    weight: 'default 50',
    max: '7:0 rbps=max wbps=1048576 riops=max wiops=max',
  });
  // io.weight for one device belongs to iocost, which is off on every device until the root's
  // io.cost.qos enables it there: before that the kernel refuses the write (EOPNOTSUPP), which
  // spawnGuest reports as the cgroup step's failure with nothing made; after it, it is kept.
  expect(results.io.before).toMatchObject({
    name: 'SpawnGuestError',
    code: 'ENOTSUP',
    step: 'cgroup',
    syscall: 'write',
    option: 'cgroup.limits.io.weight',
    left: 0,
  });
  expect(results.io.deviceWeight).toBe('default 100\n7:0 60');
  // Freeze, signal each process, thaw: nothing left, the directory removed.
  expect(results.freeze).toMatchObject({ signalled: true, pids: 5, alive: 0, gone: true });
  expect(results.left).toEqual([]);
}

const unavailable = vmUnavailableReason();
describe.runIf(isRoot && unavailable === undefined)(
  `cgroup limits and the freeze path in a VM (${isRoot ? (unavailable ?? 'qemu available') : notRootReason})`,
  () => {
    it('enforces memory.max (the OOM killer), pids.max, cpu.max and cpuset.cpus of a cgroup of its own, keeps cpu.weight, io.weight and io.max, names a controller not enabled, kills by freezing', async () => {
      expectResults(await runJob());
    }, 1_000_000);
  },
);

const old = vmUnavailableReason({ kernel: '5.10' });
describe.runIf(isRoot && old === undefined)(
  `the same on Linux 5.10, without cgroup.kill (${isRoot ? (old ?? 'qemu and the 5.10 kernel available') : notRootReason})`,
  () => {
    it('kills the tree by freezing, the only way there', async () => {
      const results = await runJob('5.10');
      expect(results.kernel).toMatch(/^5\.10\./);
      expect(results.freeze.hasCgroupKill).toBe(false);
      expectResults(results);
    }, 1_000_000);
  },
);
