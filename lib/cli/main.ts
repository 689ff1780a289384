import { DOCTOR_COMMAND } from './doctor-command.js';
import { exitStatusForError } from './exit-status.js';
import { EXPLAIN_COMMAND } from './explain-command.js';
import { GUEST_OPTION_FLAGS, type GuestCommand, runGuestCommand } from './guest-command-line.js';
import { EXIT_STATUS_HELP, packageVersion, renderHelp } from './help.js';
import { reportError } from './report-error.js';
import { RUN_COMMAND } from './run-command.js';
import { runTapCommand } from './tap-command.js';

const COMMANDS: readonly GuestCommand[] = [RUN_COMMAND, EXPLAIN_COMMAND, DOCTOR_COMMAND];

const TAP_SUMMARY = { name: 'tap', summary: 'make, remove or show a persistent TAP device (capspawn tap --help)' };

export const OVERVIEW_HELP = renderHelp({
  usage: [
    'capspawn [run] [OPTIONS] [--] PROGRAM [ARGS...]',
    'capspawn explain [OPTIONS] [--json] [--show-secrets] [--] PROGRAM [ARGS...]',
    'capspawn doctor [OPTIONS] [--json]',
    'capspawn tap add|del|show NAME [TAP OPTIONS]',
    'capspawn COMMAND --help',
    'capspawn --version',
  ],
  description:
    'Runs PROGRAM as another user with exactly the primary group, supplementary groups and ' +
    'ambient capabilities asked for, verified in the child before execve, or fails naming the step ' +
    'and the errno; never something in between.',
  preformatted: `Commands:\n${[...COMMANDS, TAP_SUMMARY].map((c) => `  ${c.name.padEnd(10)}${c.summary}`).join('\n')}`,
  flags: [{ title: 'Options (all commands)', flags: GUEST_OPTION_FLAGS }],
  examples: [
    'capspawn --user nobody --caps net_admin -- grep CapAmb /proc/self/status',
    'capspawn explain --user justin --groups cvdnetwork,kvm --caps net_admin -- qemu',
    'capspawn doctor --user justin --caps net_admin',
  ],
  footer: EXIT_STATUS_HELP,
});

/** The whole CLI: returns the exit status; writes output and one-line errors itself. */
export async function main(argv: readonly string[]): Promise<number> {
  try {
    const [first, ...rest] = argv;
    if (first === '--help' || first === '-h') {
      process.stdout.write(OVERVIEW_HELP);
      return 0;
    }
    if (first === '--version') {
      process.stdout.write(`capspawn ${packageVersion()}\n`);
      return 0;
    }
    if (first === 'tap') return await runTapCommand(rest);
    // `run` is the default: a first word that names no command starts the options or the program.
    const named = COMMANDS.find((c) => c.name === first);
    return await (named ? runGuestCommand(named, rest) : runGuestCommand(RUN_COMMAND, argv));
  } catch (error) {
    reportError(error);
    return exitStatusForError(error);
  }
}
