import { EventEmitter } from 'node:events';
import { Socket } from 'node:net';
import { constants as osConstants } from 'node:os';
import type { Readable, Writable } from 'node:stream';
import { performance } from 'node:perf_hooks';
import { CgroupTree } from './cgroup-tree.js';
import { exitChannel, type ExitTraceMessage } from './launch-trace.js';
import { checkSignal, signalName } from './options.js';
import { GuestTerminal } from './guest-terminal.js';
import type { NativeAddon, PidfdWatchHandle } from './native.js';
import { readPlacement, readProcStatus, type ProcPlacement, type ProcStatus } from './procfs.js';

/** How a guest ended: an exit code, or the signal that killed it. */
export interface GuestExit {
  /** The exit status, or null when a signal ended the guest. */
  code: number | null;
  /** The signal that ended the guest, or null when it exited. */
  signal: NodeJS.Signals | null;
}

export interface GuestInit {
  native: NativeAddon;
  pid: number;
  pidfd: number;
  /** The parent's end of each stdio pipe, -1 for slots without one. */
  fds: readonly number[];
  spawnfile: string;
  spawnargs: readonly string[];
  killSignal: number;
  /** Milliseconds from killSignal to SIGKILL for timeout, signal and disposal; 0: never. */
  forceKillAfter: number;
  timeout: number | undefined;
  signal: AbortSignal | undefined;
  /** The cgroup the guest started in; `own` when it was made for this guest. */
  cgroup?: { dir: string; line: string; own: boolean; keep: boolean };
  /** Whether the guest leads a session (and process group) of its own. */
  detached?: boolean;
  /** Whether fds[0] is the master of the guest's own pty (slots 0-2 are its slave). */
  terminal?: boolean;
}

function wrapFd(fd: number, slot: number): Socket | null {
  if (fd < 0) return null;
  if (slot === 0) return new Socket({ fd, readable: false, writable: true });
  if (slot < 3) return new Socket({ fd, readable: true, writable: false });
  return new Socket({ fd, readable: true, writable: true });
}

/**
 * A running guest. Shaped like ChildProcess where that makes sense: `pid`, stdio streams,
 * `'exit'` and `'close'` events, `kill()`, `ref()`/`unref()`; and adds `exited`,
 * `credentials()` and `Symbol.asyncDispose`.
 *
 * Events: `'exit' (code, signal)` once the guest has ended and been reaped; `'close' (code,
 * signal)` after that, once its stdio streams have closed too.
 */
export class Guest extends EventEmitter implements AsyncDisposable {
  /** The guest's process id. */
  readonly pid: number;
  /**
   * The master side of the guest's own pty (option `terminal`), with `resize(cols, rows)`;
   * null otherwise. stdin, stdout and stderr are then null: all three are the pty.
   */
  readonly terminal: GuestTerminal | null;
  /** Writable end of the guest's stdin pipe, or null when stdin is not `'pipe'`. */
  readonly stdin: Writable | null;
  /** Readable end of the guest's stdout pipe, or null. */
  readonly stdout: Readable | null;
  /** Readable end of the guest's stderr pipe, or null. */
  readonly stderr: Readable | null;
  /** Every stdio slot's stream (sockets for `'pipe'` slots above 2), or null. */
  readonly stdio: readonly (Socket | null)[];
  /** The program as given to spawnGuest. */
  readonly spawnfile: string;
  /** argv of the guest, argv0 first. */
  readonly spawnargs: readonly string[];
  /** Settles once the guest has exited and been reaped; never rejects. */
  readonly exited: Promise<GuestExit>;
  /** Exit code, once exited normally. */
  exitCode: number | null = null;
  /** Signal that ended the guest, once it has. */
  signalCode: NodeJS.Signals | null = null;
  /** Whether `kill()` delivered a signal. */
  killed = false;
  /** The cgroup v2 directory the guest started in, or null. */
  readonly cgroup: string | null;
  /**
   * With a cgroup of the guest's own: settles once the guest and every process it started
   * have exited (cgroup.events shows `populated 0`, watched on the event loop) and the cgroup
   * has been removed (unless `keep`). Null without a cgroup of its own. Never rejects. Should
   * the watch fail (inotify out of watches: ENOSPC), cgroup.events is read every 250 ms
   * instead, as a fallback: it still settles only at `populated 0`.
   */
  readonly treeExited: Promise<void> | null;

  #watch: PidfdWatchHandle;
  #reaped = false;
  #killSignal: number;
  #forceKillAfter: number;
  #timer: NodeJS.Timeout | undefined;
  #forceKillTimer: NodeJS.Timeout | undefined;
  #abort: AbortSignal | undefined;
  #onAbort = () => void this.#terminate().catch(() => {});
  #tree: CgroupTree | undefined;
  #detached: boolean;

  /** @internal Created by spawnGuest. */
  constructor(init: GuestInit) {
    super();
    this.pid = init.pid;
    this.spawnfile = init.spawnfile;
    this.spawnargs = init.spawnargs;
    this.#killSignal = init.killSignal;
    this.#forceKillAfter = init.forceKillAfter;
    const [master] = init.fds;
    if (init.terminal && master === undefined) throw new Error('a terminal guest came back without its pty master');
    this.terminal = init.terminal && master !== undefined ? new GuestTerminal(init.native, master) : null;
    this.stdio = init.fds.map((fd, slot) => (init.terminal && slot < 3 ? null : wrapFd(fd, slot)));
    this.stdin = this.stdio[0] ?? null;
    this.stdout = this.stdio[1] ?? null;
    this.stderr = this.stdio[2] ?? null;
    this.cgroup = init.cgroup?.dir ?? null;
    this.#detached = init.detached === true;
    if (init.cgroup?.own) this.#tree = new CgroupTree(init.native, init.cgroup.dir, init.cgroup.line.slice(3, -1), init.cgroup.keep);
    this.treeExited = this.#tree?.exited ?? null;

    const started = performance.now();
    let settle!: (exit: GuestExit) => void;
    this.exited = new Promise((resolve) => (settle = resolve));
    const streams: (Socket | GuestTerminal)[] = this.stdio.filter((s): s is Socket => s !== null);
    if (this.terminal) streams.push(this.terminal);
    const streamsClosed = Promise.all(streams.map((s) => new Promise((resolve) => s.once('close', resolve))));
    this.#watch = new init.native.PidfdWatch(init.pidfd, (code, signal) => {
      this.#reaped = true;
      // With a cgroup of its own the guest is the tree: timeout, signal and the escalation
      // stay armed until treeExited.
      if (!this.#tree) this.#disarm();
      const exit: GuestExit = { code, signal: signal === null ? null : (signalName(signal) ?? null) };
      this.exitCode = exit.code;
      this.signalCode = exit.signal;
      settle(exit);
      if (exitChannel.hasSubscribers)
        exitChannel.publish({ pid: this.pid, ...exit, duration: performance.now() - started } satisfies ExitTraceMessage);
      this.emit('exit', exit.code, exit.signal);
      void streamsClosed.then(() => this.emit('close', exit.code, exit.signal));
    });

    if (init.timeout !== undefined) {
      this.#timer = setTimeout(() => void this.#terminate().catch(() => {}), init.timeout);
      this.#timer.unref();
    }
    if (init.signal) {
      this.#abort = init.signal;
      init.signal.addEventListener('abort', this.#onAbort, { once: true });
    }
    void this.#tree?.exited.then(() => this.#disarm());
  }

  /** Clears the timeout, the abort listener and a pending SIGKILL: the guest has ended. */
  #disarm(): void {
    clearTimeout(this.#timer);
    clearTimeout(this.#forceKillTimer);
    this.#abort?.removeEventListener('abort', this.#onAbort);
  }

  /**
   * Sends a signal through the guest's pidfd. Returns false once the guest has been reaped:
   * a later process that reuses the pid is never signalled.
   */
  kill(signal: NodeJS.Signals | number = this.#killSignal): boolean {
    const number = checkSignal(signal, 'signal');
    if (this.#reaped) return false;
    const err = this.#watch.kill(number);
    if (err === 0) this.killed = true;
    return err === 0;
  }

  /**
   * Sends killSignal, and SIGKILL `forceKillAfter` ms later if the guest is still there (one
   * escalation however often this runs), for timeout, signal and disposal. With a cgroup of its
   * own, to every process of the tree until treeExited, as killTree does. The timer does not
   * keep the event loop alive: the guest's own watches do, unless unref()ed. Resolves once
   * killSignal has been sent; rejects only when the tree could not be signalled (the first
   * process has been signalled through its pidfd then).
   */
  async #terminate(): Promise<void> {
    const tree = this.#tree;
    if (tree ? tree.empty : this.#reaped) return;
    const send = async (signal: number): Promise<void> => {
      if (!tree) {
        this.kill(signal);
        return;
      }
      try {
        if (await tree.kill(signal)) this.killed = true;
      } catch (error) {
        this.kill(signal);
        throw error;
      }
    };
    const escalate = this.#forceKillAfter !== 0 && !this.#forceKillTimer && this.#killSignal !== osConstants.signals.SIGKILL;
    if (escalate) {
      this.#forceKillTimer = setTimeout(() => void send(osConstants.signals.SIGKILL).catch(() => {}), this.#forceKillAfter);
      this.#forceKillTimer.unref();
    }
    await send(this.#killSignal);
  }

  /**
   * Signals the guest and every process it started. With a cgroup of its own: SIGKILL through
   * cgroup.kill (Linux 5.14+), other signals (and SIGKILL on older kernels) by freezing the
   * cgroup, signalling each process through a pidfd and thawing it (signalling anyway after
   * 3 s without `frozen 1`, as with a task in uninterruptible sleep). For a `detached` guest
   * without one: its process group, while the guest has not been reaped (its pid, and so the
   * group's id, cannot be reused before that). Resolves false when nothing was left to signal;
   * rejects for a guest that has neither, since its tree cannot be told apart.
   */
  async killTree(signal: NodeJS.Signals | number = 'SIGKILL'): Promise<boolean> {
    const number = checkSignal(signal, 'signal');
    if (this.#tree) return this.#tree.kill(number);
    if (!this.#detached) {
      throw Object.assign(
        new Error(
          "killTree needs a cgroup of the guest's own (cgroup: { parent }) or a detached guest (detached: true, its process group); " +
            'without either, the processes it started cannot be told apart from others',
        ),
        { code: 'ERR_CAPSPAWN_NO_TREE' },
      );
    }
    if (this.#reaped) return false;
    try {
      process.kill(-this.pid, number);
    } catch (error) {
      if ((error as { code?: string }).code === 'ESRCH') return false;
      throw error;
    }
    return true;
  }

  /**
   * The guest's credentials as the kernel shows them (/proc/<pid>/status, parsed). Rejects
   * once the guest has been reaped, so it never describes another process with the same pid.
   */
  async credentials(): Promise<ProcStatus> {
    return this.#fromProc(() => readProcStatus(this.pid));
  }

  /**
   * Where the guest runs: its cgroup, resource limits, namespace ids, oom_score_adj and nice
   * value, for logging. Rejects once the guest has been reaped, like {@link credentials}.
   */
  async placement(): Promise<ProcPlacement> {
    return this.#fromProc(() => readPlacement(this.pid));
  }

  /**
   * Reads from /proc/<pid> while the pid is still this guest's. Only this object reaps the
   * guest, on the event loop; if it has not happened by the time the reads have finished, they
   * all read this guest (a zombie keeps its pid until reaped).
   */
  async #fromProc<T>(read: () => Promise<T>): Promise<T> {
    if (this.#reaped) throw this.#goneError();
    let result: T;
    try {
      result = await read();
    } catch (error) {
      if (this.#reaped) throw this.#goneError();
      throw error;
    }
    if (this.#reaped) throw this.#goneError();
    return result;
  }

  #goneError(): Error {
    return Object.assign(new Error(`guest ${this.pid} has exited; its credentials are gone`), { code: 'ESRCH' });
  }

  /** Keeps the event loop alive until the guest exits (the default). */
  ref(): this {
    this.#watch.ref();
    this.#tree?.ref();
    return this;
  }

  /** Lets the event loop end while the guest still runs. */
  unref(): this {
    this.#watch.unref();
    this.#tree?.unref();
    return this;
  }

  /**
   * Kills the guest with its kill signal (SIGTERM by default), then with SIGKILL after
   * `forceKillAfter` ms if it is still there, and waits until it is reaped. With a cgroup of its
   * own, the whole tree: killSignal to every process, SIGKILL to what is left after
   * `forceKillAfter`, and it waits for `treeExited` too.
   */
  async [Symbol.asyncDispose](): Promise<void> {
    await this.#terminate();
    await Promise.all([this.exited, this.#tree?.exited]);
  }
}
