import type { StepName } from '../../steps.js';

/**
 * The failures capspawn was written to end (docs/cli.md tells them in full). A check that
 * guards against one says so, so an operator can match a symptom to its cause.
 */
export const FAILURE_STORIES = {
  'ambient raise lost': 'the guest starts with CapAmb: 0000000000000000 and dies with EPERM',
  'group dropped': 'the guest lacks a supplementary group it needs, such as kvm or cvdnetwork',
  'TAP EPERM': 'QEMU fails with "could not configure /dev/net/tun: Operation not permitted"',
} as const;

export type FailureStory = keyof typeof FAILURE_STORIES;

/** One line of doctor and of explain's preflight. */
export interface Check {
  name: string;
  ok: boolean;
  detail: string;
  /** What to do about a failed check. */
  fix?: string;
  /** The launch step that would fail, and the errno it would fail with. */
  step?: StepName;
  code?: string;
  story?: FailureStory;
  /** The file the check found, such as the program execve would run. */
  path?: string;
}

/** `✓ CAP_SETUID: ...` or `✗ CAP_NET_ADMIN: ... → fix: ... [story: TAP EPERM]`: one line. */
export function formatCheck(check: Check): string {
  const parts = [`${check.ok ? '✓' : '✗'} ${check.name}: ${check.detail}`];
  if (!check.ok && check.fix) parts.push(`→ fix: ${check.fix}`);
  if (check.story) parts.push(`[failure story: ${check.story}]`);
  return parts.join(' ');
}

/** The first check that fails, which is the step a launch would stop at. */
export function firstFailure(checks: readonly Check[]): Check | undefined {
  return checks.find((c) => !c.ok);
}
