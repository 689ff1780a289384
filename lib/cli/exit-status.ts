import { SpawnGuestError } from '../errors.js';
import type { StepName } from '../steps.js';

/**
 * Exit statuses, as env(1) and timeout(1) use them, so a wrapper script can tell capspawn's
 * own failure from the program's.
 */
export const EXIT_CAPSPAWN_FAILED = 125;
export const EXIT_NOT_EXECUTABLE = 126;
export const EXIT_NOT_FOUND = 127;

/**
 * The status for a launch that failed at `step` with `code`: as for env(1), a program that was
 * not found is 127, one found but not run is 126, and anything else capspawn's own 125.
 */
export function exitStatusForFailure(step: StepName | undefined, code: string | undefined): number {
  if (step !== 'execve') return EXIT_CAPSPAWN_FAILED;
  return code === 'ENOENT' ? EXIT_NOT_FOUND : EXIT_NOT_EXECUTABLE;
}

/** The status capspawn exits with when `error` ends it. */
export function exitStatusForError(error: unknown): number {
  return error instanceof SpawnGuestError ? exitStatusForFailure(error.step, error.code) : EXIT_CAPSPAWN_FAILED;
}
