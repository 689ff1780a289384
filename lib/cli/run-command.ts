import { constants as osConstants } from 'node:os';
import type { ReadStream } from 'node:tty';
import type { Guest, GuestExit } from '../guest.js';
import type { GuestTerminal } from '../guest-terminal.js';
import { loadNative } from '../native.js';
import type { SpawnGuestOptions, StdioSpec } from '../options.js';
import { spawnGuest } from '../spawn-guest.js';
import type { FlagSpec } from './command-line.js';
import { GUEST_OPTION_FLAGS, type GuestCommand } from './guest-command-line.js';
import { EXIT_STATUS_HELP, renderHelp } from './help.js';
import { withOptionSources } from './report-error.js';
import { UsageError } from './usage-error.js';

/** Signals an operator sends to stop a guest; capspawn passes them on rather than dying. */
const FORWARDED_SIGNALS = ['SIGINT', 'SIGTERM', 'SIGHUP'] as const;

const NO_PTY_FLAG: FlagSpec = {
  flag: 'no-pty',
  help: 'on a terminal, run the guest in a new session with no controlling tty instead of a pty',
};

const RUN_HELP = renderHelp({
  usage: ['capspawn [run] [OPTIONS] [--] PROGRAM [ARGS...]'],
  description:
    'Runs PROGRAM as another user with exactly the groups and ambient capabilities asked for, ' +
    'verified in the child before execve. On a terminal PROGRAM gets a pty of its own, relayed both ways (--no-pty: a new session without one). stdio is inherited (--stdout and --stderr send output to files); SIGINT, SIGTERM and SIGHUP are passed on ' +
    "to PROGRAM, and capspawn exits with PROGRAM's status. Options end at -- or at the first word that is not one.",
  flags: [{ title: 'Options', flags: [...GUEST_OPTION_FLAGS, NO_PTY_FLAG] }],
  examples: [
    'capspawn --user nobody --caps net_admin -- grep CapAmb /proc/self/status',
    'capspawn --user justin --group cvdnetwork --groups cvdnetwork,kvm \\',
    "    --caps net_admin --pass-env 'CUTTLEFISH_*' -- launch_cvd --daemon",
    'capspawn --config guest.json --umask 027 -- qemu-system-x86_64 -nographic ...',
  ],
  footer: EXIT_STATUS_HELP,
});

/** The status of an ended guest, as a shell reports it: its code, or 128 + the signal number. */
export function exitStatusOf(exit: { code: number | null; signal: NodeJS.Signals | null }): number {
  return exit.code ?? 128 + (exit.signal ? osConstants.signals[exit.signal] : 0);
}

/** stdio of `capspawn run`: inherited, except the slots --stdout and --stderr send to files (a profile holds no stdio). */
function logFilesOrInherit(stdio: SpawnGuestOptions['stdio']): StdioSpec[] {
  const slots = Array.isArray(stdio) ? stdio : [];
  return [0, 1, 2].map((slot) => {
    const spec: unknown = slots[slot];
    return spec !== null && typeof spec === 'object' && 'file' in spec ? (spec as StdioSpec) : 'inherit';
  });
}

/**
 * Passes a signal on: to every process of the guest's tree when it has a cgroup of its own (the
 * first process alone, through its pidfd, should the tree not be signalled), else to the guest.
 * Once the first process has exited, capspawn only waits for what it left running: a signal then
 * ends that with SIGKILL, so that a process ignoring the signal cannot keep capspawn (and the
 * cgroup) from ending.
 */
function passOn(guest: Guest, signal: NodeJS.Signals): void {
  if (guest.treeExited === null) {
    guest.kill(signal);
    return;
  }
  const sent = guest.exitCode !== null || guest.signalCode !== null ? 'SIGKILL' : signal;
  guest.killTree(sent).catch(() => guest.kill(sent));
}

/** The caller's window size, [cols, rows], from its terminal on stdin; undefined if unknown. */
function callerWindowSize(): [number, number] | undefined {
  const size = loadNative().getWindowSize(0);
  return Array.isArray(size) && size[0] > 0 && size[1] > 0 ? size : undefined;
}

/**
 * Relays the caller's terminal and the guest's own pty both ways until the guest has exited
 * and its output has ended: the caller's terminal raw meanwhile (restored on every way out,
 * process exit included), its window size passed on at each SIGWINCH.
 */
async function relayTerminal(guest: Guest): Promise<GuestExit> {
  const terminal = guest.terminal as GuestTerminal;
  const stdin = process.stdin as ReadStream;
  const restore = () => {
    try {
      stdin.setRawMode(false);
    } catch {}
  };
  const resize = () => {
    const size = callerWindowSize();
    if (size && !terminal.destroyed) terminal.resize(...size);
  };
  const typed = (chunk: Buffer) => terminal.write(chunk);
  process.once('exit', restore);
  process.on('SIGWINCH', resize);
  try {
    stdin.setRawMode(true);
    stdin.on('data', typed);
    terminal.pipe(process.stdout, { end: false });
    const ended = new Promise((resolve) => terminal.once('close', resolve));
    const exit = await guest.exited;
    await ended;
    return exit;
  } finally {
    stdin.off('data', typed);
    stdin.pause();
    restore();
    process.off('exit', restore);
    process.off('SIGWINCH', resize);
    terminal.destroy();
  }
}

async function runGuest({ profile, program, values }: Parameters<GuestCommand['execute']>[0]): Promise<number> {
  // A guest must never share the caller's terminal: with it as controlling tty, TIOCSTI would
  // let it type into the caller's shell. So on a terminal the guest gets a pty of its own, or
  // (--no-pty, --detached, or output sent to files) a new session without a controlling tty.
  const stdio = logFilesOrInherit(profile.options.stdio);
  const onTerminal = process.stdin.isTTY === true;
  const usePty = onTerminal && values['no-pty'] !== true && profile.options.detached !== true && stdio.every((s) => s === 'inherit');
  const size = usePty ? callerWindowSize() : undefined;
  const options: SpawnGuestOptions = usePty
    ? { ...profile.options, stdio: undefined, terminal: size ? { cols: size[0], rows: size[1] } : true }
    : { ...profile.options, stdio, detached: onTerminal || profile.options.detached };

  // Listen before spawning: a signal that arrives while the guest starts is delivered to it
  // once it runs, instead of killing capspawn and leaving the guest behind.
  let guest: Guest | undefined;
  const pending: NodeJS.Signals[] = [];
  const forward = (signal: NodeJS.Signals) => (guest ? passOn(guest, signal) : pending.push(signal));
  for (const signal of FORWARDED_SIGNALS) process.on(signal, forward);
  try {
    const [file, ...args] = program;
    if (file === undefined) throw new UsageError('no program given');
    guest = await withOptionSources(profile, () => spawnGuest(file, args, options));
    for (const signal of pending) passOn(guest, signal);
    const exit = await (usePty ? relayTerminal(guest) : guest.exited);
    // A cgroup of its own is the guest: capspawn returns once the whole tree has exited (and its
    // directory is removed), not when the first process has, leaving the rest running.
    await guest.treeExited;
    return exitStatusOf(exit);
  } finally {
    for (const signal of FORWARDED_SIGNALS) process.off(signal, forward);
  }
}

export const RUN_COMMAND: GuestCommand = {
  name: 'run',
  summary: 'run PROGRAM as the guest (the default command)',
  help: RUN_HELP,
  guestFlags: GUEST_OPTION_FLAGS,
  ownFlags: [NO_PTY_FLAG],
  takesProgram: true,
  userRequired: true,
  execute: runGuest,
};
