import type { SpawnGuestOptions } from '../options.js';
import type { CommandLine } from './command-line.js';
import type { ConfigFile } from './config-file.js';
import { flagForOption, GUEST_FLAGS, stdioFromFlags } from './guest-flags.js';
import { UsageError } from './usage-error.js';

/** The spawnGuest options of one invocation, and where each came from. */
export interface GuestProfile {
  options: SpawnGuestOptions;
  /**
   * Who set an option, for messages about it: `--caps`, or `guest.json: field "caps[1]"`.
   * `optionPath` is the `option` of the library's errors.
   */
  sourceOf(optionPath: string): string;
  /** The TAP devices doctor checks: the profile's `taps`, then each --tap. */
  taps: string[];
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return value !== null && typeof value === 'object' && !Array.isArray(value);
}

/**
 * Config file first, flags over it: a flag replaces the file's field, except that --env and
 * --pass-env add to the file's `env` and `passEnv` (an --env variable wins over the file's).
 */
export function buildGuestProfile(line: CommandLine, config: ConfigFile | undefined, { userRequired = true } = {}): GuestProfile {
  const groupFlags = [...new Set(line.order)].filter((flag) =>
    GUEST_FLAGS.some((f) => f.flag === flag && f.option === 'supplementaryGroups'),
  );
  if (groupFlags.length > 1) {
    throw new UsageError(
      `${groupFlags.map((f) => `--${f}`).join(' and ')} exclude each other: give one of --groups, --init-groups, --clear-groups`,
    );
  }

  // A profile holds no stdio, so --append has nothing to act on without these flags.
  if (line.values.append !== undefined && line.values.stdout === undefined && line.values.stderr === undefined) {
    throw new UsageError('--append appends to the --stdout and --stderr files: give --stdout FILE or --stderr FILE with it');
  }

  const { taps: fileTaps = [], ...fileFields } = config?.fields ?? {};
  if (!Array.isArray(fileTaps) || !fileTaps.every((t) => typeof t === 'string')) {
    throw new UsageError(`${config?.path}: field "taps" must be a list of TAP device names, such as ["cvd-mtap-01"]`);
  }
  const taps = [...fileTaps, ...((line.values.tap as string[] | undefined) ?? [])];
  const options: Record<string, unknown> = { ...fileFields };
  const fromFlags = new Set<string>();
  for (const spec of GUEST_FLAGS) {
    const value = line.values[spec.flag];
    if (value === undefined) continue;
    const option = spec.option;
    const fromFlag = spec.toOption(value);
    if (option === 'env' && isRecord(fileFields.env)) options.env = { ...fileFields.env, ...(fromFlag as object) };
    else if (option === 'passEnv' && Array.isArray(fileFields.passEnv))
      options.passEnv = [...(fileFields.passEnv as unknown[]), ...(fromFlag as string[])];
    else if (option === 'stdio') options.stdio = stdioFromFlags(fromFlags.has('stdio') ? options.stdio : undefined, fromFlag);
    else if (fromFlag === undefined) delete options[option];
    else options[option] = fromFlag;
    fromFlags.add(option);
  }
  if (userRequired && options.user === undefined) {
    throw new UsageError(`no user given: pass --user USER${config ? `, or set "user" in ${config.path}` : ''}`);
  }

  const fileSource = (path: string) => `${config?.path}: field "${path}"`;
  const sourceOf = (path: string): string => {
    const [top = path, rest] = path.split(/[.[]/, 2);
    if (!fromFlags.has(top)) return top in fileFields ? fileSource(path) : (flagForOption(top) ?? path);
    const flag = flagForOption(top) ?? path;
    if (
      top === 'env' &&
      isRecord(fileFields.env) &&
      rest !== undefined &&
      rest in fileFields.env &&
      !(line.values.env as string[]).some((a) => a.startsWith(`${rest}=`))
    ) {
      return fileSource(path);
    }
    if (
      top === 'passEnv' &&
      Array.isArray(fileFields.passEnv) &&
      rest !== undefined &&
      Number.parseInt(rest, 10) < fileFields.passEnv.length
    )
      return fileSource(path);
    return flag;
  };
  return { options: options as unknown as SpawnGuestOptions, sourceOf, taps };
}
