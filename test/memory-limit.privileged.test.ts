// memory.max of the guest's cgroup is enforced on it. This needs the memory controller in a
// cgroup v2 hierarchy, which hosts that keep memory on cgroup v1 (hybrid mounts, as on these
// machines) cannot offer; so the check runs inside a throwaway VM with a pure v2 hierarchy.
import { describe, expect, it } from 'vitest';
import { runInVm, vmUnavailableReason } from '../scripts/vm/boot.mjs';
import { FIXTURE_USERS, isRoot, notRootReason } from './support/fixtures.js';

const unavailable = vmUnavailableReason();

describe.runIf(isRoot && unavailable === undefined)(
  `memory.max in a VM (${isRoot ? (unavailable ?? 'qemu available') : notRootReason})`,
  () => {
    it("kills a guest that goes over its cgroup's memory.max, and not one under it", async () => {
      let console = '';
      const run = await runInVm(['node', 'test/support/vm-memory-job.mjs', FIXTURE_USERS.guest.name], {
        timeoutSeconds: 900,
        onOutput: (text) => (console += text),
      });
      expect(run.status, console.slice(-3000)).toBe(0);
      const line = /CAPSPAWN-MEMORY-RESULT (.*)/.exec(run.console)?.[1];
      expect(line, console.slice(-3000)).toBeDefined();
      const results = JSON.parse(line!) as Record<
        'limited' | 'roomy',
        { stdout: string; exit: { code: number | null; signal: string | null }; events: Record<string, number>; max: string }
      >;

      // In its cgroup from its first instruction, then killed by the OOM killer at the limit.
      expect(results.limited.stdout).toBe('0::/capspawn-limited\n');
      expect(results.limited.exit).toEqual({ code: null, signal: 'SIGKILL' });
      expect(results.limited.events.oom_kill).toBeGreaterThanOrEqual(1);
      expect(results.limited.max).toBe(String(32 << 20));
      // The control: the same allocation with room to spare.
      expect(results.roomy.stdout).toBe('0::/capspawn-roomy\nallocated\n');
      expect(results.roomy.exit).toEqual({ code: 0, signal: null });
      expect(results.roomy.events.oom_kill).toBe(0);
    }, 1_000_000);
  },
);
