// A running guest: exit, signals through the pidfd, credentials(), stdio, timeout, abort,
// unref, dispose, and Node's own children beside it.
import { execFile, spawn } from 'node:child_process';
import { once } from 'node:events';
import { existsSync, readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { spawnGuest, type Guest } from '../lib/index.js';
import { childrenOf, FIXTURE_USERS, isRoot, notRootReason, uidOf } from './support/fixtures.js';
import { collect, inspectPath } from './support/guests.js';

const user = FIXTURE_USERS.guest.name;
const holdScript = new URL('./support/hold-guest.mjs', import.meta.url).pathname;
const sleeper = (options: object = {}) => spawnGuest(inspectPath(), ['sleep', '60'], { user, stdio: 'ignore', ...options });

/** Waits until `pid` is gone or `tries` checks (50 ms apart) have passed; true when gone. */
async function vanishes(pid: number, tries = 100): Promise<boolean> {
  for (let i = 0; i < tries; i++) {
    if (!existsSync(`/proc/${pid}`)) return true;
    await new Promise((r) => setTimeout(r, 50));
  }
  return false;
}

/** Runs hold-guest.mjs and returns its process and the guest's pid. */
async function holdGuest(job: object) {
  const holder = spawn(
    process.execPath,
    [holdScript, JSON.stringify({ file: inspectPath(), args: ['sleep', '60'], options: { user }, ...job })],
    {
      stdio: ['ignore', 'pipe', 'inherit'],
    },
  );
  const [line] = (await once(holder.stdout, 'data')) as [Buffer];
  return { holder, guestPid: (JSON.parse(line.toString()) as { pid: number }).pid };
}

/**
 * Starts `sleep 60` with pid `pid`: a small forker asks the kernel for that pid next
 * (ns_last_pid) and forks, over and over until it gets it. A Node process forks too slowly for
 * this on a busy machine (every process and thread started meanwhile takes a pid). The pid is
 * reported once sleep runs; `release()` kills and reaps it. The pid is -1 when no attempt got it.
 */
async function takePid(pid: number): Promise<{ pid: number; release: () => Promise<void> }> {
  const forker = spawn('python3', ['-c', TAKE_PID, String(pid)], { stdio: ['pipe', 'pipe', 'inherit'] });
  const [line] = (await once(forker.stdout, 'data')) as [Buffer];
  return {
    pid: Number(line.toString().trim()),
    release: async () => {
      forker.stdin.end();
      await once(forker, 'exit');
    },
  };
}

const TAKE_PID = `
import os, sys
target = int(sys.argv[1])
for attempt in range(500):
    with open('/proc/sys/kernel/ns_last_pid', 'w') as f:
        f.write(str(target - 1))
    ready, done = os.pipe()  # close-on-exec: EOF once the child has run execve
    pid = os.fork()
    if pid == 0:
        os.execvp('sleep', ['sleep', '60'])
    os.close(done)
    os.read(ready, 1)
    os.close(ready)
    if pid == target:
        break
    os.kill(pid, 9)
    os.waitpid(pid, 0)
else:
    pid = -1
print(pid if pid == target else -1, flush=True)
sys.stdin.read()
if pid > 0:
    os.kill(pid, 9)
    os.waitpid(pid, 0)
`;

/** Runs node with `args` and reports how it ended and what it printed, whatever the status. */
function runNode(args: string[]): Promise<{ code: number | null; signal: string | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = execFile(process.execPath, args, { encoding: 'utf8' }, (_error, stdout, stderr) =>
      resolve({ code: child.exitCode, signal: child.signalCode, stdout, stderr }),
    );
  });
}

describe.runIf(isRoot)(`a running guest (${notRootReason})`, () => {
  it("reports the exit code through 'exit' and exited", async () => {
    const guest = await spawnGuest(inspectPath(), ['exit', '3'], { user, stdio: 'ignore' });
    const [event, exit] = await Promise.all([once(guest, 'exit'), guest.exited]);
    expect(event).toEqual([3, null]);
    expect(exit).toEqual({ code: 3, signal: null });
    expect(guest.exitCode).toBe(3);
    expect(childrenOf()).toEqual([]);
  });

  it('kills through the pidfd and reports the signal', async () => {
    const guest = await sleeper();
    expect(guest.kill('SIGTERM')).toBe(true);
    expect(await guest.exited).toEqual({ code: null, signal: 'SIGTERM' });
    expect(guest.signalCode).toBe('SIGTERM');
    expect(guest.killed).toBe(true);
  });

  it('never signals a later process that reuses the pid of a reaped guest', async () => {
    const guest = await spawnGuest(inspectPath(), ['exit', '0'], { user, stdio: 'ignore' });
    await guest.exited;
    const reused = await takePid(guest.pid);
    try {
      expect(reused.pid, 'could not get the same pid again').toBe(guest.pid);
      expect(guest.kill('SIGKILL')).toBe(false);
      // The new process with that pid is still alive: it was not signalled.
      expect(readFileSync(`/proc/${guest.pid}/cmdline`, 'latin1')).toBe('sleep\x0060\x00');
    } finally {
      await reused.release();
    }
  });

  it("hands an exception thrown by an 'exit' listener to Node as uncaught, never aborting the process", async () => {
    const script = (handler: string) => `
      import { spawnGuest } from ${JSON.stringify(new URL('../dist/index.js', import.meta.url).pathname)};
      ${handler}
      const guest = await spawnGuest('/bin/true', [], { user: ${JSON.stringify(user)}, stdio: 'ignore' });
      // From the exit on (however long the guest takes), the daemon has 200 ms to go on.
      guest.on('exit', () => setTimeout(() => console.log('still running'), 200));
      guest.on('exit', () => { throw new Error('from an exit listener'); });`;
    const node = (code: string) => runNode(['--input-type=module', '-e', code]);
    // With a handler, the daemon sees the exception there and goes on.
    const handled = await node(script("process.on('uncaughtException', (e) => console.log('caught: ' + e.message));"));
    expect(handled).toMatchObject({ code: 0, signal: null, stdout: 'caught: from an exit listener\nstill running\n' });
    // Without one, Node's own report and exit status 1, as for any callback: not SIGABRT.
    const unhandled = await node(script(''));
    expect(unhandled).toMatchObject({ code: 1, signal: null, stdout: '' });
    expect(unhandled.stderr).toContain('Error: from an exit listener');
  });

  it('survives worker threads that end while their launches are in flight, and leaks no fd', async () => {
    // A launch that completes while its worker is torn down cannot give its answer to JS; it
    // used to abort the whole process (a C++ exception out of the thread-pool callback), and an
    // answer given but never read left the guest's pidfd and pipes open.
    const result = await runNode([new URL('./support/worker-cycles.mjs', import.meta.url).pathname, '20', user]);
    expect(result).toMatchObject({ code: 0, signal: null });
    const { ended, fdsBefore, fdsAfter } = JSON.parse(result.stdout) as { ended: number; fdsBefore: number; fdsAfter: number };
    expect(ended).toBe(20);
    expect(fdsAfter).toBe(fdsBefore);
  });

  it('reaps guests that outlive the worker thread that launched them: five cycles leave no zombie', async () => {
    // The worker's environment used to close the pidfd and forget the guest: each one stayed a
    // zombie for the life of the process, counting against its user's RLIMIT_NPROC.
    const result = await runNode([new URL('./support/worker-orphans.mjs', import.meta.url).pathname, '5', user, inspectPath()]);
    expect(result).toMatchObject({ code: 0, signal: null });
    expect(JSON.parse(result.stdout)).toEqual({ reaped: 5, zombies: [] });
  });

  it("reads the guest's credentials while it runs, and refuses once it is reaped", async () => {
    const guest = await sleeper({ caps: ['net_admin'] });
    const status = await guest.credentials();
    expect(status.pid).toBe(guest.pid);
    expect(status.uid).toEqual({ real: uidOf(user), effective: uidOf(user), saved: uidOf(user), filesystem: uidOf(user) });
    expect(status.capabilities.ambient.names).toEqual(['CAP_NET_ADMIN']);
    guest.kill('SIGKILL');
    await guest.exited;
    await expect(guest.credentials()).rejects.toMatchObject({ code: 'ESRCH' });
  });

  it('pipes stdin to the guest and its stdout and stderr back', async () => {
    const guest = await spawnGuest('/bin/sh', ['-c', 'cat; echo err >&2'], { user });
    guest.stdin!.end('hello through a pipe\n');
    expect(await collect(guest)).toEqual({ code: 0, signal: null, stdout: 'hello through a pipe\n', stderr: 'err\n' });
  });

  it("emits 'close' after 'exit' once the stdio pipes are drained", async () => {
    const guest = await spawnGuest('/bin/sh', ['-c', 'echo out'], { user, stdio: ['ignore', 'pipe', 'ignore'] });
    const order: string[] = [];
    guest.on('exit', () => order.push('exit'));
    guest.stdout!.resume();
    await once(guest, 'close');
    expect(order).toEqual(['exit']);
    expect(guest.stdin).toBeNull();
    expect(guest.stderr).toBeNull();
  });

  it('sends killSignal after timeout', async () => {
    const guest = await sleeper({ timeout: 100, killSignal: 'SIGUSR1' });
    expect(await guest.exited).toEqual({ code: null, signal: 'SIGUSR1' });
  });

  it('kills the guest when its AbortSignal aborts', async () => {
    const controller = new AbortController();
    const guest = await sleeper({ signal: controller.signal });
    controller.abort();
    expect(await guest.exited).toEqual({ code: null, signal: 'SIGTERM' });
  });

  it('spawns nothing for an already aborted signal', async () => {
    await expect(sleeper({ signal: AbortSignal.abort() })).rejects.toMatchObject({ name: 'AbortError', code: 'ABORT_ERR' });
    expect(childrenOf()).toEqual([]);
  });

  it('kills and waits on Symbol.asyncDispose', async () => {
    const guest = await sleeper();
    await guest[Symbol.asyncDispose]();
    expect(guest.signalCode).toBe('SIGTERM');
    expect(childrenOf()).toEqual([]);
  });

  describe('forceKillAfter: SIGKILL follows killSignal for a guest that ignores it', () => {
    /** A guest that ignores SIGTERM (SIG_IGN survives exec), started once that is so. */
    async function stubborn(options: object = {}): Promise<Guest> {
      const guest = await spawnGuest('/bin/sh', ['-c', "trap '' TERM; echo ready; exec sleep 60"], {
        user,
        stdio: ['ignore', 'pipe', 'ignore'],
        ...options,
      });
      await once(guest.stdout!, 'data');
      guest.stdout!.resume();
      return guest;
    }

    it('on Symbol.asyncDispose', async () => {
      const guest = await stubborn({ forceKillAfter: 200 });
      await guest[Symbol.asyncDispose]();
      expect(guest.signalCode).toBe('SIGKILL');
      expect(childrenOf()).toEqual([]);
    });

    it('on timeout', async () => {
      // The timeout runs from the launch: on a slow machine it can fire before the shell has
      // set its trap, and SIGTERM then ends it before it is ready. Such a run proves nothing,
      // so it is tried again with a longer timeout; one that fired after the trap must end
      // in SIGKILL.
      for (const timeout of [100, 2000, 20_000]) {
        const guest = await spawnGuest('/bin/sh', ['-c', "trap '' TERM; echo ready; exec sleep 120"], {
          user,
          stdio: ['ignore', 'pipe', 'ignore'],
          timeout,
          forceKillAfter: 200,
        });
        const ready = await Promise.race([once(guest.stdout!, 'data').then(() => true), guest.exited.then(() => false)]);
        guest.stdout!.resume();
        const exit = await guest.exited;
        if (!ready) {
          expect(exit).toEqual({ code: null, signal: 'SIGTERM' });
          continue;
        }
        expect(exit).toEqual({ code: null, signal: 'SIGKILL' });
        return;
      }
      throw new Error('the shell never set its trap before the timeout, even at 20 s');
    }, 120_000);

    it('when the AbortSignal aborts', async () => {
      const controller = new AbortController();
      const guest = await stubborn({ signal: controller.signal, forceKillAfter: 200 });
      controller.abort();
      expect(await guest.exited).toEqual({ code: null, signal: 'SIGKILL' });
    });

    it('after 5000 ms by default, so disposal never waits forever', async () => {
      const guest = await stubborn();
      await guest[Symbol.asyncDispose]();
      expect(guest.signalCode).toBe('SIGKILL');
    });

    it('never with forceKillAfter: 0', async () => {
      const guest = await stubborn({ forceKillAfter: 0 });
      const disposed = guest[Symbol.asyncDispose]();
      await new Promise((r) => setTimeout(r, 500));
      expect(guest.exitCode === null && guest.signalCode === null).toBe(true);
      guest.kill('SIGKILL');
      await disposed;
      expect(guest.signalCode).toBe('SIGKILL');
    });

    it('not after an explicit kill()', async () => {
      const guest = await stubborn({ forceKillAfter: 100 });
      guest.kill();
      await new Promise((r) => setTimeout(r, 500));
      expect(guest.signalCode).toBeNull();
      guest.kill('SIGKILL');
      await guest.exited;
    });
  });

  it('keeps the event loop alive until the guest exits, unless unref()ed', async () => {
    const { holder, guestPid } = await holdGuest({ unref: true });
    const [code] = await once(holder, 'exit');
    expect(code).toBe(0);
    expect(existsSync(`/proc/${guestPid}`)).toBe(true);
    process.kill(guestPid, 'SIGKILL');
  });

  it('kills the guest when the parent dies, with parentDeathSignal', async () => {
    const { holder, guestPid } = await holdGuest({ options: { user, parentDeathSignal: 'SIGKILL' } });
    holder.kill('SIGKILL');
    expect(await vanishes(guestPid)).toBe(true);
  });

  it('lets the guest outlive the parent without parentDeathSignal', async () => {
    const { holder, guestPid } = await holdGuest({});
    holder.kill('SIGKILL');
    await once(holder, 'exit');
    expect(await vanishes(guestPid, 4)).toBe(false);
    process.kill(guestPid, 'SIGKILL');
  });

  it("leaves child_process alone: every one of its 'exit' events fires beside guests", async () => {
    const ours: Promise<unknown>[] = [];
    const theirs: Promise<unknown>[] = [];
    for (let i = 0; i < 25; i++) {
      theirs.push(
        new Promise((resolve, reject) =>
          execFile('/bin/sh', ['-c', `exit ${i % 7}`], (e) => (e && e.code !== i % 7 ? reject(e) : resolve(i))),
        ),
      );
      theirs.push(once(spawn('true'), 'exit'));
      ours.push(spawnGuest('/bin/true', { user, stdio: 'ignore' }).then((g: Guest) => g.exited));
    }
    const results = await Promise.all([...theirs, ...ours]);
    expect(results).toHaveLength(75);
    expect(childrenOf()).toEqual([]);
  });
});
