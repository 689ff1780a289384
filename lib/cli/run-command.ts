import { constants as osConstants } from 'node:os';
import type { Guest } from '../guest.js';
import type { SpawnGuestOptions, StdioSpec } from '../options.js';
import { spawnGuest } from '../spawn-guest.js';
import { GUEST_OPTION_FLAGS, type GuestCommand } from './guest-command-line.js';
import { EXIT_STATUS_HELP, renderHelp } from './help.js';
import { withOptionSources } from './report-error.js';

/** Signals an operator sends to stop a guest; capspawn passes them on rather than dying. */
const FORWARDED_SIGNALS = ['SIGINT', 'SIGTERM', 'SIGHUP'] as const;

const RUN_HELP = renderHelp({
  usage: ['capspawn [run] [OPTIONS] [--] PROGRAM [ARGS...]'],
  description:
    'Runs PROGRAM as another user with exactly the groups and ambient capabilities asked for, ' +
    'verified in the child before execve. stdio is inherited (--stdout and --stderr send output to files); SIGINT, SIGTERM and SIGHUP are passed on ' +
    "to PROGRAM, and capspawn exits with PROGRAM's status. Options end at -- or at the first word that is not one.",
  flags: [{ title: 'Options', flags: GUEST_OPTION_FLAGS }],
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

/** stdio of `capspawn run`: inherited, except the slots --stdout, --stderr (or the config's `{ file }` slots) send to files. */
function logFilesOrInherit(stdio: SpawnGuestOptions['stdio']): StdioSpec[] {
  const slots = Array.isArray(stdio) ? stdio : [];
  return [0, 1, 2].map((slot) => {
    const spec: unknown = slots[slot];
    return spec !== null && typeof spec === 'object' && 'file' in spec ? (spec as StdioSpec) : 'inherit';
  });
}

async function runGuest({ profile, program }: Parameters<GuestCommand['execute']>[0]): Promise<number> {

  // Listen before spawning: a signal that arrives while the guest starts is delivered to it
  // once it runs, instead of killing capspawn and leaving the guest behind.
  let guest: Guest | undefined;
  const pending: NodeJS.Signals[] = [];
  const forward = (signal: NodeJS.Signals) => (guest ? guest.kill(signal) : pending.push(signal));
  for (const signal of FORWARDED_SIGNALS) process.on(signal, forward);
  try {
    const [file, ...args] = program;
    guest = await withOptionSources(profile, () => spawnGuest(file, args, { ...profile.options, stdio: logFilesOrInherit(profile.options.stdio) }));
    for (const signal of pending) guest.kill(signal);
    return exitStatusOf(await guest.exited);
  } finally {
    for (const signal of FORWARDED_SIGNALS) process.off(signal, forward);
  }
}

export const RUN_COMMAND: GuestCommand = {
  name: 'run',
  summary: 'run PROGRAM as the guest (the default command)',
  help: RUN_HELP,
  guestFlags: GUEST_OPTION_FLAGS,
  ownFlags: [],
  takesProgram: true,
  userRequired: true,
  execute: runGuest,
};
