/** Why no VM can run here (what to install), or undefined when one can. */
export function vmUnavailableReason(): string | undefined;

/** Runs `command` as root in the checkout, inside a throwaway VM; see boot.mjs. */
export function runInVm(
  command: string[],
  options?: { timeoutSeconds?: number; onOutput?: (text: string) => void },
): Promise<{ status: number; accel: string; console: string; seconds: number; kernel: string }>;

/** qemu's -cpu under emulation (TCG). */
export const TCG_CPU: string;

/** The kernel a VM boots: `{ path, version }`, or undefined when none is readable. */
export function findKernel(): { path: string; version: string } | undefined;

/** A statically linked busybox, or undefined. */
export function findBusybox(): string | undefined;

/** The module files for `modules` (default: the test VM's), dependencies first. */
export function moduleFiles(version: string, modules?: readonly string[]): string[];

/** One file of a "newc" cpio archive, as the kernel unpacks an initramfs. */
export function cpioEntry(name: string, mode: number, data?: Buffer): Buffer;
