import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { FIXTURE_USERS } from './support/fixtures.js';
import { ensureCliBuilt, runCli, scratchDir } from './support/cli.js';

const guest = FIXTURE_USERS.guest.name;

/** A config file with exactly this text. */
function configFile(text: string): string {
  const file = join(scratchDir(), 'guest.json');
  writeFileSync(file, text);
  return file;
}

/** capspawn failed by itself: exit 125 and exactly one line on stderr, without a stack. */
function expectOneLineFailure(out: { status: number | null; stdout: string; stderr: string }, pattern: RegExp): void {
  expect(out.status).toBe(125);
  expect(out.stdout).toBe('');
  expect(out.stderr).toMatch(/^capspawn: [^\n]+\n$/);
  expect(out.stderr).toMatch(pattern);
}

beforeAll(ensureCliBuilt);

describe('capspawn refuses bad flags: exit 125, one line', () => {
  it.each([
    [['--bogus', '--', 'true'], /unknown option --bogus/],
    [['explain', '--bogus', '--', 'true'], /unknown option --bogus: see `capspawn explain --help`/],
    [['doctor', '-x'], /unknown option -x/],
    [['--user'], /--user needs a value: --user USER/],
    [['--user', '--caps', 'net_admin', '--', 'true'], /--user needs a value/],
    [['--user', guest, '--no-new-privs=yes', '--', 'true'], /--no-new-privs takes no value/],
    [['--', 'true'], /no user given: pass --user USER/],
    [['--user', guest], /no program given/],
    [['doctor', '--user', guest, '--', 'true'], /doctor takes no program/],
    [['--user', guest, '--caps', 'net_admn', '--', 'true'], /--caps value 1 names no capability/],
    [['--user', guest, '--caps', 'net-admin', '--', 'true'], /--caps.*did you mean 'net_admin'/],
    [['doctor', '--caps', 'net_admn'], /--caps value 1 names no capability/],
    [['--user', guest, '--umask', 'u=rwx', '--', 'true'], /--umask u=rwx: write the mask in octal/],
    [['--user', guest, '--umask', '1777', '--', 'true'], /--umask must be an integer from 0 to 0o777/],
    [['--user', guest, '--env', 'NOVALUE', '--', 'true'], /--env NOVALUE: write NAME=VALUE/],
    [['--user', guest, '--env', '=x', '--', 'true'], /--env "" must be a variable name/],
    [['--user', guest, '--pdeathsig', 'NOPE', '--', 'true'], /--pdeathsig must name a signal/],
    [['--user', guest, '--groups', 'capspawn-no-such-group', '--', 'true'], /no group named "capspawn-no-such-group" \(--groups value 1\)/],
    [['--user', 'capspawn-no-such-user', '--', 'true'], /--user: .*no user named "capspawn-no-such-user"/],
    [['--user', '0', '--', 'true'], /--user: capspawn refuses to run a guest as uid 0.*--allow-root/],
    [['--user', guest, '--groups', 'capspawn-extra', '--clear-groups', '--', 'true'], /--groups and --clear-groups exclude each other/],
    [['explain', '--user', guest, '--group', 'a:b', '--', 'true'], /^capspawn: --group must be a name/],
  ])('capspawn %j', async (args, pattern) => {
    expectOneLineFailure(await runCli(args), pattern);
  });

  it('prints the stack as well with CAPSPAWN_DEBUG=1', async () => {
    const out = await runCli(['--user', guest, '--caps', 'net_admn', '--', 'true'], { env: { ...process.env, CAPSPAWN_DEBUG: '1' } });
    expect(out.status).toBe(125);
    expect(out.stderr).toMatch(/^capspawn: .*names no capability.*\n/);
    expect(out.stderr).toMatch(/\n\s+at parseCapability /);
  });
});

describe('capspawn refuses bad config files: exit 125, one line naming the file and the field', () => {
  it.each([
    ['{"user": "capspawn-guest", "capabilities": ["net_admin"]}', /: unknown field "capabilities": a profile holds user, primaryGroup/],
    ['{"user": "capspawn-guest", "stdio": "pipe"}', /: unknown field "stdio"/],
    ['{"user": "capspawn-guest", "caps": "net_admin"}', /: field "caps": The "caps" option must be an array/],
    ['{"user": "capspawn-guest", "caps": ["net_admn"]}', /: field "caps\[0\]": .*names no capability/],
    ['{"user": 5.5}', /: field "user": .*must be an integer id/],
    ['{"user": "capspawn-guest", "env": {"A": 1}}', /: field "env.A": .*must be a string/],
    ['{"user": "capspawn-guest", "noNewPrivileges": "yes"}', /: field "noNewPrivileges": .*must be a boolean/],
    [
      '{"user": "capspawn-guest", "supplementaryGroups": ["capspawn-no-such-group"]}',
      /: field "supplementaryGroups\[0\]": .*no group named/,
    ],
    ['{"user": "capspawn-guest",}', /: not valid JSON/],
    ['["capspawn-guest"]', /: must hold one JSON object of spawnGuest options/],
  ])('%s', async (text, pattern) => {
    const file = configFile(text);
    const out = await runCli(['--config', file, '--', 'true']);
    expectOneLineFailure(out, pattern);
    expect(out.stderr).toContain(file);
  });

  it('names the flag, not the file, when a flag set the bad value', async () => {
    const file = configFile('{"user": "capspawn-guest", "env": {"GOOD": "1"}}');
    const out = await runCli(['--config', file, '--env', '=bad', '--', 'true']);
    expectOneLineFailure(out, /^capspawn: --env "" must be a variable name/);
  });

  it('says when the file cannot be read', async () => {
    const out = await runCli(['--config', '/nonexistent/guest.json', '--', 'true']);
    expectOneLineFailure(out, /--config \/nonexistent\/guest.json: cannot read it: ENOENT/);
  });
});
