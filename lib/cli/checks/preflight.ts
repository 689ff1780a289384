import { accessSync, constants, realpathSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { capabilityName, capabilityNumber } from '../../capabilities.js';
import type { CgroupLimit } from '../../cgroup-limits.js';
import { programPrivileges, privilegedProgramReason } from '../../launch-error.js';
import { loadNative } from '../../native.js';
import { controllerProblem, readControllerFacts } from '../../own-cgroup.js';
import { mountOf } from '../../placement.js';
import { readOwnOomScoreAdj, readOwnStat } from '../../procfs.js';
import { STEP_CAPABILITIES, type PrivilegedStep } from '../../steps.js';
import type { Check } from './report.js';
import { checkAccess, EXECUTE, type AccessIdentity } from './file-access.js';
import { maskHas, type LauncherCredentials } from './launcher-credentials.js';
import { SECBIT_KEEP_CAPS_LOCKED, SECBIT_NO_CAP_AMBIENT_RAISE } from '../../securebits.js';

/** What a launch would need from this process, as far as it is known. */
export interface LaunchRequest {
  /** Capability bits the guest would hold. */
  caps: readonly number[];
  limitBoundingSet: boolean;
  /** The guest's identity, once resolved (doctor without --user has none). */
  target?: AccessIdentity & { name: string };
  cwd?: string;
  /** The paths execve would try, in order. */
  candidates?: readonly string[];
  /** What the child refuses in the program it runs (GuestPlan: allowPrivilegedPrograms, noNewPrivileges). */
  refuse?: { setId: boolean; fileCaps: boolean };
  /** Placement asked for. */
  placement?: {
    cgroup?: string;
    /** A cgroup made for the guest under `parent`. */
    ownCgroup?: { parent: string; limits: readonly CgroupLimit[] };
    netns?: string | number;
    oomScoreAdj?: number;
    nice?: number;
  };
}

/** The cgroup check when this process may not write where the launch would (access(2) failed). */
function cgroupAccessFailure(error: unknown, detail: (code: string) => string, fix: string): Check {
  const code = (error as NodeJS.ErrnoException).code ?? 'EACCES';
  return { name: 'cgroup', ok: false, step: 'cgroup', code, detail: detail(code), fix };
}

/** The child joins the cgroup by writing its cgroup.procs, which this process must be able to do. */
function cgroupCheck(cgroup: string): Check {
  const procs = join(cgroup, 'cgroup.procs');
  try {
    accessSync(procs, constants.W_OK);
    return { name: 'cgroup', ok: true, detail: `this process can write ${procs}`, step: 'cgroup' };
  } catch (error) {
    return cgroupAccessFailure(
      error,
      (code) => `cannot write ${procs} (${code})`,
      'give the daemon write access to the cgroup (delegate it, or run as its owner)',
    );
  }
}

/** A cgroup of the guest's own: this process makes it under the parent and writes its limits, whose controllers the parent must enable for its children. */
function ownCgroupCheck(own: { parent: string; limits: readonly CgroupLimit[] }): Check {
  try {
    accessSync(own.parent, constants.W_OK);
  } catch (error) {
    return cgroupAccessFailure(
      error,
      (code) => `cannot create cgroups in ${own.parent} (${code})`,
      'give the daemon a delegated cgroup subtree (systemd: Delegate=yes), or run as its owner',
    );
  }
  let problem: Error | undefined;
  try {
    problem = controllerProblem(own, readControllerFacts(own.parent));
  } catch (error) {
    problem = error as Error;
  }
  if (problem)
    return {
      name: 'cgroup',
      ok: false,
      step: 'cgroup',
      detail: problem.message,
      fix: "enable the controller for the parent's children, or drop the limit",
    };
  const controllers = [...new Set(own.limits.map((l) => l.controller))].join(', ');
  return {
    name: 'cgroup',
    ok: true,
    step: 'cgroup',
    detail: `this process can create cgroups in ${own.parent}${controllers ? ` and write their ${controllers} limits` : ''}`,
  };
}

/**
 * Placement steps run before the uid change, with this process's capabilities: setns always
 * needs its capability, oom_score_adj and setpriority only to go below this process's value.
 */
function placementChecks(placement: NonNullable<LaunchRequest['placement']>, creds: LauncherCredentials): Check[] {
  const checks: Check[] = [];
  if (placement.ownCgroup !== undefined) checks.push(ownCgroupCheck(placement.ownCgroup));
  else if (placement.cgroup !== undefined) checks.push(cgroupCheck(placement.cgroup));
  if (placement.netns !== undefined) {
    checks.push(launcherCapability('setns', 'setns joins the network namespace', true, creds));
  }
  if (placement.oomScoreAdj !== undefined) {
    const own = readOwnOomScoreAdj();
    checks.push(
      launcherCapability(
        'oom_score_adj',
        `oom_score_adj ${placement.oomScoreAdj} is below this process's ${own}`,
        placement.oomScoreAdj < own,
        creds,
      ),
    );
  }
  if (placement.nice !== undefined) {
    const own = readOwnStat().nice;
    checks.push(launcherCapability('setpriority', `nice ${placement.nice} is below this process's ${own}`, placement.nice < own, creds));
  }
  return checks;
}

function grantHint(cap: string): string {
  return `run capspawn as root, or give it ${cap} (in a systemd unit: AmbientCapabilities=${cap}, kept in CapabilityBoundingSet=)`;
}

/** The capability a step of the launch itself uses, before the guest's uid is set. */
function launcherCapability(step: PrivilegedStep, purpose: string, needed: boolean, creds: LauncherCredentials): Check {
  const cap = capabilityNumber(STEP_CAPABILITIES[step]);
  const name = capabilityName(cap);
  const held = maskHas(creds.effective, cap);
  if (!needed) {
    return { name, ok: true, detail: `${held ? 'held' : 'not held'}, and not needed here (${purpose})`, step };
  }
  return held
    ? { name, ok: true, detail: `in this process's effective set: ${purpose}`, step }
    : {
        name,
        ok: false,
        detail: `not in this process's effective set, so ${step} would fail with EPERM (${purpose})`,
        fix: grantHint(name),
        step,
        code: 'EPERM',
      };
}

/** A capability the guest asks for: capset can only grant what this process holds. */
function requestedCapability(cap: number, creds: LauncherCredentials): Check {
  const name = capabilityName(cap);
  const common = { name, step: 'capset' as const, story: 'ambient raise lost' as const };
  const inBounding = maskHas(creds.bounding, cap);
  if (inBounding && maskHas(creds.permitted, cap)) {
    return { ...common, ok: true, detail: `requested, and in this process's permitted and bounding sets` };
  }
  const set = inBounding ? 'permitted set (CapPrm)' : 'bounding set (CapBnd)';
  const fix = inBounding
    ? grantHint(name)
    : `nothing can add ${name} back to a bounding set: start capspawn from a parent that keeps it ` +
      `(systemd: list it in CapabilityBoundingSet=; no \`setpriv --bounding-set -${name.slice(4).toLowerCase()}\` or \`capsh --drop\` in front)`;
  return {
    ...common,
    ok: false,
    code: 'EPERM',
    detail: `requested, but not in this process's ${set}, so capset would fail with EPERM`,
    fix,
  };
}

function ambientRaiseCheck(request: LaunchRequest, creds: LauncherCredentials): Check {
  const name = 'SECBIT_NO_CAP_AMBIENT_RAISE';
  if ((creds.securebits & SECBIT_NO_CAP_AMBIENT_RAISE) === 0) {
    return { name, ok: true, detail: 'not set: capabilities can be raised into the ambient set', step: 'ambient_raise' };
  }
  if (request.caps.length === 0) return { name, ok: true, detail: 'set, but no capabilities are requested', step: 'ambient_raise' };
  return {
    name,
    ok: false,
    step: 'ambient_raise',
    code: 'EPERM',
    story: 'ambient raise lost',
    detail: 'set on this process (securebits are inherited), so no capability can enter the ambient set',
    fix: 'remove no-cap-ambient-raise from SecureBits= in the service unit (`systemctl cat UNIT`), or launch from a process without it',
  };
}

function keepCapsCheck(creds: LauncherCredentials): Check {
  const name = 'SECBIT_KEEP_CAPS_LOCKED';
  if ((creds.securebits & SECBIT_KEEP_CAPS_LOCKED) === 0) {
    return { name, ok: true, detail: 'not set: PR_SET_KEEPCAPS can keep capabilities across the uid change', step: 'keepcaps' };
  }
  return {
    name,
    ok: false,
    step: 'keepcaps',
    code: 'EPERM',
    detail: 'set on this process, so PR_SET_KEEPCAPS fails and capabilities cannot survive the uid change',
    fix: 'remove keep-caps-locked from SecureBits= in the service unit (`systemctl cat UNIT`)',
  };
}

function workingDirectoryCheck(cwd: string, target: NonNullable<LaunchRequest['target']>): Check {
  const access = checkAccess(cwd, target, EXECUTE);
  if (access.ok && access.stats.isDirectory()) return { name: 'cwd', ok: true, detail: `${target.name} can enter ${cwd}`, step: 'chdir' };
  const code = access.ok ? 'ENOTDIR' : access.code;
  const detail =
    !access.ok && access.code === 'EACCES'
      ? `${target.name} cannot search ${access.blockedAt}, so chdir to ${cwd} would fail with EACCES`
      : `${cwd} is not a directory, so chdir would fail with ${code}`;
  return {
    name: 'cwd',
    ok: false,
    detail,
    step: 'chdir',
    code,
    fix: 'give --cwd a directory that every directory above it lets the guest search (x), or make them so (chmod o+x)',
  };
}

/**
 * The program execve would run: the first candidate the guest can execute, as the launch's
 * own search goes (a missing path moves on; EACCES is remembered, in case none is found).
 */
function programCheck(candidates: readonly string[], target: NonNullable<LaunchRequest['target']>): Check {
  let denied: string | undefined;
  for (const candidate of candidates) {
    const access = checkAccess(candidate, target, EXECUTE);
    if (access.ok && access.stats.isFile())
      return { name: 'program', ok: true, detail: `${candidate}, executable by ${target.name}`, step: 'execve', path: candidate };
    if (access.ok && access.stats.isDirectory()) {
      // execve answers EACCES for a directory, as run reports it.
      return {
        name: 'program',
        ok: false,
        step: 'execve',
        code: 'EACCES',
        detail: `${candidate} is a directory, not a program: execve would fail with EACCES (exit 126)`,
        fix: 'name the program file',
      };
    }
    if (!access.ok && access.code === 'EACCES') denied ??= access.blockedAt;
  }
  if (denied !== undefined) {
    return {
      name: 'program',
      ok: false,
      step: 'execve',
      code: 'EACCES',
      detail: `${target.name} may not execute ${denied}, so execve would fail with EACCES (exit 126)`,
      fix: 'give the file an x bit the guest has, and make every directory above it searchable by the guest',
    };
  }
  return {
    name: 'program',
    ok: false,
    step: 'execve',
    code: 'ENOENT',
    detail: `not found at ${candidates.join(', ') || '(no absolute PATH entries)'}, so execve would fail with ENOENT (exit 127)`,
    fix: "check the name, give the full path, or set the guest's PATH with --env PATH=...",
  };
}

/**
 * What the program that would run carries of its own, as the child checks it: set-id bits
 * (none count on a nosuid mount) and file capabilities. A swap of the file before the launch
 * is the child's to catch; this reads the file as it is now.
 */
function privilegedProgramCheck(
  path: string,
  target: NonNullable<LaunchRequest['target']>,
  refuse: { setId: boolean; fileCaps: boolean },
): Check {
  let carries: string[];
  let accepted: string[];
  try {
    const st = statSync(path);
    const caps = loadNative().fileCapabilities(path);
    if (typeof caps === 'number') throw Object.assign(new Error('getxattr'), { errno: caps });
    const [magic = 0, p0 = 0, i0 = 0, p1 = 0, i1 = 0] = caps;
    const nosuid = mountOf(realpathSync(path))?.options.includes('nosuid') === true;
    const program = [nosuid ? 0 : st.mode, st.uid, st.gid, nosuid ? 0 : magic, p0, p1, i0, i1];
    carries = programPrivileges(program, target, refuse);
    accepted = programPrivileges(program, target).filter((c) => !carries.includes(c));
  } catch {
    return {
      name: 'privileged program',
      ok: true,
      detail: `could not read what ${path} carries; the child checks it at launch`,
      step: 'privileged_program',
    };
  }
  if (carries.length === 0) {
    const detail =
      accepted.length === 0
        ? `${path} carries no set-id bit or file capability that execve would honour`
        : `${path} carries ${accepted.join(' and ')}: run as asked (--allow-privileged-programs, or set-id bits under --no-new-privs, which the kernel then ignores)`;
    return { name: 'privileged program', ok: true, detail, step: 'privileged_program' };
  }
  return {
    name: 'privileged program',
    ok: false,
    step: 'privileged_program',
    code: 'ERR_CAPSPAWN_PRIVILEGED_PROGRAM',
    detail: privilegedProgramReason(path, carries),
    fix: 'run a copy without the bits (chmod u-s,g-s, setcap -r), or pass --allow-privileged-programs',
  };
}

/**
 * The steps of a launch this process could fail at, checked in the order the child takes
 * them, from this process's credentials and the files involved. Checks mode bits, not ACLs
 * or security modules: a ✓ here is likely, not certain; the child still verifies everything.
 */
export function launchChecks(request: LaunchRequest, creds: LauncherCredentials): Check[] {
  const rootTarget = request.target?.uid === 0;
  const setpcapPurpose = request.limitBoundingSet
    ? '--limit-bounding-set drops bounding-set bits'
    : rootTarget
      ? 'a uid 0 guest gets SECBIT_NOROOT'
      : 'only --limit-bounding-set and uid 0 guests use it';
  const checks: Check[] = [
    launcherCapability('setgroups', "setgroups and setresgid set the guest's groups", true, creds),
    launcherCapability(
      request.limitBoundingSet ? 'capbset_drop' : 'securebits',
      setpcapPurpose,
      request.limitBoundingSet || rootTarget,
      creds,
    ),
    keepCapsCheck(creds),
    launcherCapability('setresuid', "setresuid sets the guest's uid", true, creds),
    ...request.caps.map((cap) => requestedCapability(cap, creds)),
    ambientRaiseCheck(request, creds),
    ...placementChecks(request.placement ?? {}, creds),
  ];
  if (request.target && request.cwd !== undefined) checks.push(workingDirectoryCheck(request.cwd, request.target));
  if (request.target && request.candidates) {
    const program = programCheck(request.candidates, request.target);
    checks.push(program);
    if (program.ok && program.path !== undefined && request.refuse)
      checks.push(privilegedProgramCheck(program.path, request.target, request.refuse));
  }
  return checks;
}
