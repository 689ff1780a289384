// A daemon embedding capspawn, put in an unusual state before it spawns, for test/hardening.
// The last argument is the JSON job { scenario, file, args, options, ... }, so that runDaemon
// can start it as a launcher (`[process.execPath, this file]`, after `setsid` for a process
// group of its own) and the daemon.mjs arguments it appends are ignored. Prints one JSON line.
//   closed-stdin   close fd 0, then spawn once and report what the guest printed
//   emfile         use up every fd (RLIMIT_NOFILE, `limit`), then free `fromFree`, ... `free` fds
//                  and try a spawn after each: every attempt must succeed or be a typed error;
//                  with `firstLaunch`, the process has not launched anything before
//   signal-burst   a SIGWINCH handler, `spawns` guests while the whole process group gets
//                  `bursts` SIGWINCH; counts the handler's runs against the signals sent
//   clone-mode-after-load  set CAPSPAWN_CLONE_MODE=fork after the import, then spawn once and
//                  report whether the launch still shares memory (it read the mode at load)
//   fd-walk        lower the soft RLIMIT_NOFILE to `soft` (below fd `highFd`, which the
//                  launcher left open), then spawn once through the /proc/self/fd walk that
//                  kernels before 5.11 take; with `unmountProc`, in a mount namespace of its
//                  own (unshare -m), with /proc unmounted for the launch; with `fakeProc`
//                  too, a tmpfs there whose self/fd lists 0 to `soft` - 1 as links to `file`
//                  (a /proc that is no proc file system: its list is not this process's fds)
import { execFileSync } from 'node:child_process';
import { closeSync, fstatSync, mkdirSync, openSync, readFileSync, readlinkSync, symlinkSync } from 'node:fs';
import { spawnGuest } from '../../dist/index.js';
import { testHooks } from '../../dist/launch-plan.js';
import { loadNative } from '../../dist/native.js';
import { childrenOf } from './children.mjs';

/** Open fds below `limit`, found with fstat so that it works with no fd to spare. */
function openFds(limit) {
  const open = [];
  for (let fd = 0; fd < limit; fd++) {
    try {
      fstatSync(fd);
      open.push(fd);
    } catch {}
  }
  return open;
}

function errorFields(error) {
  const { name, code, step, errno, syscall, option, message, spawnargs } = error;
  return { name, code, step, errno, syscall, option, message, spawnargs };
}

async function output(guest) {
  let stdout = '';
  guest.stdout?.setEncoding('utf8').on('data', (d) => (stdout += d));
  const exit = await guest.exited;
  if (guest.stdout) await new Promise((resolve) => (guest.stdout.readableEnded ? resolve() : guest.stdout.once('close', resolve)));
  return { ...exit, stdout };
}

const scenarios = {
  async 'closed-stdin'(job) {
    closeSync(0);
    const guest = await spawnGuest(job.file, job.args ?? [], job.options);
    const stdinFd = guest.stdin?._handle?.fd;
    const stdinTarget = stdinFd === undefined ? null : readlinkSync(`/proc/self/fd/${stdinFd}`);
    guest.stdin?.end();
    return { ...(await output(guest)), stdinTarget };
  },

  async emfile(job) {
    // One launch first, as a running daemon would have done, unless the job is about a first
    // launch made with no fd free (`firstLaunch`).
    if (!job.firstLaunch) await output(await spawnGuest(job.file, job.args ?? [], job.options));
    const held = [];
    for (;;) {
      try {
        held.push(openSync('/dev/null', 'r'));
      } catch (error) {
        if (error.code !== 'EMFILE') throw error;
        break;
      }
    }
    const attempts = [];
    for (let freed = 0; freed <= job.free; freed++) {
      if (freed > 0) closeSync(held.pop());
      if (freed < (job.fromFree ?? 0)) continue;
      const fdsBefore = openFds(job.limit);
      try {
        const guest = await spawnGuest(job.file, job.args ?? [], job.options);
        const out = await output(guest);
        for (const stream of guest.stdio) stream?.destroy();
        await new Promise((resolve) => setImmediate(resolve));
        attempts.push({ freed, ok: true, ...out });
      } catch (error) {
        attempts.push({ freed, ok: false, error: errorFields(error), fdsUnchanged: openFds(job.limit).join() === fdsBefore.join() });
      }
    }
    for (const fd of held) closeSync(fd);
    return { attempts };
  },

  async 'clone-mode-after-load'(job) {
    process.env.CAPSPAWN_CLONE_MODE = 'fork';
    const out = await output(await spawnGuest(job.file, job.args ?? [], job.options));
    return { ...out, cloneSharesMemory: loadNative().cloneSharesMemory() };
  },

  async 'fd-walk'(job) {
    // umount and mount run without the sanitizer runtime that npm run test:sanitize preloads:
    // with /proc gone it dies before the command has run.
    const plain = { env: Object.fromEntries(Object.entries(process.env).filter(([name]) => name !== 'LD_PRELOAD')) };
    // Node raised its soft limit to the hard one at start; lower it again, below highFd.
    execFileSync('prlimit', ['--pid', String(process.pid), `--nofile=${job.soft}:`]);
    const softLimit = Number(/^Max open files\s+(\d+)/m.exec(readFileSync('/proc/self/limits', 'latin1'))[1]);
    const highFdTarget = readlinkSync(`/proc/self/fd/${job.highFd}`);
    testHooks.walkFds = true;
    if (job.unmountProc) execFileSync('umount', ['-l', '/proc'], plain);
    if (job.fakeProc) {
      execFileSync('mount', ['-t', 'tmpfs', 'tmpfs', '/proc'], plain);
      mkdirSync('/proc/self/fd', { recursive: true });
      for (let fd = 0; fd < job.soft; fd++) symlinkSync(job.file, `/proc/self/fd/${fd}`);
    }
    try {
      return { softLimit, highFdTarget, ...(await output(await spawnGuest(job.file, job.args ?? [], job.options))) };
    } finally {
      if (job.unmountProc) execFileSync('mount', ['-t', 'proc', 'proc', '/proc'], plain);
    }
  },

  async 'signal-burst'(job) {
    let handled = 0;
    process.on('SIGWINCH', () => handled++);
    let sent = 0;
    let spawning = true;
    const burst = (async () => {
      while (spawning) {
        process.kill(0, 'SIGWINCH');
        sent++;
        await new Promise((resolve) => setImmediate(resolve));
      }
    })();
    const results = [];
    for (let i = 0; i < job.spawns; i++) {
      try {
        const guest = await spawnGuest(job.file, job.args ?? [], job.options);
        const out = await output(guest);
        results.push({ ok: true, code: out.code, signal: out.signal });
      } catch (error) {
        results.push({ ok: false, error: errorFields(error) });
      }
    }
    spawning = false;
    await burst;
    // Let the last signals reach the handler before counting.
    await new Promise((resolve) => setTimeout(resolve, 100));
    return { sent, handled, results };
  },
};

const job = JSON.parse(process.argv.at(-1));
try {
  const result = await scenarios[job.scenario](job);
  console.log(JSON.stringify({ ok: true, ...result, children: childrenOf().length }));
} catch (error) {
  console.log(JSON.stringify({ ok: false, error: errorFields(error), children: childrenOf().length }));
}
