import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { CgroupTree, cgroupPids, cgroupPopulated, inCgroup } from './cgroup-tree.js';
import { invalidType, invalidValue, UnsupportedPlatformError } from './errors.js';
import { loadNative } from './native.js';
import { checkSignal } from './options.js';
import { checkCgroupDir } from './placement.js';
import { readOwnMounts, readProcStatus, type ProcStatus } from './procfs.js';

/** One process of an adopted guest tree, with its credentials as the kernel shows them. */
export interface GuestProcess {
  /** Its pid (a member of the guest's cgroup when read). */
  pid: number;
  /** Its /proc/<pid>/status, parsed. */
  credentials: ProcStatus;
}

/** A cgroup under a supervisor's parent, as {@link listGuests} finds it. */
export interface GuestCgroup {
  /** The cgroup directory: what {@link adoptGuest} takes. */
  cgroup: string;
  /** Its name under the parent. */
  name: string;
  /** The processes in it (and below it) now. */
  pids: number[];
  /**
   * Whether cgroup.events says `populated 1`. False for a cgroup whose tree has ended: one
   * launched with `keep: true` and kept for its counters (memory.events), or one whose tree
   * ended while no process watched it.
   */
  populated: boolean;
}

/** Options of {@link adoptGuest}. */
export interface AdoptOptions {
  /**
   * Whether to leave the cgroup directory once the tree has exited. Default true: the adopter
   * cannot tell whether the guest was launched with `keep: true`, so it removes nothing unless
   * asked. `false` removes it (empty cgroups below it too), as spawnGuest does by default.
   */
  keep?: boolean;
}

/**
 * A guest tree that an earlier process launched into a cgroup of its own, taken over by this
 * one. It has no exit status of its first process: only a process's parent can reap it and
 * read it, and the parent was the process that launched it. What is left to a supervisor that
 * restarted: the tree's processes and their credentials, `killTree`, `treeExited`, and what the
 * guest wrote (its log files, `stdio: [..., { file }]`).
 */
export class AdoptedGuest implements AsyncDisposable {
  /** The cgroup directory. */
  readonly cgroup: string;
  /** Settles once every process in the cgroup has exited, and the cgroup is removed with `keep: false`. */
  readonly treeExited: Promise<void>;
  #tree: CgroupTree;
  #path: string;

  /** @internal Created by adoptGuest. */
  constructor(tree: CgroupTree, path: string) {
    this.#tree = tree;
    this.#path = path;
    this.cgroup = tree.dir;
    this.treeExited = tree.exited;
  }

  /**
   * The processes in the tree with their credentials. Each /proc/<pid>/status is read and the
   * process is then checked to be in the cgroup still, so a pid reused meanwhile by a process
   * outside it is left out.
   */
  async processes(): Promise<GuestProcess[]> {
    const found = await Promise.all(
      this.#tree.pids().map(async (pid) => {
        try {
          const credentials = await readProcStatus(pid);
          return inCgroup(pid, this.#path) ? [{ pid, credentials }] : [];
        } catch {
          return []; // exited meanwhile
        }
      }),
    );
    return found.flat();
  }

  /** Signals every process of the tree, as {@link Guest.killTree} does. False when it was empty. */
  async killTree(signal: NodeJS.Signals | number = 'SIGKILL'): Promise<boolean> {
    return this.#tree.kill(checkSignal(signal, 'signal'));
  }

  /** Keeps the event loop alive until the tree has exited (the default). */
  ref(): this {
    this.#tree.ref();
    return this;
  }

  /** Lets the event loop end while the tree still runs. */
  unref(): this {
    this.#tree.unref();
    return this;
  }

  /** Kills the tree with SIGKILL and waits for `treeExited`. */
  async [Symbol.asyncDispose](): Promise<void> {
    await this.killTree('SIGKILL');
    await this.treeExited;
  }
}

/**
 * Takes over a guest tree launched by an earlier process (a supervisor before its restart) into
 * a cgroup of its own, `cgroup: { parent }`: its processes, `killTree`, `treeExited`. The
 * directory is left once the tree has exited unless `keep: false` is passed: this process cannot
 * know whether the guest was launched with `keep: true` (its memory.events kept for later), so
 * it removes nothing unless asked. A supervisor that launches with the default (removed) passes
 * `{ keep: false }`. Throws for a path that is not a cgroup v2 directory, or that is the root of
 * the hierarchy.
 */
export function adoptGuest(cgroupPath: string, options: AdoptOptions = {}): AdoptedGuest {
  if (process.platform !== 'linux') throw new UnsupportedPlatformError(process.platform);
  if (options.keep !== undefined && typeof options.keep !== 'boolean') throw invalidType('options.keep', 'a boolean', options.keep);
  const { dir, path } = checkCgroupDir(cgroupPath, 'cgroupPath', readOwnMounts());
  if (path === '/') throw invalidValue('cgroupPath', "must name a guest's cgroup, not the root of the hierarchy", cgroupPath);
  return new AdoptedGuest(new CgroupTree(loadNative(), dir, path, options.keep !== false), path);
}

/**
 * The cgroups directly under `parent`, with the processes in each and whether any is left
 * (`populated`): the guests a supervisor that gives each guest a cgroup of its own under one
 * parent had running, and the empty cgroups of those that ended (kept, or ended unwatched).
 */
export function listGuests(parent: string): GuestCgroup[] {
  if (process.platform !== 'linux') throw new UnsupportedPlatformError(process.platform);
  const { dir } = checkCgroupDir(parent, 'parent', readOwnMounts());
  return readdirSync(dir, { withFileTypes: true })
    .filter((entry) => entry.isDirectory())
    .map((entry) => {
      const cgroup = join(dir, entry.name);
      return { cgroup, name: entry.name, pids: cgroupPids(cgroup), populated: cgroupPopulated(cgroup) };
    })
    .sort((a, b) => a.name.localeCompare(b.name));
}
