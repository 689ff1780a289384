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
