import { existsSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { FIXTURE_GROUPS, FIXTURE_USERS, gidOf, isRoot, notRootReason, uidOf } from './support/fixtures.js';
import { ensureCliBuilt, runCli, scratchDir, startCli, statusLine } from './support/cli.js';

const guest = FIXTURE_USERS.guest.name;

beforeAll(ensureCliBuilt);

describe.runIf(isRoot)(`capspawn run (${notRootReason})`, () => {
  it('grants exactly CAP_NET_ADMIN: CapAmb 0000000000001000', async () => {
    const out = await runCli(['--user', guest, '--caps', 'net_admin', '--', 'grep', 'CapAmb', '/proc/self/status']);
    expect(out.stderr).toBe('');
    expect(out.stdout).toBe('CapAmb:\t0000000000001000\n');
    expect(out.status).toBe(0);
  });

  it('is the default command, and reads options up to the first word that is not one', async () => {
    const out = await runCli(['run', '--user', guest, 'grep', '-c', '^CapAmb:', '/proc/self/status']);
    expect(out).toMatchObject({ status: 0, stdout: '1\n' });
  });

  it('accepts every spelling of a capability, comma-separated or repeated', async () => {
    const out = await runCli([
      '--user',
      guest,
      '--caps',
      '+net_admin,CAP_NET_RAW',
      '--caps',
      '10',
      '--',
      'grep',
      'CapAmb',
      '/proc/self/status',
    ]);
    expect(statusLine(out.stdout, 'CapAmb')).toBe((2n ** 10n + 2n ** 12n + 2n ** 13n).toString(16).padStart(16, '0'));
  });

  it('sets the primary group and exactly the groups given, by name or number', async () => {
    const extra = gidOf(FIXTURE_GROUPS.extra);
    const net = gidOf(FIXTURE_GROUPS.net);
    const out = await runCli([
      '--user',
      String(uidOf(guest)),
      '--group',
      FIXTURE_GROUPS.net,
      '--groups',
      `${extra},${FIXTURE_GROUPS.net}`,
      '--',
      'cat',
      '/proc/self/status',
    ]);
    expect(statusLine(out.stdout, 'Gid')).toBe(`${net}\t${net}\t${net}\t${net}`);
    expect(statusLine(out.stdout, 'Groups')).toBe([extra, net].sort((a, b) => a - b).join(' '));
  });

  it('--clear-groups leaves no supplementary group', async () => {
    const out = await runCli(['--user', guest, '--clear-groups', '--', 'cat', '/proc/self/status']);
    expect(statusLine(out.stdout, 'Groups')).toBe('');
  });

  it('gives the guest --env variables and --pass-env matches, and nothing else from here', async () => {
    const env = { ...process.env, CUTTLEFISH_INSTANCE: '85', CUTTLEFISH_HOME: '/srv/cvd', LEAKED: 'no' };
    const out = await runCli(['--user', guest, '--pass-env', 'CUTTLEFISH_*', '--env', 'MODE=test', '--', 'env'], { env });
    const lines = out.stdout.trim().split('\n');
    expect(lines).toEqual(expect.arrayContaining(['CUTTLEFISH_INSTANCE=85', 'CUTTLEFISH_HOME=/srv/cvd', 'MODE=test', `USER=${guest}`]));
    expect(lines.some((l) => l.startsWith('LEAKED='))).toBe(false);
  });

  it('applies --umask, --cwd and --no-new-privs', async () => {
    const dir = scratchDir();
    const out = await runCli([
      '--user',
      guest,
      '--umask',
      '027',
      '--cwd',
      dir,
      '--no-new-privs',
      '--',
      'sh',
      '-c',
      'umask; pwd; grep NoNewPrivs /proc/self/status',
    ]);
    expect(out.stdout).toBe(`0027\n${dir}\nNoNewPrivs:\t1\n`);
  });

  it('exits with the program’s own status', async () => {
    expect((await runCli(['--user', guest, '--', 'sh', '-c', 'exit 3'])).status).toBe(3);
  });

  it('exits 128+15 = 143 when the program is killed by SIGTERM', async () => {
    const out = await runCli(['--user', guest, '--', 'sh', '-c', 'kill -TERM $$']);
    expect(out.status).toBe(143);
  });

  it.each([
    ['SIGTERM', 143],
    ['SIGHUP', 129],
  ] as const)('passes %s on to the program, which it kills: exit %d', async (signal, status) => {
    const run = startCli(['--user', guest, '--', 'sh', '-c', 'echo ready; exec sleep 1000']);
    await run.printed('ready');
    run.child.kill(signal);
    expect((await run.result).status).toBe(status);
  });

  it('passes SIGINT on to the program, which handles it', async () => {
    const run = startCli(['--user', guest, '--', 'sh', '-c', 'trap "echo got-INT; exit 42" INT; echo ready; while :; do sleep 1; done']);
    await run.printed('ready');
    run.child.kill('SIGINT');
    const out = await run.result;
    expect(out.stdout).toContain('got-INT');
    expect(out.status).toBe(42);
  });

  it('exits 126 when the program exists but is not executable', async () => {
    const dir = scratchDir();
    const script = join(dir, 'not-executable');
    writeFileSync(script, '#!/bin/sh\necho ran\n', { mode: 0o644 });
    const out = await runCli(['--user', guest, '--', script]);
    expect(out.status).toBe(126);
    expect(out.stdout).toBe('');
    expect(out.stderr).toMatch(/^capspawn: .*EACCES.*\n$/);
  });

  it.each([['capspawn-no-such-program'], ['/nonexistent/capspawn-no-such-program']])('exits 127 when %s is not found', async (program) => {
    const out = await runCli(['--user', guest, '--', program]);
    expect(out.status).toBe(127);
    expect(out.stderr).toMatch(/^capspawn: .*ENOENT.*\n$/);
  });

  it('exits 125 when a launch step fails: keepcaps under SECBIT_KEEP_CAPS_LOCKED', async () => {
    const dir = scratchDir(0o777);
    const out = await runCli(['--user', guest, '--', 'touch', join(dir, 'ran')], {
      wrapper: ['setpriv', '--securebits', '+keep_caps_locked', '--'],
    });
    expect(out.status).toBe(125);
    expect(out.stderr).toMatch(/^capspawn: .*keepcaps failed: EPERM.*\n$/);
    expect(existsSync(join(dir, 'ran'))).toBe(false);
  });
});

describe.runIf(isRoot)(`capspawn run --config (${notRootReason})`, () => {
  function profile(fields: object): string {
    const file = join(scratchDir(), 'guest.json');
    writeFileSync(file, JSON.stringify(fields));
    return file;
  }

  it('takes the guest options from the file', async () => {
    const config = profile({ user: guest, caps: ['net_admin'], env: { FROM_FILE: '1' } });
    const out = await runCli(['--config', config, '--', 'sh', '-c', 'grep CapAmb /proc/self/status; echo $FROM_FILE']);
    expect(out.stdout).toBe('CapAmb:\t0000000000001000\n1\n');
  });

  it('lets flags override the file, and adds --env to its env', async () => {
    const config = profile({ user: 'capspawn-no-such-user', caps: ['net_admin'], env: { FROM_FILE: '1', BOTH: 'file' } });
    const out = await runCli([
      '--config',
      config,
      '--user',
      guest,
      '--caps',
      'net_raw',
      '--env',
      'BOTH=flag',
      '--',
      'sh',
      '-c',
      'grep CapAmb /proc/self/status; echo $FROM_FILE $BOTH',
    ]);
    expect(out.stderr).toBe('');
    expect(out.stdout).toBe('CapAmb:\t0000000000002000\n1 flag\n');
  });

  it('--init-groups overrides the file’s group list with the user’s own groups', async () => {
    const config = profile({ user: guest, supplementaryGroups: [] });
    const out = await runCli(['--config', config, '--init-groups', '--', 'cat', '/proc/self/status']);
    const expected = [FIXTURE_GROUPS.primary, FIXTURE_GROUPS.extra]
      .map(gidOf)
      .sort((a, b) => a - b)
      .join(' ');
    expect(statusLine(out.stdout, 'Groups')).toBe(expected);
  });
});
