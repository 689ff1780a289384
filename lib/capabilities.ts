import { readKernelLimit } from './procfs.js';
import { invalidType, invalidValue, outOfRange } from './errors.js';

/**
 * Linux capability names by number (capabilities(7), include/uapi/linux/capability.h), in
 * the lower-case spelling that setpriv(1) and capsh(1) use.
 */
export const CAPABILITY_NAMES = [
  'chown',
  'dac_override',
  'dac_read_search',
  'fowner',
  'fsetid',
  'kill',
  'setgid',
  'setuid',
  'setpcap',
  'linux_immutable',
  'net_bind_service',
  'net_broadcast',
  'net_admin',
  'net_raw',
  'ipc_lock',
  'ipc_owner',
  'sys_module',
  'sys_rawio',
  'sys_chroot',
  'sys_ptrace',
  'sys_pacct',
  'sys_admin',
  'sys_boot',
  'sys_nice',
  'sys_resource',
  'sys_time',
  'sys_tty_config',
  'mknod',
  'lease',
  'audit_write',
  'audit_control',
  'setfcap',
  'mac_override',
  'mac_admin',
  'syslog',
  'wake_alarm',
  'block_suspend',
  'audit_read',
  'perfmon',
  'bpf',
  'checkpoint_restore',
] as const;

/** A capability name as capspawn knows it: `net_admin`. */
export type CapabilityName = (typeof CAPABILITY_NAMES)[number];

/**
 * A capability as the options accept it: `'net_admin'`, `'CAP_NET_ADMIN'`, `'cap_net_admin'`,
 * `'+net_admin'` (setpriv's spelling) or its number, `12`; at run time any case is accepted.
 */
export type CapabilitySpec = CapabilityName | `CAP_${Uppercase<CapabilityName>}` | `cap_${CapabilityName}` | `+${CapabilityName}` | number;

const capabilityNumbers = new Map<string, number>(CAPABILITY_NAMES.map((name, n) => [name, n]));

/** The kernel's number of a capability by its name: `capabilityNumber('sys_resource')` is 24. */
export function capabilityNumber(name: CapabilityName): number {
  return capabilityNumbers.get(name) as number;
}

/** The highest capability this kernel knows (/proc/sys/kernel/cap_last_cap), read once. */
export function capLastCap(): number {
  return readKernelLimit('cap_last_cap');
}

/** `CAP_NET_ADMIN` for 12; `CAP_41` for a number newer than this table. */
export function capabilityName(cap: number): string {
  const name = CAPABILITY_NAMES[cap];
  return name ? `CAP_${name.toUpperCase()}` : `CAP_${cap}`;
}

/**
 * The number of one capability, from any accepted spelling. Mis-cased names (`NET_ADMIN`,
 * `cap_net_admin`) are refused rather than guessed, so a typo never grants something else.
 */
export function parseCapability(spec: unknown, option = 'caps', lastCap = capLastCap()): number {
  if (typeof spec === 'number') {
    if (!Number.isInteger(spec) || spec < 0 || spec > lastCap) {
      throw outOfRange(option, `an integer from 0 to ${lastCap} (this kernel's cap_last_cap)`, spec);
    }
    return spec === 0 ? 0 : spec; // -0 is CAP_CHOWN and is reported as 0
  }
  if (typeof spec !== 'string') {
    throw invalidType(option, "a capability name such as 'net_admin' or a number", spec);
  }
  // Any case, with or without CAP_ (the spelling of getcap, capsh and /proc readers) or
  // setpriv's +: the names cannot collide, so nothing is guessed.
  const name = spec.replace(/^\+/, '').replace(/^cap_/i, '').toLowerCase();
  const cap = capabilityNumbers.get(name);
  if (cap === undefined) {
    const dashed = name.replace(/-/g, '_');
    const hint = capabilityNumbers.has(dashed) ? ` (did you mean '${dashed}'?)` : '';
    throw invalidValue(
      option,
      `names no capability${hint}; spellings are 'net_admin', 'CAP_NET_ADMIN', 'cap_net_admin', '+net_admin' or 12`,
      spec,
    );
  }
  if (cap > lastCap) {
    throw outOfRange(option, `a capability this kernel knows (cap_last_cap is ${lastCap})`, spec);
  }
  return cap;
}

/** The bit mask of a set of capability numbers, as /proc/<pid>/status shows it. */
export function capabilityMask(caps: Iterable<number>): bigint {
  let mask = 0n;
  for (const cap of caps) mask |= 1n << BigInt(cap);
  return mask;
}

/** The capability numbers set in a mask, ascending. */
export function capabilitiesInMask(mask: bigint): number[] {
  const caps: number[] = [];
  for (let cap = 0; mask >> BigInt(cap) !== 0n; cap++) {
    if ((mask >> BigInt(cap)) & 1n) caps.push(cap);
  }
  return caps;
}

/** A mask as the 16 hex digits of the `Cap*:` lines in /proc/<pid>/status. */
export function capabilityHex(mask: bigint): string {
  return mask.toString(16).padStart(16, '0');
}
