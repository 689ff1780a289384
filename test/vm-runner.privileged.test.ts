// npm run test:vm must fail when a test inside the VM fails: the runner is checked with a
// fixture that fails on purpose (test/failing-fixtures/), booted in a real VM.
import { spawn } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { vmUnavailableReason } from '../scripts/vm/boot.mjs';
import { isRoot, notRootReason } from './support/fixtures.js';

const unavailable = vmUnavailableReason();
const runner = new URL('../scripts/vm/test-vm.mjs', import.meta.url).pathname;

describe.runIf(isRoot && unavailable === undefined)(
  `npm run test:vm (${isRoot ? (unavailable ?? 'qemu available') : notRootReason})`,
  () => {
    it('exits non-zero and shows the failure when a test inside the VM fails', async () => {
      const child = spawn(process.execPath, [runner], {
        env: { ...process.env, CAPSPAWN_VM_TESTS: 'test/failing-fixtures/vm-fails-on-purpose.test.ts', CAPSPAWN_VM_TIMEOUT: '600' },
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      let output = '';
      child.stdout.setEncoding('utf8').on('data', (d: string) => (output += d));
      child.stderr.setEncoding('utf8').on('data', (d: string) => (output += d));
      const status = await new Promise<number | null>((resolve) => child.on('close', resolve));
      expect(output).toContain('fails on purpose inside the VM');
      // It says which accelerator ran and why, and which kernel the guest booted.
      expect(output).toMatch(/^test:vm: booting with (KVM|software emulation \(TCG\)): \S/m);
      const booted = /capspawn-vm: booted Linux (\S+)/.exec(output)?.[1];
      expect(booted).toBeDefined();
      expect(output).toMatch(
        new RegExp(
          `test:vm: the suite exited [1-9]\\d* in the VM \\(kernel ${booted?.replace(/[.+]/g, '\\$&')}, (KVM|software emulation \\(TCG\\))`,
        ),
      );
      expect(status, output.slice(-3000)).not.toBe(0);
    }, 700_000);
  },
);
