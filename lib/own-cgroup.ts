import { mkdirSync, readdirSync, readFileSync, rmdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { checkCgroupLimits, checkCgroupName, type CgroupLimit } from './cgroup-limits.js';
import { errnoMessage, invalidType, invalidValue, OptionRangeError, SpawnGuestError } from './errors.js';

/** `cgroup: { parent, ... }` after its checks: a cgroup of the guest's own, still to be made. */
export interface OwnCgroupRequest {
  /** The parent directory, an existing cgroup v2 directory. */
  parent: string;
  /** The parent as /proc/<pid>/cgroup shows it: `/` or `/a/b`. */
  parentPath: string;
  name: string | undefined;
  limits: CgroupLimit[];
  keep: boolean;
}

/** A cgroup made for one guest: where it is, and the /proc/<pid>/cgroup line of its members. */
export interface OwnCgroup {
  dir: string;
  procs: string;
  line: string;
  keep: boolean;
}

/** `cgroup: { parent, ... }` after the pure checks, before the parent directory is looked at. */
export type OwnCgroupSpecChecked = Omit<OwnCgroupRequest, 'parentPath'>;

const OWN_CGROUP_KEYS = new Set(['parent', 'name', 'limits', 'keep']);

/** Checks the object form of `cgroup`, the parent with `checkParent` (a path). Pure. */
export function checkOwnCgroup(value: object, checkParent: (dir: unknown) => string): OwnCgroupSpecChecked {
  const o = value as Record<string, unknown>;
  for (const key of Object.keys(o)) {
    if (!OWN_CGROUP_KEYS.has(key)) throw invalidValue(`cgroup.${key}`, 'is not a key of cgroup (parent, name, limits, keep)', o[key]);
  }
  if (o.keep !== undefined && typeof o.keep !== 'boolean') throw invalidType('cgroup.keep', 'a boolean', o.keep);
  const name = checkCgroupName(o.name);
  const limits = checkCgroupLimits(o.limits);
  return { parent: checkParent(o.parent), name, limits, keep: o.keep === true };
}

/** The controllers a cgroup offers its children (cgroup.subtree_control) and has (cgroup.controllers). */
export interface ControllerFacts {
  subtreeControl: string[];
  controllers: string[];
}

/** The words of a cgroup's interface file: `cgroupWords(dir, 'cgroup.controllers')`. */
export function cgroupWords(dir: string, file: string): string[] {
  return readFileSync(join(dir, file), 'latin1').trim().split(/\s+/).filter(Boolean);
}

export function readControllerFacts(parent: string): ControllerFacts {
  return { subtreeControl: cgroupWords(parent, 'cgroup.subtree_control'), controllers: cgroupWords(parent, 'cgroup.controllers') };
}

/**
 * The first limit whose controller the parent does not enable for its children, as the error
 * that says how to enable it; undefined when every limit can be written. Pure.
 */
export function controllerProblem(
  request: { parent: string; limits: readonly CgroupLimit[] },
  facts: ControllerFacts,
): OptionRangeError | undefined {
  for (const limit of request.limits) {
    if (facts.subtreeControl.includes(limit.controller)) continue;
    const option = `cgroup.limits.${limit.file}`;
    const where = `${request.parent}/cgroup.subtree_control`;
    const message = facts.controllers.includes(limit.controller)
      ? `The "${option}" limit needs the ${limit.controller} controller, which ${request.parent} does not enable for its children: ` +
        `echo +${limit.controller} > ${where}. cgroup v2's "no internal processes" rule: a cgroup that enables controllers for its ` +
        'children may hold no processes itself (the root excepted), so move any process in the parent into a child cgroup first'
      : `The "${option}" limit needs the ${limit.controller} controller, which ${request.parent} does not have (its cgroup.controllers: ` +
        `${facts.controllers.join(' ') || 'none'}): enable it in every ancestor's cgroup.subtree_control, or, when /proc/cgroups shows ` +
        `${limit.controller} bound to a cgroup v1 hierarchy (a hybrid host), boot with cgroup_no_v1=${limit.controller} or systemd.unified_cgroup_hierarchy=1`;
    return new OptionRangeError('ERR_CAPSPAWN_CGROUP_CONTROLLER', option, message);
  }
  return undefined;
}

function cgroupFailure(
  error: unknown,
  syscall: string,
  path: string,
  what: string,
  option: string | undefined,
  spawnargs: readonly string[],
): SpawnGuestError {
  const { errno = 0, code = 'EIO' } = error as { errno?: number; code?: string };
  const failure = new SpawnGuestError(
    `spawnGuest: ${syscall} ${path} failed: ${code} (${errnoMessage(-errno)}): ${what}`,
    { code, errno, step: 'cgroup', syscall, path, option },
    spawnargs,
  );
  return Object.assign(failure, { cause: error });
}

let nextNumber = 0;

/**
 * Makes the guest's cgroup and writes its limits, checking the controllers first so that a
 * limit that cannot be written creates nothing. Removes what it made when a step fails.
 */
export function createOwnCgroup(request: OwnCgroupRequest, spawnargs: readonly string[]): OwnCgroup {
  const problem = controllerProblem(request, readControllerFacts(request.parent));
  if (problem) throw problem;
  let dir: string;
  let name: string;
  for (;;) {
    name = request.name ?? `capspawn-${process.pid}-${nextNumber++}`;
    dir = join(request.parent, name);
    try {
      mkdirSync(dir, 0o755);
      break;
    } catch (error) {
      // A default name left by an earlier process with this pid: take the next number.
      if ((error as { code?: string }).code === 'EEXIST' && request.name === undefined) continue;
      const what =
        (error as { code?: string }).code === 'EEXIST'
          ? 'a cgroup of that name exists already (adopt it with adoptGuest, or choose another name)'
          : 'check that this process may create cgroups under the parent (it owns it, or it was delegated to it)';
      throw cgroupFailure(error, 'mkdir', dir, what, 'cgroup.parent', spawnargs);
    }
  }
  for (const limit of request.limits) {
    const file = join(dir, limit.file);
    try {
      writeFileSync(file, limit.text);
    } catch (error) {
      removeCgroup(dir);
      throw cgroupFailure(
        error,
        'write',
        file,
        `the kernel refused ${JSON.stringify(limit.text)} for ${limit.file}`,
        `cgroup.limits.${limit.file}`,
        spawnargs,
      );
    }
  }
  const path = request.parentPath === '/' ? `/${name}` : `${request.parentPath}/${name}`;
  return { dir, procs: join(dir, 'cgroup.procs'), line: `0::${path}\n`, keep: request.keep };
}

/** Removes an empty cgroup and any empty cgroups below it (rmdir, deepest first). False when it could not. */
export function removeCgroup(dir: string): boolean {
  try {
    for (const entry of readdirSync(dir, { withFileTypes: true })) if (entry.isDirectory()) removeCgroup(join(dir, entry.name));
    rmdirSync(dir);
    return true;
  } catch (error) {
    return (error as { code?: string }).code === 'ENOENT';
  }
}
