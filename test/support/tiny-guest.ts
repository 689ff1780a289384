// A tiny Linux guest for QEMU: Debian's kernel and busybox-static in an initramfs with
// virtio_net, whose init gives eth0 an address, pings the host side of its TAP and ends the
// VM. The pieces are the test VM's (scripts/vm/boot.mjs). Always emulated (TCG): the guest
// runs QEMU as an unprivileged user, who has no /dev/kvm. Emulation is slow where a real
// machine is quick, so the boot skips what it can: the kernel is decompressed here once and
// started through its PVH entry (no BIOS real mode, no decompression in the guest), the
// initramfs is not compressed, and ACPI is off (the guest ends with a reboot, which -no-reboot
// makes QEMU's exit).
import { execFileSync } from 'node:child_process';
import { chmodSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { busyboxInitramfs, findBusybox, findKernel, moduleFiles, TCG_CPU } from '../../scripts/vm/boot.mjs';

/** Printed on the console once the guest's ping of the host came back. */
export const ROUND_TRIP_MARKER = 'capspawn-guest: round trip to host ok';

export interface TinyGuest {
  /** qemu-system-x86_64's arguments for a guest on TAP `tap` (QEMU attaches, or creates it). */
  qemuArgs(tap: string): string[];
  remove(): void;
}

const XZ_MAGIC = Buffer.from([0xfd, 0x37, 0x7a, 0x58, 0x5a, 0x00]);

/**
 * The ELF kernel inside a bzImage whose payload is xz (Debian's amd64 kernels), written to
 * `file`; or the bzImage itself when it holds no xz stream.
 */
function uncompressedKernel(bzImage: string, file: string): string {
  const image = readFileSync(bzImage);
  const start = image.indexOf(XZ_MAGIC);
  if (start < 0) return bzImage;
  // xz reads the stream from a file, not a pipe: with --single-stream it exits after the
  // stream, and a pipe still holding the bzImage's trailing bytes would fail with EPIPE.
  const packed = `${file}.xz`;
  writeFileSync(packed, image.subarray(start));
  writeFileSync(file, execFileSync('xz', ['-dc', '--single-stream', packed], { maxBuffer: 512 << 20 }));
  rmSync(packed);
  chmodSync(file, 0o644);
  return file;
}

/** Builds the kernel and initramfs once: the guest is `guest`/30 and pings `host`. */
export function buildTinyGuest({ guest, host }: { guest: string; host: string }): TinyGuest {
  const kernel = findKernel();
  const busybox = findBusybox();
  if (!kernel || !busybox) throw new Error('a tiny guest needs a kernel (linux-image-amd64) and busybox-static');
  const modules = moduleFiles(kernel.version, ['virtio_pci', 'virtio_net']);
  const bb = '/bin/busybox';
  const init = `#!${bb} sh
${bb} mkdir -p /proc /sys /dev
${bb} mount -t proc proc /proc
${bb} mount -t sysfs sys /sys
for m in ${modules.map((_, i) => `/m/${i}.ko`).join(' ')}; do ${bb} insmod $m || echo "capspawn-guest: cannot load $m"; done
${bb} ip link set eth0 up && ${bb} ip addr add ${guest}/30 dev eth0 || echo "capspawn-guest: no eth0"
i=0
while [ $i -lt 300 ]; do
  if ${bb} ping -c 1 -W 1 ${host} >/dev/null 2>&1; then echo "${ROUND_TRIP_MARKER}"; break; fi
  i=$((i + 1))
done
${bb} reboot -f
`;
  const dir = mkdtempSync(join(tmpdir(), 'capspawn-guest-'));
  chmodSync(dir, 0o755);
  const initrd = join(dir, 'initrd.cpio');
  writeFileSync(initrd, busyboxInitramfs(busybox, init, modules));
  chmodSync(initrd, 0o644);
  const kernelFile = uncompressedKernel(kernel.path, join(dir, 'vmlinux'));
  return {
    qemuArgs: (tap) => [
      '-machine',
      'pc,accel=tcg',
      '-cpu',
      TCG_CPU,
      '-m',
      '128',
      '-smp',
      '1',
      '-nodefaults',
      '-display',
      'none',
      '-serial',
      'stdio',
      '-no-reboot',
      '-kernel',
      kernelFile,
      '-initrd',
      initrd,
      '-append',
      'console=ttyS0 panic=-1 quiet loglevel=3 acpi=off mitigations=off',
      '-netdev',
      `tap,id=net0,ifname=${tap},script=no,downscript=no`,
      '-device',
      'virtio-net-pci,netdev=net0',
    ],
    remove: () => rmSync(dir, { recursive: true, force: true }),
  };
}
