// The test VM's accelerator probe (scripts/vm/boot.mjs): KVM only when a short probe boot
// under it reaches its marker, software emulation (TCG) when KVM fails at once or hangs in the
// firmware, as KVM does on hosts that cannot run a guest. A stand-in qemu on PATH plays each
// kind of host; a stand-in device file plays /dev/kvm, so every host runs all three.
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runProgram } from './support/run.js';

const boot = new URL('../scripts/vm/boot.mjs', import.meta.url).href;

describe('the test VM picks its accelerator with a probe boot', () => {
  let dir = '';
  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'capspawn-vm-probe-test-'));
    writeFileSync(join(dir, 'kvm'), '');
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  /** probeAccelerator() in a process whose qemu-system-x86_64 runs `underKvm` for accel=kvm. */
  async function probe(underKvm: string, device = join(dir, 'kvm')): Promise<{ accel: string; why: string }> {
    const bin = mkdtempSync(join(dir, 'bin-'));
    const qemu = join(bin, 'qemu-system-x86_64');
    writeFileSync(qemu, `#!/bin/sh\ncase "$*" in *accel=kvm*) ${underKvm} ;; esac\necho "unexpected: $*"; exit 99\n`);
    chmodSync(qemu, 0o755);
    const run = await runProgram(
      process.execPath,
      [
        '--input-type=module',
        '-e',
        `const { probeAccelerator } = await import(${JSON.stringify(boot)}); console.log(JSON.stringify(await probeAccelerator('/nonexistent/vmlinuz')));`,
      ],
      {
        env: { ...process.env, PATH: `${bin}:${process.env.PATH ?? ''}`, CAPSPAWN_VM_KVM_DEVICE: device, CAPSPAWN_VM_ACCEL: '' },
        timeout: 120_000,
      },
    );
    expect(run.status, run.stderr).toBe(0);
    return JSON.parse(run.stdout) as { accel: string; why: string };
  }

  it('uses KVM when the probe boot reaches its init', async () => {
    const picked = await probe('echo "Booting from ROM..."; echo "capspawn-vm: kvm probe reached init"; exec sleep 600');
    expect(picked.accel).toBe('kvm');
    expect(picked.why).toMatch(/^a probe boot reached its init in [\d.]+ s$/);
  });

  it('falls back to TCG when KVM fails at once ("failed to set MSR 0x10a")', async () => {
    const picked = await probe('echo "qemu-system-x86_64: error: failed to set MSR 0x10a to 0x69" >&2; exit 1');
    expect(picked.accel).toBe('tcg');
    expect(picked.why).toMatch(
      /^KVM stopped without booting a probe \(qemu-system-x86_64: error: failed to set MSR 0x10a to 0x69\); software emulation took over after [\d.]+ s$/,
    );
  });

  it('falls back to TCG when KVM hangs in the firmware, after the probe time (10 s)', async () => {
    const picked = await probe('printf "SeaBIOS\\nBooting from ROM...\\n"; exec sleep 600');
    expect(picked.accel).toBe('tcg');
    expect(picked.why).toMatch(
      /^KVM hung for 10 s without booting a probe \(Booting from ROM\.\.\.\); software emulation took over after [\d.]+ s$/,
    );
  }, 60_000);

  it('uses TCG without a probe when there is no usable KVM device', async () => {
    expect(await probe('exit 98', join(dir, 'no-such-kvm'))).toEqual({ accel: 'tcg', why: `no usable ${join(dir, 'no-such-kvm')}` });
  });
});
