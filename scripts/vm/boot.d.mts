/** Why no VM can run here (what to install), or undefined when one can. */
export function vmUnavailableReason(options?: { kernel?: string }): string | undefined;

/** Runs `command` as root in the checkout, inside a throwaway VM; see boot.mjs. */
export function runInVm(
  command: string[],
  options?: {
    timeoutSeconds?: number;
    onOutput?: (text: string) => void;
    onAccelerator?: (accel: string, why: string) => void;
    kernel?: string;
    /** More of the kernel's modules to load at boot, such as ['loop'] for block devices. */
    modules?: string[];
  },
): Promise<{ status: number; accel: string; why: string; console: string; seconds: number; kernel: string }>;

/** The accelerator a VM would boot `kernelPath` with, after a short probe boot; see boot.mjs. */
export function probeAccelerator(kernelPath: string): Promise<{ accel: string; why: string }>;

/** qemu's -cpu under emulation (TCG). */
export const TCG_CPU: string;

/** A kernel a VM can boot, and its /lib/modules/VERSION directory. */
export interface VmKernel {
  path: string;
  version: string;
  modules: string;
}

/** Debian's kernel `release` (fetched), or this host's / the newest installed one; see boot.mjs. */
export function findKernel(release?: string): VmKernel | undefined;

/** A statically linked busybox, or undefined. */
export function findBusybox(): string | undefined;

/** The module files for `names` (default: the test VM's) of `kernel`, dependencies first. */
export function moduleFiles(kernel: VmKernel | string, names?: readonly string[]): string[];

/**
 * An initramfs (uncompressed "newc" cpio) of a static busybox, `init` as /init and `modules` as
 * /m/0.ko, /m/1.ko, ... in their order, unpacked where they are xz-compressed.
 */
export function busyboxInitramfs(busybox: string, init: string, modules: readonly string[]): Buffer;
