#!/usr/bin/env node
// npm run test:vm:kernels: the kernel-dependent part of the privileged suite in the test VM on
// every kernel it boots: 5.10 has no CLOSE_RANGE_CLOEXEC (the fd walk) and no cgroup.kill (the
// freezer kills a tree); 6.1 (Debian 12's, the hosts' own) and 6.12 have both. Runs
// scripts/vm/test-vm.mjs once per kernel with CAPSPAWN_VM_TESTS set to FILES, prints the
// seconds each run took, and exits non-zero if any failed.
//   --kernel 5.10 (repeatable)   only these kernels (default: 5.10, 6.1 and 6.12)
import { spawnSync } from 'node:child_process';
import { parseArgs } from 'node:util';

/** The files, and the branches that make them kernel-dependent (docs/test-vm.md). */
export const FILES = [
  'test/credentials.privileged.test.ts', // close_range (6.12) or the fd walk (5.10) at every launch
  'test/fail-closed.privileged.test.ts', // every step's failure, fd_walk's on 5.10
  'test/hardening/child-state.privileged.test.ts', // the fds a guest sees, the walk forced and real
  'test/placement.privileged.test.ts', // joining a cgroup from the child, limits, namespaces
  'test/guest.privileged.test.ts', // pidfd waits, signals and exits
  'test/cgroup-tree.privileged.test.ts', // killTree: cgroup.kill (5.14+) or the freezer
];
export const KERNELS = ['5.10', '6.1', '6.12'];

const { values } = parseArgs({ options: { kernel: { type: 'string', multiple: true } } });
const script = new URL('./test-vm.mjs', import.meta.url).pathname;
const env = { ...process.env, CAPSPAWN_VM_TESTS: FILES.join(':') };
const results = [];
for (const kernel of values.kernel ?? KERNELS) {
  const started = Date.now();
  const run = spawnSync(process.execPath, [script, '--kernel', kernel], { env, stdio: 'inherit' });
  results.push({ kernel, status: run.status ?? 1, seconds: Math.round((Date.now() - started) / 1000) });
}
for (const r of results)
  process.stdout.write(`test:vm:kernels: ${r.kernel}: ${r.status === 0 ? 'passed' : `failed (${r.status})`} in ${r.seconds} s\n`);
process.exit(results.every((r) => r.status === 0) ? 0 : 1);
