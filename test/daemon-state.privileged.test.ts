// What a launch does to the daemon's own state, and what the daemon's state does to a launch:
// its securebits reach a uid 0 guest as they reach any other, and the child's credential change
// (in the daemon's mm, CLONE_VM) does not leave the daemon non-dumpable.
import { execFile } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { FIXTURE_USERS, isRoot, notRootReason, uidOf } from './support/fixtures.js';
import { runCli } from './support/cli.js';
import { inspectPath, parseInspection, runDaemon, runGuest } from './support/guests.js';

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
  it('under SECBIT_KEEP_CAPS_LOCKED a uid 0 guest fails at keepcaps, naming the securebit, not CAP_SETPCAP (which root holds)', async () => {
    const wrapper = [...underSecbits(0x20), '--shell=/usr/bin/env', '--'];
    const args = ['--user', '0', '--group', '0', '--clear-groups', '--allow-root', '--', '/bin/true'];
    const run = await runCli(['run', ...args], { wrapper });
    expect(run.status).toBe(125);
    expect(run.stderr).toMatch(/keepcaps failed: EPERM/);
    expect(run.stderr).toContain('SECBIT_KEEP_CAPS_LOCKED');
    expect(run.stderr).not.toContain('CAP_SETPCAP');
  });
});

describe.runIf(isRoot)(`a launch leaves the daemon dumpable (${notRootReason})`, () => {
  const script = new URL('./support/dumpable-daemon.mjs', import.meta.url).pathname;
  // 8 pool threads, 16 launches at a time: launches overlap on several threads.
  const job = JSON.stringify({ file: '/bin/true', options: { user: FIXTURE_USERS.second.name }, rounds: 4, perRound: 16 });
  const env = { PATH: process.env.PATH, UV_THREADPOOL_SIZE: '8' };
  const expectDumpable = (stdout: string, uid: number) => {
    const report = JSON.parse(stdout) as { ok: boolean; launched: number; before: number; after: number; procOwner: number; uid: number };
    expect(report).toEqual({ ok: true, launched: 64, before: 1, after: 1, procOwner: uid, uid });
  };

  it('as root', async () => {
    const out = await new Promise<string>((resolve, reject) =>
      execFile(process.execPath, [script, job], { env, encoding: 'utf8' }, (error, stdout) => (error ? reject(error) : resolve(stdout))),
    );
    expectDumpable(out, 0);
  });

  it('as a non-root daemon holding CAP_SETUID and CAP_SETGID', async () => {
    const daemon = FIXTURE_USERS.guest.name;
    const out = await runGuest(process.execPath, [script, job], { user: daemon, caps: ['setuid', 'setgid'], env });
    expect(out).toMatchObject({ code: 0, stderr: '' });
    expectDumpable(out.stdout, uidOf(daemon));
  });
});
