import { execFileSync } from 'node:child_process';
import { chmodSync, copyFileSync, existsSync, mkdirSync, mkdtempSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { FIXTURE_GROUPS, FIXTURE_USERS, gidOf, isRoot, notRootReason, uidOf } from './support/fixtures.js';
import { ensureCliBuilt, runCli, scratchDir, statusLine } from './support/cli.js';

const guest = FIXTURE_USERS.guest.name;

interface ExplainJson {
  spawned: boolean;
  program: { file: string; path: string | null; candidates: string[] };
  user: { uid: number; name: string | null };
  primaryGroup: { gid: number; name: string | null };
  groups: { gid: number; name: string | null }[];
  capabilities: { name: string; bit: number }[];
  env: Record<string, string>;
  maskedVariables: string[];
  expectedStatus: Record<string, string>;
  preflight: {
    ok: boolean;
    failingStep: string | null;
    exitStatus: number;
    checks: { name: string; ok: boolean; step?: string; fix?: string }[];
  };
}

async function explainJson(args: string[], options?: Parameters<typeof runCli>[1]): Promise<{ status: number | null; json: ExplainJson }> {
  const out = await runCli(['explain', '--json', ...args], options);
  expect(out.stderr).toBe('');
  return { status: out.status, json: JSON.parse(out.stdout) as ExplainJson };
}

beforeAll(ensureCliBuilt);

describe.runIf(isRoot)(`capspawn explain (${notRootReason})`, () => {
  it('spawns nothing', async () => {
    const marker = join(scratchDir(0o777), 'ran');
    const explained = await runCli(['explain', '--user', guest, '--', 'touch', marker]);
    expect(explained.status).toBe(0);
    expect(existsSync(marker)).toBe(false);
    // The same command line through run does create it, so the check above can fail.
    expect((await runCli(['run', '--user', guest, '--', 'touch', marker])).status).toBe(0);
    expect(existsSync(marker)).toBe(true);
  });

  it('predicts the /proc/<pid>/status lines that run then produces', async () => {
    const flags = [
      '--user',
      guest,
      '--groups',
      `${FIXTURE_GROUPS.extra},${FIXTURE_GROUPS.net}`,
      '--caps',
      'net_admin,net_raw',
      '--no-new-privs',
      '--limit-bounding-set',
    ];
    const { status, json } = await explainJson([...flags, '--', 'cat', '/proc/self/status']);
    expect(status).toBe(0);
    const ran = await runCli([...flags, '--', 'cat', '/proc/self/status']);
    expect(ran.status).toBe(0);
    expect(Object.keys(json.expectedStatus)).toEqual(
      expect.arrayContaining(['Uid', 'Gid', 'Groups', 'CapInh', 'CapPrm', 'CapEff', 'CapBnd', 'CapAmb', 'NoNewPrivs']),
    );
    for (const [key, value] of Object.entries(json.expectedStatus)) expect(statusLine(ran.stdout, key), key).toBe(value);
    expect(json.expectedStatus.CapAmb).toBe('0000000000003000');
  });

  it('names the ids, groups, capabilities and program it resolved', async () => {
    const { json } = await explainJson(['--user', guest, '--caps', 'CAP_NET_ADMIN', '--', 'grep', 'CapAmb', '/proc/self/status']);
    expect(json.spawned).toBe(false);
    expect(json.user).toEqual({ uid: uidOf(guest), name: guest });
    expect(json.primaryGroup).toEqual({ gid: gidOf(FIXTURE_GROUPS.primary), name: FIXTURE_GROUPS.primary });
    expect(json.groups.map((g) => g.name).sort()).toEqual([FIXTURE_GROUPS.extra, FIXTURE_GROUPS.primary].sort());
    expect(json.capabilities).toEqual([{ name: 'CAP_NET_ADMIN', bit: 12 }]);
    expect(json.program.path).toMatch(/^\/(usr\/)?bin\/grep$/);
  });

  it("--add-groups (and a profile's extraGroups) add to the groups; explain shows the list run then gets", async () => {
    const flags = ['--user', guest, '--add-groups', `${FIXTURE_GROUPS.net},${FIXTURE_GROUPS.extra}`];
    const { json } = await explainJson([...flags, '--', 'cat', '/proc/self/status']);
    const expected = [FIXTURE_GROUPS.primary, FIXTURE_GROUPS.extra, FIXTURE_GROUPS.net];
    expect(json.groups.map((g) => g.name).sort()).toEqual([...expected].sort());
    expect(statusLine((await runCli([...flags, '--', 'cat', '/proc/self/status'])).stdout, 'Groups')).toBe(json.expectedStatus.Groups);
    const text = await runCli(['explain', ...flags, '--clear-groups', '--', 'true']);
    const listed = [FIXTURE_GROUPS.extra, FIXTURE_GROUPS.net].sort((a, b) => gidOf(a) - gidOf(b)).map((g) => `${g} (${gidOf(g)})`);
    expect(text.stdout).toContain(`\n  groups        ${listed.join(', ')}\n`);
    const profile = join(scratchDir(0o755), 'guest.json');
    writeFileSync(profile, JSON.stringify({ user: guest, supplementaryGroups: [], extraGroups: [FIXTURE_GROUPS.net] }));
    expect((await explainJson(['--config', profile, '--', 'true'])).json.groups).toEqual([
      { gid: gidOf(FIXTURE_GROUPS.net), name: FIXTURE_GROUPS.net },
    ]);
  });

  it('prints the same plan as text, with CapAmb as /proc shows it', async () => {
    const out = await runCli(['explain', '--user', guest, '--caps', 'net_admin', '--', 'true']);
    expect(out.stdout).toContain('nothing was run');
    expect(out.stdout).toContain('  CapAmb:\t0000000000001000\n');
    expect(out.stdout).toContain(`CAP_NET_ADMIN (bit 12)`);
    expect(out.stdout).toContain('result: every check passed');
  });

  it('masks values of secret-looking variables unless --show-secrets', async () => {
    const args = ['--user', guest, '--env', 'API_TOKEN=hunter2', '--env', 'DB_PASSWORD=swordfish', '--env', 'VISIBLE=yes', '--', 'true'];
    const masked = await explainJson(args);
    expect(masked.json.env).toMatchObject({ API_TOKEN: '********', DB_PASSWORD: '********', VISIBLE: 'yes' });
    expect(masked.json.maskedVariables).toEqual(['API_TOKEN', 'DB_PASSWORD']);
    const text = await runCli(['explain', ...args]);
    expect(text.stdout).not.toContain('hunter2');
    const shown = await explainJson(['--show-secrets', ...args]);
    expect(shown.json.env).toMatchObject({ API_TOKEN: 'hunter2', DB_PASSWORD: 'swordfish' });
  });

  it('says capset would fail when this process lacks the capability, and exits 125 as run would', async () => {
    const wrapper = ['setpriv', '--bounding-set', '-net_admin', '--'];
    const { status, json } = await explainJson(['--user', guest, '--caps', 'net_admin', '--', 'true'], { wrapper });
    expect(json.preflight.failingStep).toBe('capset');
    expect(json.preflight.checks.find((c) => c.name === 'CAP_NET_ADMIN')).toMatchObject({ ok: false, step: 'capset' });
    expect(status).toBe(125);
    expect((await runCli(['--user', guest, '--caps', 'net_admin', '--', 'true'], { wrapper })).status).toBe(125);
  });

  it('says execve would fail with EACCES for a file without x, and exits 126', async () => {
    const script = join(scratchDir(), 'not-executable');
    writeFileSync(script, '#!/bin/sh\n', { mode: 0o644 });
    const { status, json } = await explainJson(['--user', guest, '--', script]);
    expect(json.preflight.checks.find((c) => c.name === 'program')).toMatchObject({ ok: false, step: 'execve' });
    expect(status).toBe(126);
  });

  it('says execve would fail with EACCES for a directory, and exits 126 as run does', async () => {
    const dir = scratchDir(0o755);
    const out = await runCli(['explain', '--user', guest, '--', dir]);
    expect(out.stdout).toContain(`${dir} is a directory, not a program`);
    expect(out.status).toBe(126);
    expect((await runCli(['run', '--user', guest, '--', dir])).status).toBe(126);
  });

  it('says execve would fail with ENOENT for a missing program, and exits 127', async () => {
    const { status, json } = await explainJson(['--user', guest, '--', 'capspawn-no-such-program']);
    expect(json.program.path).toBeNull();
    expect(json.preflight.failingStep).toBe('execve');
    expect(status).toBe(127);
  });

  it('says chdir would fail when the guest cannot enter --cwd', async () => {
    const locked = mkdtempSync(join(tmpdir(), 'capspawn-cli-')); // 0700, owned by root
    const { status, json } = await explainJson(['--user', guest, '--cwd', locked, '--', 'true']);
    expect(json.preflight.failingStep).toBe('chdir');
    expect(status).toBe(125);
  });

  it('walks ".." as the kernel does, as the guest: /root/../usr/bin/id and --cwd /root/../tmp fail as run fails', async () => {
    const program = await explainJson(['--user', guest, '--', '/root/../usr/bin/id']);
    expect(program.json.program.candidates).toEqual(['/root/../usr/bin/id']);
    expect(program.json.preflight.failingStep).toBe('execve');
    expect(program.status).toBe(126);
    const cwd = await explainJson(['--user', guest, '--cwd', '/root/../tmp', '--', 'true']);
    expect(cwd.json.preflight.failingStep).toBe('chdir');
    // Through a symlink, ".." is the parent of the link's target: searchable, so it passes.
    const dir = scratchDir(0o755);
    mkdirSync(join(dir, 'deep/sub'), { recursive: true });
    symlinkSync(join(dir, 'deep/sub'), join(dir, 'link'));
    writeFileSync(join(dir, 'deep/x'), '#!/bin/sh\n', { mode: 0o755 });
    const linked = await explainJson(['--user', guest, '--', `${dir}/link/../x`]);
    expect(linked.json.program.path).toBe(`${dir}/link/../x`);
    expect(linked.status).toBe(0);
  });
  it('reports a program with privileges of its own as run would refuse it: set-uid root, file capabilities, and the ways out', async () => {
    const dir = scratchDir(0o755);
    const setuid = join(dir, 'setuid-true');
    const fcaps = join(dir, 'fcaps-true');
    copyFileSync('/bin/true', setuid);
    chmodSync(setuid, 0o4755);
    copyFileSync('/bin/true', fcaps);
    chmodSync(fcaps, 0o755);
    execFileSync('setcap', ['cap_net_raw+ep', fcaps]);
    const check = (json: ExplainJson) => json.preflight.checks.find((c) => c.name === 'privileged program');

    const refused = await explainJson(['--user', guest, '--', setuid]);
    expect(check(refused.json)).toMatchObject({ ok: false, step: 'privileged_program' });
    expect(JSON.stringify(check(refused.json))).toContain('set-user-ID root');
    expect(refused.json.preflight.failingStep).toBe('privileged_program');
    // explain's status is the one run exits with, and run does refuse it.
    expect(refused.status).toBe(125);
    expect((await runCli(['run', '--user', guest, '--', setuid])).status).toBe(125);

    for (const wayOut of ['--allow-privileged-programs', '--no-new-privs']) {
      const accepted = await explainJson(['--user', guest, wayOut, '--', setuid]);
      expect(check(accepted.json)?.ok).toBe(true);
      expect(accepted.status).toBe(0);
    }

    // File capabilities clear the ambient set even under no_new_privs: still refused there.
    const caps = await explainJson(['--user', guest, '--no-new-privs', '--', fcaps]);
    expect(check(caps.json)?.ok).toBe(false);
    expect(JSON.stringify(check(caps.json))).toContain('file capabilities cap_net_raw+ep');
    expect(caps.status).toBe(125);
    expect((await explainJson(['--user', guest, '--allow-privileged-programs', '--', fcaps])).status).toBe(0);

    // An ordinary program carries nothing.
    expect(check((await explainJson(['--user', guest, '--', '/bin/true'])).json)?.ok).toBe(true);
  });
});
