import { loadNative } from '../../native.js';
import { readProcStatus } from '../../procfs.js';

/** What this process can hand to a guest: its own credentials, as the kernel shows them. */
export interface LauncherCredentials {
  uid: number;
  effective: bigint;
  permitted: bigint;
  bounding: bigint;
  noNewPrivileges: boolean;
  /** PR_GET_SECUREBITS: /proc/<pid>/status does not show them. */
  securebits: number;
}

/** Bits of prctl(PR_GET_SECUREBITS), from linux/securebits.h. */
export const SECBIT_KEEP_CAPS_LOCKED = 1 << 5;
export const SECBIT_NO_CAP_AMBIENT_RAISE = 1 << 6;

/** Every securebit by its name in SecureBits= of systemd.exec(5), bit 0 first. */
const SECUREBIT_NAMES = [
  'noroot',
  'noroot-locked',
  'no-setuid-fixup',
  'no-setuid-fixup-locked',
  'keep-caps',
  'keep-caps-locked',
  'no-cap-ambient-raise',
  'no-cap-ambient-raise-locked',
];

/** `0x43 (noroot noroot-locked no-cap-ambient-raise)`, or `0x0 (none)`. */
export function describeSecurebits(bits: number): string {
  const names = SECUREBIT_NAMES.filter((_, bit) => (bits >> bit) & 1);
  return `0x${bits.toString(16)} (${names.join(' ') || 'none'})`;
}

export async function readLauncherCredentials(): Promise<LauncherCredentials> {
  const status = await readProcStatus('self');
  return {
    uid: status.uid.effective,
    effective: status.capabilities.effective.mask,
    permitted: status.capabilities.permitted.mask,
    bounding: status.capabilities.bounding.mask,
    noNewPrivileges: status.noNewPrivileges,
    securebits: loadNative().securebits(),
  };
}

export function maskHas(mask: bigint, cap: number): boolean {
  return ((mask >> BigInt(cap)) & 1n) === 1n;
}
