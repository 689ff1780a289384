import { DOCTOR_COMMAND } from './doctor-command.js';
import { EXIT_CAPSPAWN_FAILED, exitStatusForError } from './exit-status.js';
import { EXPLAIN_COMMAND } from './explain-command.js';
import { GUEST_OPTION_FLAGS, type GuestCommand, runGuestCommand } from './guest-command-line.js';
import { EXIT_STATUS_HELP, packageVersion, renderHelp } from './help.js';
import { reportError } from './report-error.js';
import { RUN_COMMAND } from './run-command.js';
import { runTapCommand, TAP_HELP } from './tap-command.js';
import { UsageError } from './usage-error.js';

const COMMANDS: readonly GuestCommand[] = [RUN_COMMAND, EXPLAIN_COMMAND, DOCTOR_COMMAND];

const TAP_SUMMARY = { name: 'tap', summary: 'make, remove or show a persistent TAP device (capspawn tap --help)' };

export const OVERVIEW_HELP = renderHelp({
  usage: [
    'capspawn [run] [OPTIONS] [--] PROGRAM [ARGS...]',
    'capspawn explain [OPTIONS] [--json] [--show-secrets] [--] PROGRAM [ARGS...]',
    'capspawn doctor [OPTIONS] [--json]',
    'capspawn tap add|del|show NAME [TAP OPTIONS]',
    'capspawn help [COMMAND]',
    'capspawn --version',
  ],
  description:
    'Runs PROGRAM as another user with exactly the primary group, supplementary groups and ' +
    'ambient capabilities asked for, verified in the child before execve, or fails naming the step ' +
    'and the errno; never something in between.',
  preformatted: `Commands:\n${[...COMMANDS, TAP_SUMMARY].map((c) => `  ${c.name.padEnd(10)}${c.summary}`).join('\n')}`,
  flags: [{ title: 'Options (run and explain; doctor takes those it checks: capspawn help doctor)', flags: GUEST_OPTION_FLAGS }],
  examples: [
    'capspawn --user nobody --caps net_admin -- grep CapAmb /proc/self/status',
    'capspawn explain --user justin --groups cvdnetwork,kvm --caps net_admin -- qemu',
    'capspawn doctor --user justin --caps net_admin',
  ],
  footer: EXIT_STATUS_HELP,
});

/** What a bare `capspawn` prints on stderr: the usage lines, and where the rest is. */
const USAGE_SUMMARY = `${OVERVIEW_HELP.slice(0, OVERVIEW_HELP.indexOf('\n\n'))}\n\nRun capspawn help for the options, capspawn help COMMAND for one command.\n`;

/** `capspawn help [COMMAND]`: the overview, or one command's help. */
function printHelp(topic: string | undefined): number {
  const helps = new Map([...COMMANDS.map((c) => [c.name, c.help] as const), [TAP_SUMMARY.name, TAP_HELP]]);
  const text = topic === undefined ? OVERVIEW_HELP : helps.get(topic);
  if (text === undefined) throw new UsageError(`help ${topic}: no such command; commands are ${[...helps.keys()].join(', ')}`);
  process.stdout.write(text);
  return 0;
}

/** The whole CLI: returns the exit status; writes output and one-line errors itself. */
export async function main(argv: readonly string[]): Promise<number> {
  try {
    const [first, ...rest] = argv;
    if (first === undefined) {
      process.stderr.write(USAGE_SUMMARY);
      return EXIT_CAPSPAWN_FAILED;
    }
    if (first === '--help' || first === '-h') return printHelp(undefined);
    if (first === 'help') {
      if (rest.length > 1) throw new UsageError(`help takes at most one command (got ${rest.join(' ')})`);
      return printHelp(rest[0]);
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
