// What a launch does to the daemon's own state, and what the daemon's state does to a launch:
// its securebits reach a uid 0 guest as they reach any other.
import { describe, expect, it } from 'vitest';
import { isRoot, notRootReason } from './support/fixtures.js';
import { runCli } from './support/cli.js';
import { inspectPath, parseInspection, runDaemon } from './support/guests.js';

/** include/uapi/linux/securebits.h */
const NOROOT = 0x1;
const NOROOT_LOCKED = 0x2;
const NO_SETUID_FIXUP = 0x4;
const NO_CAP_AMBIENT_RAISE = 0x40;
const NO_CAP_AMBIENT_RAISE_LOCKED = 0x80;

const rootGuest = { user: 0, primaryGroup: 0, supplementaryGroups: [], allowRoot: true };

describe.runIf(isRoot)(`a uid 0 guest keeps the daemon's securebits (${notRootReason})`, () => {
  const underSecbits = (bits: number) => ['capsh', `--secbits=0x${bits.toString(16)}`];

  for (const bits of [NO_CAP_AMBIENT_RAISE, NO_SETUID_FIXUP, NO_CAP_AMBIENT_RAISE | NO_CAP_AMBIENT_RAISE_LOCKED]) {
    it(`adds SECBIT_NOROOT to securebits 0x${bits.toString(16)}, keeping them (locked bits too)`, async () => {
      const result = await runDaemon(underSecbits(bits), { file: inspectPath(), options: rootGuest });
      expect(result).toMatchObject({ ok: true, code: 0 });
      if (result.ok) expect(parseInspection(result.stdout).securebits).toBe(bits | NOROOT | NOROOT_LOCKED);
    });
  }

  it('refuses capabilities for a uid 0 guest under SECBIT_NO_CAP_AMBIENT_RAISE, as explain predicts', async () => {
    const wrapper = [...underSecbits(NO_CAP_AMBIENT_RAISE), '--shell=/usr/bin/env', '--'];
    const args = ['--user', '0', '--group', '0', '--clear-groups', '--allow-root', '--caps', 'net_admin', '--', inspectPath()];
    const explained = await runCli(['explain', '--json', ...args], { wrapper });
    const plan = JSON.parse(explained.stdout) as { securebits: number; preflight: { failingStep: string | null; exitStatus: number } };
    expect(plan.securebits).toBe(NO_CAP_AMBIENT_RAISE | NOROOT | NOROOT_LOCKED);
    expect(plan.preflight.failingStep).toBe('ambient_raise');
    const run = await runCli(['run', ...args], { wrapper });
    expect(run.stderr).toMatch(/ambient_raise failed: EPERM/);
    expect(run.status).toBe(plan.preflight.exitStatus);
  });
});
