import { capabilityNumber, type CapabilityName } from './capabilities.js';

/**
 * The steps of a launch, in order, with the same names as native/steps.h (a test checks that
 * the two lists match). The first steps run in the parent before clone(); from `sigaction` on
 * they run in the child, before execve().
 */
export const STEP_NAMES = [
  'resolve',
  'pipe2',
  'socketpair',
  'open',
  'openpt',
  'fcntl',
  'mmap',
  'clone',
  'sigaction',
  'cgroup',
  'setsid',
  'dup2',
  'tiocsctty',
  'setns',
  'prlimit',
  'oom_score_adj',
  'setpriority',
  'setgroups',
  'setresgid',
  'capbset_drop',
  'securebits',
  'keepcaps',
  'setresuid',
  'capset',
  'ambient_clear',
  'ambient_raise',
  'no_new_privs',
  'chdir',
  'pdeathsig',
  'getppid',
  'verify',
  'close_range',
  'fd_walk',
  'sigprocmask',
  'privileged_program',
  'execve',
] as const;

/** One step of a launch, as `SpawnGuestError.step` names it. */
export type StepName = (typeof STEP_NAMES)[number];

/** What the verify step compares, in the order of native/steps.h. */
export const VERIFY_ITEMS = [
  'uids',
  'gids',
  'groups',
  'capabilities',
  'ambient',
  'bounding',
  'no_new_privs',
  'securebits',
  'pdeathsig',
  'cgroup',
  'netns',
  'rlimits',
  'oom_score_adj',
  'nice',
] as const;

/** What a verify failure found different, as `SpawnGuestError.mismatch` names it. */
export type VerifyItem = (typeof VERIFY_ITEMS)[number];

/** The system call each step makes; steps that are one prctl(2) option say so. */
export const STEP_SYSCALLS: Readonly<Record<StepName, string>> = {
  resolve: 'getpwnam_r',
  pipe2: 'pipe2',
  socketpair: 'socketpair',
  open: 'open',
  openpt: 'ioctl',
  fcntl: 'fcntl',
  mmap: 'mmap',
  clone: 'clone',
  sigaction: 'rt_sigaction',
  cgroup: 'write',
  setsid: 'setsid',
  dup2: 'dup2',
  tiocsctty: 'ioctl',
  setns: 'setns',
  prlimit: 'prlimit64',
  oom_score_adj: 'write',
  setpriority: 'setpriority',
  setgroups: 'setgroups',
  setresgid: 'setresgid',
  capbset_drop: 'prctl',
  securebits: 'prctl',
  keepcaps: 'prctl',
  setresuid: 'setresuid',
  capset: 'capset',
  ambient_clear: 'prctl',
  ambient_raise: 'prctl',
  no_new_privs: 'prctl',
  chdir: 'chdir',
  pdeathsig: 'prctl',
  getppid: 'getppid',
  verify: 'capget',
  close_range: 'close_range',
  fd_walk: 'getdents64',
  sigprocmask: 'rt_sigprocmask',
  privileged_program: 'fstat',
  execve: 'execve',
};

/**
 * The capability a step needs in this process's effective set: these steps run before the
 * uid change, with this process's credentials. Launch errors and the preflight checks of
 * `capspawn doctor` and `explain` both read it.
 */
export const STEP_CAPABILITIES = {
  setns: 'sys_admin',
  prlimit: 'sys_resource',
  oom_score_adj: 'sys_resource',
  setpriority: 'sys_nice',
  setgroups: 'setgid',
  setresgid: 'setgid',
  capbset_drop: 'setpcap',
  securebits: 'setpcap',
  setresuid: 'setuid',
} as const satisfies Partial<Record<StepName, CapabilityName>>;

/** A step that needs a capability of this process. */
export type PrivilegedStep = keyof typeof STEP_CAPABILITIES;

/** The number of the capability `step` needs, if it needs one. */
export function stepCapability(step: StepName): number | undefined {
  return Object.hasOwn(STEP_CAPABILITIES, step) ? capabilityNumber(STEP_CAPABILITIES[step as PrivilegedStep]) : undefined;
}

/**
 * The name of the step native/steps.h numbers `index`. A number this list lacks means the
 * addon was built from other sources than this JavaScript: that is said, rather than the
 * failure being put on some other step.
 */
export function stepName(index: number): StepName {
  const name = STEP_NAMES[index];
  if (name !== undefined) return name;
  const error = new Error(
    `capspawn's addon reported a failed launch at step ${index}, a step its JavaScript does not name (the program was not run): ` +
      'the addon was built from other sources; rebuild it with `npm rebuild capspawn`',
  );
  Object.defineProperty(error, 'code', { value: 'ERR_CAPSPAWN_NATIVE_MISMATCH', enumerable: true });
  throw error;
}
