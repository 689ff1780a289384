// The securebits (prctl(2) PR_GET_SECUREBITS, linux/securebits.h): one table of their names,
// each bit's value derived from its place in it.

/** Every securebit by its name in SecureBits= of systemd.exec(5), bit 0 first. */
export const SECUREBIT_NAMES = [
  'noroot',
  'noroot-locked',
  'no-setuid-fixup',
  'no-setuid-fixup-locked',
  'keep-caps',
  'keep-caps-locked',
  'no-cap-ambient-raise',
  'no-cap-ambient-raise-locked',
] as const;

/** The value of one securebit: `securebit('keep-caps')` is 1 << 4. */
function securebit(name: (typeof SECUREBIT_NAMES)[number]): number {
  return 1 << SECUREBIT_NAMES.indexOf(name);
}

export const SECBIT_NOROOT = securebit('noroot');
export const SECBIT_NOROOT_LOCKED = securebit('noroot-locked');
export const SECBIT_KEEP_CAPS = securebit('keep-caps');
export const SECBIT_KEEP_CAPS_LOCKED = securebit('keep-caps-locked');
export const SECBIT_NO_CAP_AMBIENT_RAISE = securebit('no-cap-ambient-raise');

/** `0x43 (noroot noroot-locked no-cap-ambient-raise)`, or `0x0 (none)`. */
export function describeSecurebits(bits: number): string {
  const names = SECUREBIT_NAMES.filter((_, bit) => (bits >> bit) & 1);
  return `0x${bits.toString(16)} (${names.join(' ') || 'none'})`;
}
