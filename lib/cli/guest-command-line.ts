import { type CommandLine, type FlagSpec, HELP_FLAG, parseCommandLine } from './command-line.js';
import { CONFIG_FLAG, readConfigFile } from './config-file.js';
import { GUEST_FLAGS } from './guest-flags.js';
import { buildGuestProfile, type GuestProfile } from './guest-profile.js';
import { UsageError } from './usage-error.js';

/** The flags every command takes: the guest's options and the profile they may come from. */
export const GUEST_OPTION_FLAGS: readonly FlagSpec[] = [...GUEST_FLAGS, CONFIG_FLAG];

/** One of run, explain and doctor: what it takes, and what it does with a parsed command line. */
export interface GuestCommand {
  name: string;
  summary: string;
  help: string;
  /** The guest-option flags it reads (doctor: only those it checks), with --config. */
  guestFlags: readonly FlagSpec[];
  /** Flags beyond the guest options, such as --json. */
  ownFlags: readonly FlagSpec[];
  takesProgram: boolean;
  userRequired: boolean;
  /** Does the work; returns the exit status. */
  execute(line: CommandLine & { profile: GuestProfile }): Promise<number>;
}

/**
 * Parses a command's arguments into its guest profile (config file, then flags), checking
 * that a program is given exactly when the command takes one, and runs it; or prints its help.
 */
export async function runGuestCommand(command: GuestCommand, argv: readonly string[]): Promise<number> {
  const { name, takesProgram, userRequired } = command;
  const line = parseCommandLine(argv, [...command.guestFlags, ...command.ownFlags, HELP_FLAG], name);
  if (line.values.help) {
    process.stdout.write(command.help);
    return 0;
  }
  if (takesProgram && line.program.length === 0) {
    throw new UsageError(`no program given: capspawn ${name} [OPTIONS] -- PROGRAM [ARGS...] (see \`capspawn ${name} --help\`)`);
  }
  if (!takesProgram && line.program.length > 0) {
    throw new UsageError(
      `capspawn ${name} takes no program (got "${line.program[0]}"): to check one, use capspawn explain [OPTIONS] -- PROGRAM`,
    );
  }
  const config = typeof line.values.config === 'string' ? readConfigFile(line.values.config) : undefined;
  return command.execute({ ...line, profile: buildGuestProfile(line, config, { userRequired }) });
}
