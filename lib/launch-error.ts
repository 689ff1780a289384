import { readFileSync, statSync } from 'node:fs';
import { capabilityName } from './capabilities.js';
import { signalName } from './options.js';
import { rlimitName } from './placement.js';
import { readOwnStatus, type ProcStatus } from './procfs.js';
import { errnoMessage, errnoName, shortText, SpawnGuestError, type SpawnGuestErrorFields } from './errors.js';
import type { LaunchReport } from './native.js';
import { STEP_NAMES, STEP_SYSCALLS, stepCapability, VERIFY_ITEMS } from './steps.js';

/** For an error message: whether `path` names a directory (execve's EACCES does not say). */
function isDirectory(path: string | undefined): boolean {
  try {
    return path !== undefined && statSync(path).isDirectory();
  } catch {
    return false;
  }
}

/** A name from /etc/passwd or /etc/group for an error message, else the number. */
function nameOf(id: number, file: '/etc/passwd' | '/etc/group'): string {
  try {
    const line = readFileSync(file, 'latin1')
      .split('\n')
      .find((l) => l.split(':')[2] === String(id));
    if (line) return line.slice(0, line.indexOf(':'));
  } catch {}
  return `${file === '/etc/passwd' ? 'uid' : 'gid'} ${id}`;
}

/** File capabilities as getcap writes them: `cap_net_raw+ep`, `cap_chown,cap_kill+i`. */
export function describeFileCapabilities(magic: number, permitted: readonly number[], inheritable: readonly number[]): string {
  const has = (words: readonly number[], cap: number) => ((words[cap >> 5] ?? 0) >>> (cap & 31)) & 1;
  const groups = new Map<string, string[]>();
  for (let cap = 0; cap < 64; cap++) {
    const p = has(permitted, cap);
    const i = has(inheritable, cap);
    if (!p && !i) continue;
    const flags = `${p && magic & 1 ? 'e' : ''}${i ? 'i' : ''}${p ? 'p' : ''}`;
    groups.set(flags, [...(groups.get(flags) ?? []), capabilityName(cap).toLowerCase()]);
  }
  return [...groups].map(([flags, names]) => `${names.join(',')}+${flags}`).join(' ') || '(empty set)';
}

/**
 * What a program carries that execve would honour for a guest of `uid` and `gid`, from the
 * facts the child reports (`LaunchReport.program`): "set-user-ID root", "set-group-ID shadow",
 * "file capabilities cap_net_raw+ep". `refuse` says which of them the launch refuses.
 */
export function programPrivileges(
  program: readonly number[],
  target: { uid: number; gid: number },
  refuse: { setId: boolean; fileCaps: boolean } = { setId: true, fileCaps: true },
): string[] {
  const [mode = 0, uid = 0, gid = 0, magic = 0, p0 = 0, p1 = 0, i0 = 0, i1 = 0] = program;
  const found: string[] = [];
  if (refuse.setId && mode & 0o4000 && uid !== target.uid) found.push(`set-user-ID ${nameOf(uid, '/etc/passwd')}`);
  if (refuse.setId && (mode & 0o2010) === 0o2010 && gid !== target.gid) found.push(`set-group-ID ${nameOf(gid, '/etc/group')}`);
  if (refuse.fileCaps && magic & 0xff000000) found.push(`file capabilities ${describeFileCapabilities(magic, [p0, p1], [i0, i1])}`);
  return found;
}

/** Why a program is refused, and the way out: for the launch's error and for explain. */
export function privilegedProgramReason(path: string, carries: readonly string[]): string {
  const fileCaps = carries.some((c) => c.startsWith('file capabilities'));
  return (
    `${path} carries ${carries.join(' and ')}, which execve would honour: the guest would not run with the credentials asked for` +
    (fileCaps ? ' (file capabilities also clear its ambient set, even under noNewPrivileges)' : '') +
    '. To run it anyway, with what the kernel then gives, pass allowPrivilegedPrograms: true (CLI --allow-privileged-programs)' +
    (fileCaps ? '' : ', or set noNewPrivileges, under which the kernel ignores set-id bits')
  );
}

/** What the error message may draw on. */
export interface LaunchContext {
  file: string;
  candidates: readonly string[];
  cwd: string | undefined;
  uid: number;
  gid: number;
  caps: readonly number[];
  guestPath: string | undefined;
  spawnargs: readonly string[];
  /** The cgroup.procs file joined, when `cgroup` was given. */
  cgroupProcs?: string;
  /** The guest's soft RLIMIT_NOFILE, when `rlimits.nofile` was given. */
  nofile?: bigint;
}

/** Which requested capabilities this process cannot hand out, and why, from its own status. */
function missingCapabilities(caps: readonly number[]): string {
  let status: ProcStatus;
  try {
    status = readOwnStatus();
  } catch {
    return 'check CapPrm and CapBnd in /proc/self/status';
  }
  const bounding = status.capabilities.bounding.mask;
  const permitted = status.capabilities.permitted.mask;
  const reasons = caps.flatMap((cap) => {
    const bit = 1n << BigInt(cap);
    if (!(bounding & bit)) return [`capability ${capabilityName(cap)} is not in this process's bounding set (CapBnd)`];
    if (!(permitted & bit)) return [`capability ${capabilityName(cap)} is not in this process's permitted set (CapPrm)`];
    return [];
  });
  return reasons.length > 0
    ? `${reasons.join('; ')}: a process can only hand out capabilities it holds (a systemd unit lists them in CapabilityBoundingSet= and AmbientCapabilities=)`
    : "every requested capability must be in this process's permitted and bounding sets";
}

const OUT_OF_FDS = 'this process is out of file descriptors: raise RLIMIT_NOFILE or close descriptors';

function hint(report: StepFailure, ctx: LaunchContext, fields: SpawnGuestErrorFields): string {
  const { step } = report;
  const code = fields.code;
  if (fields.signal) return `the child was killed by ${fields.signal} during step ${step}, before it reached execve`;
  if (code === 'EMFILE' && ctx.nofile !== undefined && STEP_NAMES.indexOf(step) > STEP_NAMES.indexOf('prlimit')) {
    // The child set the guest's limit already: it is what ran out, not this process.
    return (
      `the guest's rlimits.nofile (${ctx.nofile}) left the child no free descriptor number for step ${step} ` +
      "(the child's descriptor table is a copy of this process's): give the guest a limit above this process's open descriptors"
    );
  }
  if (code === 'ENFILE') return 'the system-wide limit on open files is reached (fs.file-max)';
  if (code === 'EMFILE') return OUT_OF_FDS;
  const needed = stepCapability(step);
  if (needed !== undefined && (code === 'EPERM' || code === 'EACCES')) {
    return `this process needs ${capabilityName(needed)} in its effective set (see CapEff in /proc/self/status; run \`capspawn doctor\`)`;
  }
  switch (step) {
    case 'fcntl':
      return code === 'EBADF' ? `${fields.option} is not an open file descriptor` : 'could not move a descriptor for the child';
    case 'cgroup':
      return `could not join the cgroup through ${ctx.cgroupProcs ?? 'cgroup.procs'}: check that it exists, that this process may write it, and (EBUSY) that the cgroup has no child cgroups with controllers enabled`;
    case 'setns':
      return code === 'EINVAL' || code === 'ENOTTY'
        ? 'the "netns" option does not refer to a network namespace'
        : 'could not open or join the network namespace';
    case 'setresuid':
      if (code === 'EAGAIN') return `uid ${ctx.uid} has reached its process limit (RLIMIT_NPROC)`;
      break;
    case 'resolve':
      return 'NSS could not be asked';
    case 'keepcaps':
      return 'SECBIT_KEEP_CAPS_LOCKED is set on this process; capspawn needs PR_SET_KEEPCAPS to keep the capabilities across the uid change';
    case 'capset':
      return missingCapabilities(ctx.caps);
    case 'ambient_raise':
      return (
        `${fields.capability} could not be raised into the ambient set: this process may have ` +
        'SECBIT_NO_CAP_AMBIENT_RAISE set (a hardened systemd unit does; see SecureBits=), or the capability is not permitted and inheritable'
      );
    case 'chdir':
      return `uid ${ctx.uid} cannot enter ${ctx.cwd}: every directory on the way must be searchable (x) by the guest`;
    case 'pdeathsig':
    case 'getppid':
      return 'the launching thread exited while the guest was starting';
    case 'privileged_program': {
      if (fields.code !== 'ERR_CAPSPAWN_PRIVILEGED_PROGRAM') return `could not check what ${fields.path} carries`;
      return privilegedProgramReason(fields.path ?? ctx.file, programPrivileges(report.program ?? [], ctx));
    }
    case 'verify':
      return (
        `after the credential change the kernel shows ${fields.mismatch} other than planned, so the program was not run ` +
        '(a security module or seccomp policy may be altering credentials)'
      );
    case 'fd_walk':
      return (
        'this kernel has no CLOSE_RANGE_CLOEXEC (Linux 5.11), so the child marks its descriptors close-on-exec from the list in /proc/self/fd, ' +
        'which it could not read: mount /proc (the program was not run, so that no descriptor of this process could reach it)'
      );
    case 'execve':
      switch (code) {
        case 'ENOENT':
          return ctx.candidates.length > 1 || !ctx.file.includes('/')
            ? `"${ctx.file}" was not found in the guest's PATH (${ctx.guestPath ?? ''})`
            : `${fields.path} does not exist, or its #! interpreter does not`;
        case 'EACCES':
          if (isDirectory(fields.path ?? ctx.file)) return `${fields.path} is a directory, not a program`;
          return `${fields.path} is not executable by uid ${ctx.uid}: check its x bit, that every directory on the way is searchable by the guest, and that its file system is not mounted noexec`;
        case 'EPERM':
          return (
            `the kernel refused to run ${fields.path}: a program whose file capabilities are not all in the guest's bounding set ` +
            '(limitBoundingSet drops them) is refused at execve, and so is one a security module (AppArmor, SELinux) denies'
          );
        case 'ENOEXEC':
          return `${fields.path} is not in a format the kernel runs, and capspawn never retries through /bin/sh: give a script a #! line`;
        case 'ETXTBSY':
          return `${fields.path} is open for writing by some process`;
        case 'E2BIG':
          return 'the arguments and environment are too large for execve';
        case 'EAGAIN':
          return `uid ${ctx.uid} has reached its process limit (RLIMIT_NPROC), which execve checks`;
      }
      break;
  }
  return `step ${step} failed`;
}

/**
 * A step that failed: the addon's report, or a failure found before any child is made (no
 * program path to try is execve's ENOENT), which has no `detail` (no candidate tried) or
 * `signal`.
 */
export type StepFailure = Pick<LaunchReport, 'step' | 'errno'> & Partial<Omit<LaunchReport, 'step' | 'errno'>>;

/** Turns a failed step into the error spawnGuest rejects with. */
export function launchFailure(report: StepFailure, ctx: LaunchContext): SpawnGuestError {
  const { step, detail = -1, signal = 0 } = report;
  const fields: SpawnGuestErrorFields = { code: '', step, syscall: STEP_SYSCALLS[step] };
  if (signal !== 0) {
    fields.code = 'ERR_CAPSPAWN_CHILD_KILLED';
    fields.signal = signalName(signal);
  } else if (step === 'privileged_program' && report.errno === 0) {
    fields.code = 'ERR_CAPSPAWN_PRIVILEGED_PROGRAM';
  } else if (step === 'verify' && report.errno === 0) {
    fields.code = 'ERR_CAPSPAWN_VERIFY';
  } else {
    fields.code = errnoName(report.errno);
    fields.errno = -report.errno;
  }
  if (step === 'verify') fields.mismatch = VERIFY_ITEMS[detail];
  if (step === 'execve' || step === 'privileged_program') fields.path = ctx.candidates[detail] ?? ctx.file;
  if (step === 'chdir') fields.path = ctx.cwd;
  if (step === 'fcntl' || step === 'dup2') fields.option = `stdio[${detail}]`;
  if (step === 'ambient_raise' || step === 'capbset_drop') fields.capability = capabilityName(detail);
  if (step === 'prlimit') {
    fields.option = `rlimits.${rlimitName(detail) ?? detail}`;
  }
  if (step === 'cgroup') fields.path = ctx.cgroupProcs;

  const what = fields.errno !== undefined ? `${fields.code} (${errnoMessage(report.errno)})` : fields.code;
  // The message repeats paths and the program cut to a readable length, as Node's own errors
  // cut long values; `path` and `spawnargs` keep them whole.
  const cut = (text: string | undefined) => (text === undefined ? undefined : shortText(text));
  const shown: LaunchContext = {
    ...ctx,
    file: shortText(ctx.file),
    cwd: cut(ctx.cwd),
    guestPath: cut(ctx.guestPath),
    cgroupProcs: cut(ctx.cgroupProcs),
  };
  const message = `spawnGuest ${shown.file}: ${step} failed: ${what}: ${hint(report, shown, { ...fields, path: cut(fields.path) })}`;
  return new SpawnGuestError(message, fields, ctx.spawnargs);
}

/**
 * Turns a system error met while reading the host facts (/proc/self/limits for `rlimits`,
 * /proc/self/mountinfo for `cgroup`, ...) into the error spawnGuest rejects with, at step
 * `resolve`: a daemon out of file descriptors gets a SpawnGuestError there, as it does at
 * every later parent step. Anything else is returned as it is.
 */
export function preparationFailure(error: unknown, spawnargs: readonly string[]): unknown {
  if (!(error instanceof Error) || error instanceof SpawnGuestError) return error;
  const { errno, code, syscall, path } = error as Partial<{ errno: number; code: string; syscall: string; path: string }>;
  if (typeof errno !== 'number' || typeof code !== 'string' || typeof syscall !== 'string') return error;
  const hint = code === 'EMFILE' || code === 'ENFILE' ? OUT_OF_FDS : 'capspawn could not read what it checks the options against';
  const target = path === undefined ? '' : ` ${path}`;
  const failure = new SpawnGuestError(
    `spawnGuest: ${syscall}${target} failed: ${code} (${errnoMessage(-errno)}): ${hint}`,
    { code, errno, step: 'resolve', syscall, path },
    spawnargs,
  );
  return Object.assign(failure, { cause: error });
}
