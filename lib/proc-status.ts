import { readFile } from 'node:fs/promises';
import { capabilitiesInMask, capabilityHex, capabilityName } from './capabilities.js';

/** The four ids of a process, as the Uid: and Gid: lines give them. */
export interface IdQuad {
  /** Real id. */
  real: number;
  /** Effective id. */
  effective: number;
  /** Saved set-id. */
  saved: number;
  /** File-system id. */
  filesystem: number;
}

/** One capability set: the mask, its hex form as in /proc, and the names of its bits. */
export interface CapabilitySet {
  /** The set as a bit mask: bit 12 is CAP_NET_ADMIN. */
  mask: bigint;
  /** The 16 hex digits /proc shows: `0000000000001000`. */
  hex: string;
  /** Names of the capabilities in the set, ascending: `['CAP_NET_ADMIN']`. */
  names: string[];
}

/** The credential-related parts of /proc/<pid>/status. */
export interface ProcStatus {
  /** The command name (`Name:`). */
  name: string;
  /** `Pid:` */
  pid: number;
  /** `PPid:` */
  ppid: number;
  /** `State:`, e.g. `S (sleeping)`. */
  state: string;
  /** `Uid:` real, effective, saved and file-system uid. */
  uid: IdQuad;
  /** `Gid:` real, effective, saved and file-system gid. */
  gid: IdQuad;
  /** `Groups:` the supplementary groups. */
  groups: number[];
  /** The five capability sets. */
  capabilities: {
    /** `CapInh:` */
    inheritable: CapabilitySet;
    /** `CapPrm:` */
    permitted: CapabilitySet;
    /** `CapEff:` */
    effective: CapabilitySet;
    /** `CapBnd:` */
    bounding: CapabilitySet;
    /** `CapAmb:` */
    ambient: CapabilitySet;
  };
  /** `NoNewPrivs:` */
  noNewPrivileges: boolean;
  /** 0 disabled, 1 strict, 2 filter. */
  seccomp: number;
  /** Signal masks. */
  signals: {
    /** `SigBlk:` */
    blocked: bigint;
    /** `SigIgn:` */
    ignored: bigint;
    /** `SigCgt:` */
    caught: bigint;
  };
  /** Every line, by its key. */
  fields: Record<string, string>;
}

function quad(value: string | undefined): IdQuad {
  const [real = NaN, effective = NaN, saved = NaN, filesystem = NaN] = (value ?? '').split(/\s+/).map(Number);
  return { real, effective, saved, filesystem };
}

function capabilitySet(value: string | undefined): CapabilitySet {
  const mask = BigInt(`0x${value ?? '0'}`);
  return { mask, hex: capabilityHex(mask), names: capabilitiesInMask(mask).map(capabilityName) };
}

/** Parses the text of a /proc/<pid>/status file. */
export function parseProcStatus(text: string): ProcStatus {
  const fields: Record<string, string> = {};
  for (const line of text.split('\n')) {
    const colon = line.indexOf(':');
    if (colon > 0) fields[line.slice(0, colon)] = line.slice(colon + 1).trim();
  }
  const hex = (key: string) => BigInt(`0x${fields[key] ?? '0'}`);
  return {
    name: fields.Name ?? '',
    pid: Number(fields.Pid),
    ppid: Number(fields.PPid),
    state: fields.State ?? '',
    uid: quad(fields.Uid),
    gid: quad(fields.Gid),
    groups: (fields.Groups ?? '').split(/\s+/).filter(Boolean).map(Number),
    capabilities: {
      inheritable: capabilitySet(fields.CapInh),
      permitted: capabilitySet(fields.CapPrm),
      effective: capabilitySet(fields.CapEff),
      bounding: capabilitySet(fields.CapBnd),
      ambient: capabilitySet(fields.CapAmb),
    },
    noNewPrivileges: fields.NoNewPrivs === '1',
    seccomp: Number(fields.Seccomp ?? 0),
    signals: { blocked: hex('SigBlk'), ignored: hex('SigIgn'), caught: hex('SigCgt') },
    fields,
  };
}

/**
 * Reads and parses /proc/<pid>/status of any process. For a guest, prefer
 * `guest.credentials()`, which cannot read a later process that reused the pid.
 */
export async function readProcStatus(pid: number | 'self'): Promise<ProcStatus> {
  return parseProcStatus(await readFile(`/proc/${pid}/status`, 'latin1'));
}
