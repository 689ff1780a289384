#!/usr/bin/env node
// npm run test:vm: the privileged suite as root inside a throwaway VM (scripts/vm/boot.mjs),
// with privileged tests required, its output streamed here. Exits with the suite's status;
// a kernel panic, a hang past the time limit or a missing module is a failure saying so.
//   CAPSPAWN_VM_TESTS=a.test.ts:b.test.ts   only these files (default: the whole suite)
//   CAPSPAWN_VM_TIMEOUT=SECONDS             give up after this long (default 3600; with --arch
//                                           arm64 7200, its whole suite alone takes over an hour)
//   CAPSPAWN_VM_ACCEL=kvm|tcg               skip trying KVM first
//   CAPSPAWN_VM_KERNEL=/boot/vmlinuz-...    the kernel to boot (its modules must be installed)
// Arguments:
//   --kernel 5.10|6.1|6.12                  Debian's kernel of that release (scripts/vm/kernels.mjs)
//   --arch x64|arm64                        arm64: an emulated arm64 machine of Debian's packages,
//                                           running prebuilds/linux-arm64 (npm run prebuild:arm64)
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { runInVm, vmUnavailableReason } from './boot.mjs';
import { DEBIAN_KERNELS } from './kernels.mjs';

const checkout = new URL('../..', import.meta.url).pathname;
let options;
try {
  ({ values: options } = parseArgs({ options: { kernel: { type: 'string' }, arch: { type: 'string', default: 'x64' } } }));
} catch (error) {
  process.stderr.write(`test:vm: ${error.message}\n`);
  process.exit(2);
}
if (options.kernel !== undefined && !(options.kernel in DEBIAN_KERNELS)) {
  process.stderr.write(`test:vm: --kernel takes one of ${Object.keys(DEBIAN_KERNELS).join(', ')}, not ${options.kernel}\n`);
  process.exit(2);
}
const unavailable = vmUnavailableReason({ kernel: options.kernel, arch: options.arch });
if (unavailable) {
  process.stderr.write(`test:vm: cannot boot a VM here: ${unavailable}\n`);
  process.exit(2);
}
const arm64 = options.arch === 'arm64';
const arm64Prebuild = 'prebuilds/linux-arm64/capspawn.glibc.node';
const addon = (arm64 ? [arm64Prebuild] : ['build/Release/capspawn.node', 'prebuilds/linux-x64/capspawn.glibc.node']).some((f) =>
  existsSync(join(checkout, f)),
);
if (!existsSync(join(checkout, 'dist', 'index.js')) || !addon) {
  process.stderr.write(`test:vm: build first (npm run build${arm64 ? ' && npm run prebuild:arm64' : ''})\n`);
  process.exit(2);
}
const files = (process.env.CAPSPAWN_VM_TESTS ?? '').split(':').filter(Boolean);
const quoted = files.map((f) => `'${f.replace(/'/g, `'\\''`)}'`).join(' ');
// The suite, then the gate that fails on any skipped test; CI=1 keeps vitest's output plain.
// On arm64 the guest's copy of the checkout loses build/ (the host's x64 addon, which
// node-gyp-build would try first), so the addon is the cross-built prebuild.
const suite = `${arm64 ? 'rm -rf build && ' : ''}node node_modules/vitest/vitest.mjs run ${quoted} && node test/support/check-no-skips.mjs test-results.json`;
const fixtures = files.some((f) => f.startsWith('test/failing-fixtures/')) ? ['CAPSPAWN_FAILING_FIXTURES=1'] : [];
const command = ['/usr/bin/env', 'CI=1', 'CAPSPAWN_REQUIRE_PRIVILEGED=1', ...fixtures, '/bin/sh', '-c', suite];

const started = Date.now();
try {
  const run = await runInVm(command, {
    kernel: options.kernel,
    arch: options.arch,
    timeoutSeconds: Number(process.env.CAPSPAWN_VM_TIMEOUT ?? (arm64 ? 7200 : 3600)),
    onOutput: (text) => process.stdout.write(text),
    onAccelerator: (accel, why) =>
      process.stdout.write(`test:vm: booting with ${accel === 'kvm' ? 'KVM' : 'software emulation (TCG)'}: ${why}\n`),
  });
  const how = run.accel === 'kvm' ? 'KVM' : 'software emulation (TCG)';
  process.stdout.write(`\ntest:vm: the suite exited ${run.status} in the VM (kernel ${run.kernel}, ${how}, ${run.seconds} s)\n`);
  process.exit(run.status);
} catch (error) {
  process.stderr.write(`\ntest:vm: ${error.message} (after ${Math.round((Date.now() - started) / 1000)} s)\n`);
  process.exit(3);
}
