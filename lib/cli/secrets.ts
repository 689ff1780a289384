/**
 * Name parts that mark a variable as secret. explain prints the guest's environment, which
 * ends up in terminals, tickets and CI logs; these values are masked unless --show-secrets.
 */
const SECRET_NAME_PARTS = ['TOKEN', 'SECRET', 'PASSWORD', 'PASSWD', 'PASSPHRASE', 'KEY', 'CREDENTIAL', 'PRIVATE'];

/** What a masked value is shown as. */
export const MASKED_VALUE = '********';

export function looksSecret(name: string): boolean {
  const upper = name.toUpperCase();
  return SECRET_NAME_PARTS.some((part) => upper.includes(part));
}

/** The environment as it may be printed: secret-looking values masked unless `showSecrets`. */
export function printableEnvironment(env: readonly [string, string][], showSecrets: boolean): [string, string][] {
  return env.map(([name, value]) => [name, !showSecrets && looksSecret(name) ? MASKED_VALUE : value]);
}
