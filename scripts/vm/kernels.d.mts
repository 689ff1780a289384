/** The kernel releases the test VM can boot, and the Debian suite whose kernel each one is. */
export const DEBIAN_KERNELS: Record<string, string>;

/** Where fetched kernels are kept. */
export function kernelCacheDir(): string;

/** The URI of the Debian archive among the apt sources under `dir` (default /etc/apt). */
export function debianMirror(dir?: string): string | undefined;

/** Debian's kernel for `release`, fetched once into the cache; see kernels.mjs. */
export function debianKernel(release: string, arch?: string): { path: string; version: string; modules: string };
