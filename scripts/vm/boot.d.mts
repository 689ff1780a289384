/** Why no VM can run here (what to install), or undefined when one can. */
export function vmUnavailableReason(): string | undefined;

/** Runs `command` as root in the checkout, inside a throwaway VM; see boot.mjs. */
export function runInVm(
  command: string[],
  options?: { timeoutSeconds?: number; onOutput?: (text: string) => void },
): Promise<{ status: number; accel: string; console: string; seconds: number; kernel: string }>;
