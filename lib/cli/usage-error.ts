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
