/**
 * Exit statuses, as env(1) and timeout(1) use them, so a wrapper script can tell capspawn's
 * own failure from the program's.
 */
export const EXIT_CAPSPAWN_FAILED = 125;
export const EXIT_NOT_EXECUTABLE = 126;
export const EXIT_NOT_FOUND = 127;

/**
 * A mistake on the command line or in a config file. The message is one line that says what
 * was wrong and what to do; capspawn prints it and exits 125.
 */
export class UsageError extends Error {
  readonly code = 'ERR_CAPSPAWN_USAGE';

  override get name(): string {
    return 'UsageError';
  }
}
