import { readFileSync } from 'node:fs';
import { errnoMessage } from '../errors.js';
import { KNOWN_OPTIONS } from '../options.js';
import type { FlagSpec } from './command-line.js';
import { UsageError } from './usage-error.js';

export const CONFIG_FLAG: FlagSpec = {
  flag: 'config',
  valueName: 'FILE',
  help: 'read options from a JSON profile; flags override it',
};

/**
 * Options a profile may not hold: `capspawn run` decides stdio (inherited, except what --stdout
 * and --stderr send to files) and the terminal (a pty when on one); an AbortSignal is no JSON.
 */
const CODE_ONLY_OPTIONS = new Set(['stdio', 'terminal', 'signal']);

/** The spawnGuest options a profile may hold: every option except the code-only ones. */
export const PROFILE_FIELDS: readonly string[] = [...KNOWN_OPTIONS].filter((option) => !CODE_ONLY_OPTIONS.has(option));

/** A profile's fields for the command line only, never passed to spawnGuest: `taps`, the devices doctor checks (--tap). */
export const CLI_PROFILE_FIELDS: readonly string[] = ['taps'];

/** A config file: spawnGuest options as one JSON object, shared by a daemon and its operator. */
export interface ConfigFile {
  path: string;
  fields: Record<string, unknown>;
}

/**
 * Reads a profile and refuses unknown fields, naming the file and the field. The values are
 * checked by spawnGuest itself, and an error about one names this file (see guest-profile.ts).
 */
export function readConfigFile(path: string): ConfigFile {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (error) {
    const { code, errno } = error as NodeJS.ErrnoException;
    const reason = errno === undefined ? String(error) : `${code} (${errnoMessage(-errno)})`;
    throw new UsageError(`--config ${path}: cannot read it: ${reason}`);
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (error) {
    throw new UsageError(`${path}: not valid JSON: ${(error as Error).message}`);
  }
  if (parsed === null || typeof parsed !== 'object' || Array.isArray(parsed)) {
    throw new UsageError(`${path}: must hold one JSON object of spawnGuest options, such as {"user": "justin", "caps": ["net_admin"]}`);
  }
  for (const field of Object.keys(parsed)) {
    if (!PROFILE_FIELDS.includes(field) && !CLI_PROFILE_FIELDS.includes(field)) {
      throw new UsageError(`${path}: unknown field "${field}": a profile holds ${[...PROFILE_FIELDS, ...CLI_PROFILE_FIELDS].join(', ')}`);
    }
  }
  return { path, fields: parsed as Record<string, unknown> };
}
