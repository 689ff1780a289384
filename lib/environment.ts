import { invalidType, invalidValue } from './errors.js';

/**
 * Variables a `passEnv` glob never copies. Ambient capabilities do not put ld.so into secure
 * mode (AT_SECURE is set only for set-id and file-capability programs), so the dynamic loader
 * and libc would obey these in the guest. The set is glibc's unsecure list
 * (sysdeps/generic/unsecvars.h) plus Node's and a few runtimes' own preload switches.
 * Naming a variable exactly in `passEnv`, or setting it in `env`, still passes it.
 */
export const LOADER_VARIABLES: ReadonlySet<string> = new Set([
  'GCONV_PATH',
  'GETCONF_DIR',
  'GLIBC_TUNABLES',
  'HOSTALIASES',
  'LOCALDOMAIN',
  'LOCPATH',
  'NIS_PATH',
  'NLSPATH',
  'RESOLV_HOST_CONF',
  'RES_OPTIONS',
  'TMPDIR',
  'TZDIR',
  'NODE_OPTIONS',
  'NODE_PATH',
  'NODE_REPL_EXTERNAL_MODULE',
  'PYTHONPATH',
  'PYTHONSTARTUP',
  'PYTHONHOME',
  'PERL5LIB',
  'PERL5OPT',
  'RUBYOPT',
  'RUBYLIB',
  'BASH_ENV',
  'ENV',
]);

/** Prefixes of loader variables: `LD_PRELOAD`, `LD_AUDIT`, `MALLOC_CHECK_`, ... */
const LOADER_PREFIXES = ['LD_', 'MALLOC_', 'GLIBC_'];

/** Whether a `passEnv` glob skips this variable (see {@link LOADER_VARIABLES}). */
export function isLoaderVariable(name: string): boolean {
  return LOADER_VARIABLES.has(name) || LOADER_PREFIXES.some((prefix) => name.startsWith(prefix));
}

/** The PATH a guest gets unless `env` or `passEnv` says otherwise: sudo's secure_path. */
export const DEFAULT_PATH = '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin';

/** Who the guest runs as, for the variables that describe it. */
export interface EnvironmentIdentity {
  name: string;
  home: string;
  shell: string;
}

export interface EnvironmentRequest {
  /** The target's passwd entry; null for a uid with none (no HOME, USER, LOGNAME, SHELL). */
  identity: EnvironmentIdentity | null;
  /** Explicit variables; `undefined` removes a default. */
  env?: Readonly<Record<string, string | undefined>>;
  /** Names or globs (`*`, `?`) copied from `source`. */
  passEnv?: readonly string[];
  /** Where `passEnv` copies from; `process.env` by default. */
  source?: Readonly<Record<string, string | undefined>>;
}

function globToRegExp(glob: string): RegExp {
  const body = glob.replace(/[.+^${}()|[\]\\]/g, '\\$&').replace(/\*/g, '.*').replace(/\?/g, '.');
  return new RegExp(`^${body}$`, 's');
}

export function isGlob(pattern: string): boolean {
  return pattern.includes('*') || pattern.includes('?');
}

/** Checks one variable name: non-empty, no `=`, no NUL. */
export function checkVariableName(name: string, option: string): void {
  if (name === '' || name.includes('=') || name.includes('\0')) {
    throw invalidValue(option, 'must be a variable name: not empty, without "=" or NUL bytes', name);
  }
}

/**
 * The guest's environment, in order: PATH and the target's HOME, USER, LOGNAME, SHELL; then
 * what `passEnv` copies; then `env`, which overrides both.
 */
export function buildEnvironment(request: EnvironmentRequest): Map<string, string> {
  const out = new Map<string, string>([['PATH', DEFAULT_PATH]]);
  const who = request.identity;
  if (who) {
    out.set('HOME', who.home);
    out.set('USER', who.name);
    out.set('LOGNAME', who.name);
    out.set('SHELL', who.shell);
  }

  const source = request.source ?? process.env;
  for (const pattern of request.passEnv ?? []) {
    if (!isGlob(pattern)) {
      const value = source[pattern];
      if (value !== undefined) out.set(pattern, value);
      continue;
    }
    const matcher = globToRegExp(pattern);
    for (const [name, value] of Object.entries(source)) {
      if (value !== undefined && matcher.test(name) && !isLoaderVariable(name)) out.set(name, value);
    }
  }

  for (const [name, value] of Object.entries(request.env ?? {})) {
    if (value === undefined) out.delete(name);
    else out.set(name, value);
  }
  return out;
}

/** Validates the `env` option: string values without NUL; `undefined` removes. */
export function checkEnvOption(env: unknown): Record<string, string | undefined> | undefined {
  if (env === undefined) return undefined;
  if (env === null || typeof env !== 'object' || Array.isArray(env)) {
    throw invalidType('env', 'an object of string values', env);
  }
  const out: Record<string, string | undefined> = {};
  for (const [name, value] of Object.entries(env)) {
    const option = `env.${name}`;
    checkVariableName(name, option);
    if (value !== undefined && typeof value !== 'string') throw invalidType(option, 'a string or undefined', value);
    if (value?.includes('\0')) throw invalidValue(option, 'must not contain NUL bytes', value);
    out[name] = value;
  }
  return out;
}

/** Validates the `passEnv` option: names or globs. */
export function checkPassEnvOption(passEnv: unknown): string[] | undefined {
  if (passEnv === undefined) return undefined;
  if (!Array.isArray(passEnv)) throw invalidType('passEnv', 'an array of variable names or globs', passEnv);
  return passEnv.map((pattern: unknown, i) => {
    const option = `passEnv[${i}]`;
    if (typeof pattern !== 'string') throw invalidType(option, 'a variable name or glob', pattern);
    checkVariableName(pattern, option);
    return pattern;
  });
}
