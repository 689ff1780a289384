import { readFileSync } from 'node:fs';
import { errnoMessage } from '../errors.js';
import type { SpawnGuestOptions } from '../options.js';
import { UsageError } from './usage-error.js';

/**
 * The spawnGuest options a profile may hold: all of them except the two that only make sense
 * in code (`stdio`: the CLI always inherits; `signal`: an AbortSignal).
 */
export const PROFILE_FIELDS = [
  'user',
  'primaryGroup',
  'supplementaryGroups',
  'caps',
  'env',
  'passEnv',
  'cwd',
  'argv0',
  'detached',
  'umask',
  'noNewPrivileges',
  'limitBoundingSet',
  'parentDeathSignal',
  'timeout',
  'killSignal',
  'allowRoot',
] as const satisfies readonly (keyof SpawnGuestOptions)[];

/** A config file: spawnGuest options as one JSON object, shared by a daemon and its operator. */
export interface ConfigFile {
  path: string;
  fields: Record<string, unknown>;
}

/**
 * Reads a profile and refuses unknown fields, naming the file and the field. The values are
 * checked by spawnGuest itself, and an error about one names this file (see profile.ts).
 */
export function readConfigFile(path: string): ConfigFile {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (error) {
    const errno = (error as NodeJS.ErrnoException).errno;
    throw new UsageError(`--config ${path}: cannot read it: ${errno === undefined ? String(error) : errnoMessage(-errno)}`);
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
  const known: readonly string[] = PROFILE_FIELDS;
  for (const field of Object.keys(parsed)) {
    if (!known.includes(field)) {
      throw new UsageError(`${path}: unknown field "${field}": a profile holds ${PROFILE_FIELDS.join(', ')}`);
    }
  }
  return { path, fields: parsed as Record<string, unknown> };
}
