import { invalidType, invalidValue } from './errors.js';

/** Why a `passEnv` glob never copies a variable (see {@link GLOB_SKIPPED_VARIABLES}). */
export type GlobSkipReason = 'identity' | 'loader' | 'interpreter';

/**
 * Every variable a `passEnv` glob never copies, and why; a name ending in `*` stands for every
 * variable it begins. Naming a variable exactly in `passEnv`, or setting it in `env`, still
 * passes it: that is an explicit choice.
 *
 * - `identity`: the target's own PATH, HOME, USER, LOGNAME and SHELL (`passEnv: ['*']` must
 *   not give a guest `nobody` HOME=/root).
 * - `loader`: ambient capabilities do not put ld.so into secure mode (AT_SECURE is set only for
 *   set-id and file-capability programs), so the dynamic loader and libc would obey these in
 *   the guest: glibc's unsecure list (sysdeps/generic/unsecvars.h) and the LD_, MALLOC_ and
 *   GLIBC_ families.
 * - `interpreter`: start-up hooks that make a shell, a runtime or a library run code or load
 *   modules of the caller's choosing before the program's own (bash's exported functions and
 *   its rc, trace and option variables; the JVM's, Perl's, Python's, Ruby's, Lua's, Node's,
 *   PHP's and Tcl's option and path variables; OpenSSL's configuration and modules), which a
 *   guest holding capabilities would run with them.
 */
export const GLOB_SKIPPED_VARIABLES: Readonly<Record<string, GlobSkipReason>> = Object.freeze({
  PATH: 'identity',
  HOME: 'identity',
  USER: 'identity',
  LOGNAME: 'identity',
  SHELL: 'identity',

  'LD_*': 'loader',
  'MALLOC_*': 'loader',
  'GLIBC_*': 'loader',
  GCONV_PATH: 'loader',
  GETCONF_DIR: 'loader',
  HOSTALIASES: 'loader',
  LOCALDOMAIN: 'loader',
  LOCPATH: 'loader',
  NIS_PATH: 'loader',
  NLSPATH: 'loader',
  RESOLV_HOST_CONF: 'loader',
  RES_OPTIONS: 'loader',
  TMPDIR: 'loader',
  TZDIR: 'loader',

  'BASH_FUNC_*': 'interpreter',
  BASH_ENV: 'interpreter',
  ENV: 'interpreter',
  SHELLOPTS: 'interpreter',
  BASHOPTS: 'interpreter',
  PS4: 'interpreter',
  PROMPT_COMMAND: 'interpreter',
  ZDOTDIR: 'interpreter',
  JAVA_TOOL_OPTIONS: 'interpreter',
  _JAVA_OPTIONS: 'interpreter',
  JDK_JAVA_OPTIONS: 'interpreter',
  CLASSPATH: 'interpreter',
  PERL5OPT: 'interpreter',
  PERL5LIB: 'interpreter',
  PERLLIB: 'interpreter',
  PERL5DB: 'interpreter',
  PERLIO_DEBUG: 'interpreter',
  PYTHONSTARTUP: 'interpreter',
  PYTHONPATH: 'interpreter',
  PYTHONHOME: 'interpreter',
  PYTHONINSPECT: 'interpreter',
  PYTHONBREAKPOINT: 'interpreter',
  PYTHONUSERBASE: 'interpreter',
  PYTHONWARNINGS: 'interpreter',
  PYTHONEXECUTABLE: 'interpreter',
  RUBYOPT: 'interpreter',
  RUBYLIB: 'interpreter',
  'LUA_INIT*': 'interpreter',
  'LUA_PATH*': 'interpreter',
  'LUA_CPATH*': 'interpreter',
  NODE_OPTIONS: 'interpreter',
  NODE_PATH: 'interpreter',
  NODE_REPL_EXTERNAL_MODULE: 'interpreter',
  PHPRC: 'interpreter',
  PHP_INI_SCAN_DIR: 'interpreter',
  TCLLIBPATH: 'interpreter',
  OPENSSL_CONF: 'interpreter',
  OPENSSL_ENGINES: 'interpreter',
  OPENSSL_MODULES: 'interpreter',
});

const skippedExactly = new Map<string, GlobSkipReason>();
const skippedPrefixes: [string, GlobSkipReason][] = [];
for (const [name, reason] of Object.entries(GLOB_SKIPPED_VARIABLES)) {
  if (name.endsWith('*')) skippedPrefixes.push([name.slice(0, -1), reason]);
  else skippedExactly.set(name, reason);
}

/** Why a `passEnv` glob skips this variable, or undefined when a glob may copy it. */
export function globSkipReason(name: string): GlobSkipReason | undefined {
  return skippedExactly.get(name) ?? skippedPrefixes.find(([prefix]) => name.startsWith(prefix))?.[1];
}

/** The exactly named loader and interpreter variables of {@link GLOB_SKIPPED_VARIABLES}. */
export const LOADER_VARIABLES: ReadonlySet<string> = new Set(
  [...skippedExactly].filter(([, reason]) => reason !== 'identity').map(([name]) => name),
);

/** Whether a `passEnv` glob skips this variable as a loader or interpreter hook (see {@link GLOB_SKIPPED_VARIABLES}). */
export function isLoaderVariable(name: string): boolean {
  const reason = globSkipReason(name);
  return reason === 'loader' || reason === 'interpreter';
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
  const body = glob
    .replace(/[.+^${}()|[\]\\]/g, '\\$&')
    .replace(/\*/g, '.*')
    .replace(/\?/g, '.');
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
      if (value !== undefined && matcher.test(name) && globSkipReason(name) === undefined) out.set(name, value);
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
  for (const [name, value] of Object.entries(env as Record<string, unknown>)) {
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
