// The command line as a person types it (issue 13, section 2): spellings they know, help that
// answers, flags named in errors, one flag for every profile field.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { KNOWN_OPTIONS } from '../lib/options.js';
import { parseCommandLine } from '../lib/cli/command-line.js';
import { PROFILE_FIELDS } from '../lib/cli/config-file.js';
import { buildGuestProfile } from '../lib/cli/guest-profile.js';
import { flagForOption, GUEST_FLAGS } from '../lib/cli/guest-flags.js';
import { inFlagWords } from '../lib/cli/report-error.js';
import { FIXTURE_USERS } from './support/fixtures.js';
import { ensureCliBuilt, packageRoot, runCli } from './support/cli.js';
import { runProgram } from './support/run.js';

const guest = FIXTURE_USERS.guest.name;
const read = (file: string) => readFileSync(join(packageRoot, file), 'utf8');

beforeAll(ensureCliBuilt);

async function explainJson(args: string[]): Promise<Record<string, unknown>> {
  const out = await runCli(['explain', '--json', ...args]);
  expect(out.stderr).toBe('');
  return JSON.parse(out.stdout) as Record<string, unknown>;
}

describe('capability spellings', () => {
  it('--caps takes cap_net_admin, as getcap and capsh write it, in any case', async () => {
    const json = await explainJson(['--user', guest, '--caps', 'cap_net_admin,Cap_Net_Raw', '--', 'true']);
    expect(json.capabilities).toEqual([
      { name: 'CAP_NET_ADMIN', bit: 12 },
      { name: 'CAP_NET_RAW', bit: 13 },
    ]);
  });
});

describe('help', () => {
  it.each(['run', 'explain', 'doctor'])('capspawn help %s prints what capspawn %s --help does, exit 0', async (command) => {
    const [viaHelp, viaFlag] = await Promise.all([runCli(['help', command]), runCli([command, '--help'])]);
    expect(viaHelp).toMatchObject({ status: 0, stderr: '' });
    expect(viaHelp.stdout).toBe(viaFlag.stdout);
  });

  it('capspawn help prints the overview, exit 0', async () => {
    const [viaHelp, viaFlag] = await Promise.all([runCli(['help']), runCli(['--help'])]);
    expect(viaHelp).toMatchObject({ status: 0, stderr: '', stdout: viaFlag.stdout });
  });

  it('capspawn help NOSUCH is a usage error naming the commands', async () => {
    const out = await runCli(['help', 'nosuch']);
    expect(out).toMatchObject({ status: 125, stdout: '' });
    expect(out.stderr).toMatch(/^capspawn: help nosuch: no such command; commands are run, explain, doctor/);
  });

  it('a bare capspawn prints the usage summary on stderr and exits 125', async () => {
    const out = await runCli([]);
    expect(out).toMatchObject({ status: 125, stdout: '' });
    expect(out.stderr).toMatch(/^Usage:\n {2}capspawn \[run\] /);
    expect(out.stderr).toContain('capspawn help COMMAND');
  });

  it('each command lists only the flags it takes and its own exit statuses', async () => {
    const [run, explain, doctor] = await Promise.all([runCli(['help', 'run']), runCli(['help', 'explain']), runCli(['help', 'doctor'])]);
    expect(run.stdout).toContain("PROGRAM's own status");
    expect(explain.stdout).not.toContain("PROGRAM's own status");
    expect(explain.stdout).toMatch(/Exit status:\n {2}0 when every check passes/);
    expect(doctor.stdout).toMatch(/Exit status:\n {2}0 when every check passes, 1 when any fails, 125 for a bad option/);
    for (const runOnly of ['--env', '--pass-env', '--umask', '--no-new-privs', '--pdeathsig', '--argv0', '--detached', '--timeout']) {
      expect(doctor.stdout).not.toContain(runOnly);
      expect(run.stdout).toContain(runOnly);
    }
    expect(doctor.stdout).not.toContain('--show-secrets');
    expect(run.stdout).not.toContain('--json');
    const refused = await runCli(['doctor', '--env', 'A=1']);
    expect(refused).toMatchObject({ status: 125 });
    expect(refused.stderr).toMatch(/unknown option --env: see `capspawn doctor --help`/);
  });
});

describe('log file flags', () => {
  it('--append without --stdout or --stderr is a usage error, not a flag that does nothing', async () => {
    for (const args of [
      ['--user', guest, '--append', '--', 'true'],
      ['explain', '--user', guest, '--append', '--', 'true'],
    ]) {
      const out = await runCli(args);
      expect(out).toMatchObject({ status: 125, stdout: '' });
      expect(out.stderr).toBe(
        'capspawn: --append appends to the --stdout and --stderr files: give --stdout FILE or --stderr FILE with it\n',
      );
    }
    const line = parseCommandLine(['--user', guest, '--stderr', 'err.log', '--append', '--', 'true'], GUEST_FLAGS, 'run');
    expect(buildGuestProfile(line, undefined).options.stdio).toEqual([undefined, undefined, { file: 'err.log', append: true }]);
  });
});

describe('repeated flags', () => {
  it('a single-valued flag given twice is a usage error naming it', async () => {
    for (const args of [
      ['--user', guest, '--user', 'nobody', '--', 'true'],
      ['explain', '--user', guest, '--group', 'a', '--group', 'b', '--', 'true'],
    ]) {
      const out = await runCli(args);
      expect(out).toMatchObject({ status: 125, stdout: '' });
      expect(out.stderr).toMatch(/^capspawn: --(user|group) given twice \(\S+ and \S+\): give it once\n$/);
    }
  });

  it('every single-valued flag refuses a second value; every repeatable one adds', () => {
    for (const spec of GUEST_FLAGS.filter((f) => f.valueName)) {
      const argv = [`--${spec.flag}`, 'a=1', `--${spec.flag}`, 'b=2', '--', 'true'];
      if (spec.repeatable) expect(parseCommandLine(argv, GUEST_FLAGS, 'run').values[spec.flag]).toEqual(['a=1', 'b=2']);
      else expect(() => parseCommandLine(argv, GUEST_FLAGS, 'run')).toThrow(`--${spec.flag} given twice`);
    }
  });

  it('--env, --pass-env, --caps and --rlimit keep adding', async () => {
    const json = (await explainJson([
      '--user',
      guest,
      '--env',
      'A=1',
      '--env',
      'B=2',
      '--caps',
      'net_admin',
      '--caps',
      'net_raw',
      '--rlimit',
      'core=0',
      '--rlimit',
      'nofile=64:128',
      '--',
      'true',
    ])) as { env: Record<string, string>; capabilities: unknown[]; placement: { rlimits: Record<string, unknown> } };
    expect(json.env).toMatchObject({ A: '1', B: '2' });
    expect(json.capabilities).toHaveLength(2);
    expect(Object.keys(json.placement.rlimits).sort()).toEqual(['core', 'nofile']);
    const passed = (
      await runCli(['explain', '--json', '--user', guest, '--pass-env', 'CAPSPAWN_T1', '--pass-env', 'CAPSPAWN_T2', '--', 'true'], {
        env: { ...process.env, CAPSPAWN_T1: 'x', CAPSPAWN_T2: 'y' },
      })
    ).stdout;
    expect((JSON.parse(passed) as { env: Record<string, string> }).env).toMatchObject({ CAPSPAWN_T1: 'x', CAPSPAWN_T2: 'y' });
  });
});

describe('errors speak flags, not option names', () => {
  const camelCase = [...KNOWN_OPTIONS].filter((o) => /[A-Z]/.test(o));

  it.each([
    [['--user', '0', '--', 'true'], /--allow-root/],
    [['--user', guest, '--groups', 'root', '--', 'true'], /--groups value 1: .*without --allow-root|without --allow-root/],
    [['--user', guest, '--groups', 'x:y', '--', 'true'], /--groups value 1 must be a name .*ids in digits/],
    [['--user', 'capspawn-no-such-user', '--', 'true'], /no user named "capspawn-no-such-user": check the name, or pass a uid in digits/],
    [['--user', guest, '--group', 'a:b', '--', 'true'], /--group must be/],
    [['--user', guest, '--pdeathsig', 'NOPE', '--', 'true'], /--pdeathsig must name a signal/],
    [['--user', guest, '--kill-signal', 'NOPE', '--', 'true'], /--kill-signal must name a signal/],
    [['--user', guest, '--timeout', '0', '--', 'true'], /--timeout must be/],
    [['--user', guest, '--rlimit', 'nofile=8:4', '--', 'true'], /--rlimit nofile must be/],
    [['--user', guest, '--oom-score-adj', '5000', '--', 'true'], /--oom-score-adj must be/],
  ])('capspawn %j', async (args, pattern) => {
    const out = await runCli(args);
    expect(out.status).toBe(125);
    expect(out.stderr).toMatch(pattern);
    expect(out.stderr).not.toMatch(/spawnGuest|" option\b|: true"/);
    for (const option of camelCase) expect(out.stderr).not.toContain(option);
  });

  it('maps every option with a flag to that flag', () => {
    for (const option of KNOWN_OPTIONS) {
      const flag = flagForOption(option);
      if (!flag) continue;
      expect(inFlagWords(`The "${option}" option must be x`)).toBe(`${flag} must be x`);
      expect(inFlagWords(`The "${option}[2]" option must be x`)).toBe(`${flag} value 3 must be x`);
      expect(inFlagWords(`refused without "${option}: true"`)).toBe(`refused without ${flag}`);
    }
  });
});

describe('flags and profile fields', () => {
  it('every profile field has its flag, and every flag sets an option of spawnGuest', () => {
    const flagged = new Set<string>(GUEST_FLAGS.map((f) => f.option));
    expect(PROFILE_FIELDS.filter((field) => !flagged.has(field))).toEqual([]);
    expect([...flagged].filter((option) => !KNOWN_OPTIONS.has(option))).toEqual([]);
  });

  it("docs/cli.md's field table lists every profile field with its flag", () => {
    const text = read('docs/cli.md');
    const table = text.slice(text.indexOf('| field | flag |'), text.indexOf('\n\n', text.indexOf('| field | flag |')));
    const rows = [...table.matchAll(/^\| `(\w+)` \| `(--[\w-]+)` \|/gm)].map((m) => [m[1], m[2]]);
    expect(rows).toEqual(PROFILE_FIELDS.map((field) => [field, flagForOption(field)]));
  });
});

describe('README quick start', () => {
  it('shows capspawn through npx in a clone, and after a global install', () => {
    const readme = read('README.md');
    expect(readme).toContain('sudo npx capspawn --user nobody --caps net_admin -- grep CapAmb /proc/self/status');
    expect(readme).toMatch(/npm install -g/);
    expect(readme).not.toMatch(/^sudo capspawn /m);
  });

  it('npx capspawn runs the command of a clone', async () => {
    const { status, stdout: version, stderr } = await runProgram('npx', ['--no-install', 'capspawn', '--version'], { cwd: packageRoot });
    expect(status, stderr).toBe(0);
    expect(version).toMatch(/^capspawn \d+\.\d+\.\d+/);
    // npx starts npm itself: over a minute under the test VM's emulation.
  }, 600_000);
});
