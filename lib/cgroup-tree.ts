import { closeSync, existsSync, readdirSync, readFileSync, watch, writeFileSync, type FSWatcher } from 'node:fs';
import { join } from 'node:path';
import { constants as osConstants } from 'node:os';
import type { NativeAddon } from './native.js';
import { readCgroupPath } from './procfs.js';
import { removeCgroup } from './own-cgroup.js';

/** Switches for the tests; not part of the public API. */
export const treeTestHooks: {
  withoutCgroupKill: boolean;
  /** Makes the watch of cgroup.events fail: fs.watch throws, or the watcher emits 'error'. */
  watchFailure: 'throw' | 'error' | undefined;
  /** Makes the freeze path never see `frozen 1`, as with a task in uninterruptible sleep. */
  neverFrozen: boolean;
  /** Makes reads of cgroup.events fail (as with EMFILE) while set. */
  eventsUnreadable: boolean;
  /** Makes this many writes of `0` to cgroup.freeze fail (as with EMFILE). */
  thawFailures: number;
} = { withoutCgroupKill: false, watchFailure: undefined, neverFrozen: false, eventsUnreadable: false, thawFailures: 0 };

/**
 * How often cgroup.events is read when it cannot be watched (inotify out of watches: ENOSPC,
 * or the watcher failed later). Only then: a working watch is never polled.
 */
export const EVENTS_POLL_MS = 250;

/**
 * How long the freeze path waits for cgroup.events to say `frozen 1` before it signals the
 * tree anyway. A task in uninterruptible sleep (D state: NFS, a stuck disk, FUSE) freezes
 * only once it returns to user space, which may be never.
 */
export const FREEZE_DEADLINE_MS = 3000;

/**
 * What cgroup.events says: `populated 1\nfrozen 0\n`; `gone` once the directory is (the kernel
 * removes only an empty cgroup); undefined when it could not be read now, which says nothing.
 */
function readEvents(dir: string): { populated: boolean; frozen: boolean } | 'gone' | undefined {
  try {
    if (treeTestHooks.eventsUnreadable) throw Object.assign(new Error('EMFILE: too many open files'), { code: 'EMFILE' });
    const text = readFileSync(join(dir, 'cgroup.events'), 'latin1');
    return { populated: /^populated 1$/m.test(text), frozen: /^frozen 1$/m.test(text) };
  } catch (error) {
    return (error as { code?: string }).code === 'ENOENT' ? 'gone' : undefined;
  }
}

/** Whether cgroup.events says `populated 1`: a process is in the cgroup or below it. */
export function cgroupPopulated(dir: string): boolean {
  const events = readEvents(dir);
  return events === undefined ? cgroupPids(dir).length > 0 : events !== 'gone' && events.populated;
}

function watchFailure(): NodeJS.ErrnoException {
  return Object.assign(new Error('ENOSPC: System limit for number of file watchers reached'), { code: 'ENOSPC', errno: -28 });
}

/** The pids in a cgroup and in every cgroup below it. */
export function cgroupPids(dir: string): number[] {
  const pids: number[] = [];
  const walk = (at: string) => {
    let text = '';
    try {
      text = readFileSync(join(at, 'cgroup.procs'), 'latin1');
    } catch {
      return;
    }
    for (const line of text.split('\n')) if (line !== '') pids.push(Number(line));
    for (const entry of readdirSync(at, { withFileTypes: true })) if (entry.isDirectory()) walk(join(at, entry.name));
  };
  walk(dir);
  return pids;
}

/** Whether /proc/<pid>/cgroup places the process in `path` or below it. */
export function inCgroup(pid: number, path: string): boolean {
  try {
    const line = readCgroupPath(pid);
    return line !== undefined && (line === path || line.startsWith(`${path}/`));
  } catch {
    return false;
  }
}

/**
 * A process tree held in a cgroup v2 directory: watched through cgroup.events on the event
 * loop (inotify), killed as one, removed once empty unless kept. Only `populated 0` (or the
 * directory gone) ends it: when the watch cannot be had or fails later (ENOSPC once
 * fs.inotify.max_user_watches is reached), or a read of cgroup.events fails (EMFILE), it is
 * read every {@link EVENTS_POLL_MS} ms instead, as a fallback.
 */
export class CgroupTree {
  /** The cgroup directory. */
  readonly dir: string;
  /** Settles once no process is left in the cgroup (cgroup.events: populated 0) and it is removed. */
  readonly exited: Promise<void>;

  #native: NativeAddon;
  /** The cgroup as /proc/<pid>/cgroup names it: `/capspawn-123-0`. */
  #path: string;
  #keep: boolean;
  #watcher: FSWatcher | undefined;
  /** The fallback when the watch failed: cgroup.events read on a timer. */
  #poll: NodeJS.Timeout | undefined;
  #refed = true;
  #empty = false;
  #settle!: () => void;
  #waiters: (() => boolean)[] = [];

  constructor(native: NativeAddon, dir: string, path: string, keep: boolean) {
    this.#native = native;
    this.dir = dir;
    this.#path = path;
    this.#keep = keep;
    this.exited = new Promise((resolve) => (this.#settle = resolve));
    try {
      if (treeTestHooks.watchFailure === 'throw') throw watchFailure();
      this.#watcher = watch(join(dir, 'cgroup.events'), { persistent: true }, () => this.#changed());
      this.#watcher.on('error', () => this.#pollInstead());
      if (treeTestHooks.watchFailure === 'error') setImmediate(() => this.#watcher?.emit('error', watchFailure()));
    } catch {
      this.#pollInstead();
    }
    // A tree that emptied before the watch began is seen here.
    this.#changed();
  }

  /** The watch failed: read cgroup.events on a timer from now on, until `populated 0`. */
  #pollInstead(): void {
    this.#watcher?.close();
    this.#watcher = undefined;
    if (this.#empty || this.#poll) return;
    this.#poll = setInterval(() => this.#changed(), EVENTS_POLL_MS);
    if (!this.#refed) this.#poll.unref();
  }

  #changed(): void {
    if (this.#empty) return;
    const events = readEvents(this.dir);
    if (events === 'gone' || events?.populated === false) {
      this.#finish();
      return;
    }
    // A read that failed (EMFILE) may have missed the last change the watch will report
    // (`populated 0`): read on a timer from now on, until it is seen.
    if (events === undefined) this.#pollInstead();
    this.#waiters = this.#waiters.filter((waiter) => !waiter());
  }

  #finish(): void {
    if (this.#empty) return;
    this.#empty = true;
    this.#watcher?.close();
    clearInterval(this.#poll);
    if (!this.#keep) removeCgroup(this.dir);
    for (const waiter of this.#waiters) waiter();
    this.#waiters = [];
    this.#settle();
  }

  /**
   * Resolves once `done()` holds or the tree is empty, or after `ms` at the latest; `done` is
   * asked at each cgroup.events change.
   */
  #until(done: () => boolean, ms: number): Promise<void> {
    return new Promise((resolve) => {
      if (this.#empty || done()) return resolve();
      const timer = setTimeout(() => {
        this.#waiters = this.#waiters.filter((w) => w !== waiter);
        resolve();
      }, ms);
      const waiter = () => {
        if (!this.#empty && !done()) return false;
        clearTimeout(timer);
        resolve();
        return true;
      };
      this.#waiters.push(waiter);
    });
  }

  /**
   * Signals each process in the tree through a pidfd, opened and then checked to be in the
   * cgroup: a pid reused meanwhile by a process outside it is never hit (the pidfd still names
   * the process that was checked). Goes over cgroup.procs again until a pass finds no pid it
   * has not signalled, for a child forked while the freeze took hold (a few passes at most:
   * nothing runs to fork once it has).
   */
  #signalEach(signal: number): void {
    const signalled = new Set<number>();
    for (let pass = 0; pass < 8; pass++) {
      const fresh = this.pids().filter((pid) => !signalled.has(pid));
      if (fresh.length === 0) return;
      for (const pid of fresh) {
        signalled.add(pid);
        const pidfd = this.#native.pidfdOpen(pid);
        if (pidfd < 0) continue; // gone already
        try {
          if (inCgroup(pid, this.#path)) this.#native.pidfdSignal(pidfd, signal);
        } finally {
          closeSync(pidfd);
        }
      }
    }
  }

  /** Whether every process of the tree has exited. */
  get empty(): boolean {
    return this.#empty;
  }

  /** The pids in the tree now. */
  pids(): number[] {
    return this.#empty ? [] : cgroupPids(this.dir);
  }

  /**
   * Signals every process of the tree. SIGKILL goes through cgroup.kill where the kernel has it
   * (5.14+); otherwise the cgroup is frozen (no process can fork or exit meanwhile), each
   * process is signalled through a pidfd opened and then checked to be in the cgroup, so a
   * reused pid is never hit, and the cgroup is thawed. When `frozen 1` has not come after
   * {@link FREEZE_DEADLINE_MS}, the processes are signalled all the same, the freeze still
   * asked for: a task that has not frozen is in the kernel and freezes on its way out, so none
   * runs to fork meanwhile. False when the tree was already empty.
   */
  async kill(signal: number): Promise<boolean> {
    if (this.#empty) return false;
    const killFile = join(this.dir, 'cgroup.kill');
    if (signal === osConstants.signals.SIGKILL && !treeTestHooks.withoutCgroupKill && existsSync(killFile)) {
      writeFileSync(killFile, '1');
      return true;
    }
    const freezeFile = join(this.dir, 'cgroup.freeze');
    writeFileSync(freezeFile, '1');
    try {
      await this.#until(() => {
        const events = readEvents(this.dir);
        return events !== 'gone' && events?.frozen === true && !treeTestHooks.neverFrozen;
      }, FREEZE_DEADLINE_MS);
      this.#signalEach(signal);
    } finally {
      // Also when the tree emptied meanwhile: a kept cgroup must not stay frozen for the next
      // process placed there.
      this.#thaw(freezeFile);
    }
    return true;
  }

  /**
   * Writes `0` to cgroup.freeze. Should that fail but for the directory being gone (EMFILE in a
   * daemon out of descriptors), it is tried again on the timer: a tree left frozen would never
   * act on the signal it was just sent.
   */
  #thaw(freezeFile: string): void {
    try {
      if (treeTestHooks.thawFailures > 0 && treeTestHooks.thawFailures--) {
        throw Object.assign(new Error('EMFILE: too many open files'), { code: 'EMFILE' });
      }
      writeFileSync(freezeFile, '0');
    } catch (error) {
      // ENOENT: removed meanwhile, nothing left to thaw.
      if ((error as { code?: string }).code !== 'ENOENT') setTimeout(() => this.#thaw(freezeFile), EVENTS_POLL_MS);
    }
  }

  /** Keeps the event loop alive until the tree has exited (the default). */
  ref(): void {
    this.#refed = true;
    this.#watcher?.ref();
    this.#poll?.ref();
  }

  /** Lets the event loop end while the tree still runs. */
  unref(): void {
    this.#refed = false;
    this.#watcher?.unref();
    this.#poll?.unref();
  }
}
