#!/usr/bin/env node
// npm run test:vm:arm64-subset: the files CI runs on every run in the emulated arm64 machine
// (docs/test-vm.md), through scripts/vm/test-vm.mjs --arch arm64 with CAPSPAWN_VM_TESTS set to
// FILES; exits with its status. Builds nothing: run after npm run build:ts && npm run
// prebuild:arm64, as .ci/run does.
import { spawnSync } from 'node:child_process';

/** The guest's credentials, the launch failing closed, a guest's launch and life, the fds,
 * signals and environment it starts with. */
export const FILES = [
  'test/credentials.privileged.test.ts',
  'test/fail-closed.privileged.test.ts',
  'test/guest.privileged.test.ts',
  'test/hardening/child-state.privileged.test.ts',
];

const script = new URL('./test-vm.mjs', import.meta.url).pathname;
const run = spawnSync(process.execPath, [script, '--arch', 'arm64'], {
  env: { ...process.env, CAPSPAWN_VM_TESTS: FILES.join(':') },
  stdio: 'inherit',
});
process.exit(run.status ?? 1);
