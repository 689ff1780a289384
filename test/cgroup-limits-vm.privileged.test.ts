// Limits of a cgroup of the guest's own that need controllers these hosts keep on cgroup v1
// (memory, pids), and killTree by freezing, checked inside a throwaway VM with a pure cgroup v2
// hierarchy (scripts/vm/boot.mjs); on Linux 5.10 too, which has no cgroup.kill, when the VM can
// boot it.
import { describe, expect, it } from 'vitest';
import { runInVm, vmUnavailableReason } from '../scripts/vm/boot.mjs';
import { FIXTURE_USERS, isRoot, notRootReason } from './support/fixtures.js';

interface CgroupResults {
  kernel: string;
  limits: { memoryMax: string; pidsMax: string; stdout: string; procs: number; gone: boolean };
  controller: { name?: string; code?: string; option?: string; message?: string; left?: number; error?: null };
  freeze: { hasCgroupKill: boolean; signalled: boolean; pids: number; alive: number; gone: boolean };
}

async function runJob(kernel?: string): Promise<CgroupResults> {
  let console = '';
  const run = await runInVm(['node', 'test/support/vm-cgroup-job.mjs', FIXTURE_USERS.guest.name], {
    timeoutSeconds: 900,
    kernel,
    onOutput: (text) => (console += text),
  });
  expect(run.status, console.slice(-3000)).toBe(0);
  const line = /CAPSPAWN-CGROUP-RESULT (.*)/.exec(run.console)?.[1];
  expect(line, console.slice(-3000)).toBeDefined();
  return JSON.parse(line!) as CgroupResults;
}

function expectResults(results: CgroupResults): void {
  // memory.max and pids.max written before the guest started; pids.max stops the eighth process.
  expect(results.limits.memoryMax).toBe(String(32 << 20));
  expect(results.limits.pidsMax).toBe('8');
  expect(results.limits.stdout).toBe('failed 11\nforked 7\n');
  expect(results.limits.procs).toBe(8);
  expect(results.limits.gone).toBe(true);
  // A controller the parent has but does not enable for its children: named, how to enable it.
  expect(results.controller).toMatchObject({
    name: 'RangeError',
    code: 'ERR_CAPSPAWN_CGROUP_CONTROLLER',
    option: 'cgroup.limits.memory.max',
    left: 0,
  });
  expect(results.controller.message).toContain('echo +memory > /sys/fs/cgroup/capspawn-bare/cgroup.subtree_control');
  // Freeze, signal each process, thaw: nothing left, the directory removed.
  expect(results.freeze).toMatchObject({ signalled: true, pids: 5, alive: 0, gone: true });
}

const unavailable = vmUnavailableReason();
describe.runIf(isRoot && unavailable === undefined)(
  `cgroup limits and the freeze path in a VM (${isRoot ? (unavailable ?? 'qemu available') : notRootReason})`,
  () => {
    it('enforces memory.max and pids.max of a cgroup of its own, names a controller not enabled, kills by freezing', async () => {
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
