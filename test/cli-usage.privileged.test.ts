// The command line as a person types it, as root: flags as the guest sees them, and doctor
// against the kernel's rule for CAP_SETPCAP. The rest is in cli-usage.test.ts.
import { beforeAll, describe, expect, it } from 'vitest';
import { FIXTURE_USERS, isRoot, notRootReason } from './support/fixtures.js';
import { ensureCliBuilt, runCli } from './support/cli.js';

const guest = FIXTURE_USERS.guest.name;

beforeAll(ensureCliBuilt);

describe.runIf(isRoot)(`flags as the guest sees them (${notRootReason})`, () => {
  it('--detached starts the guest in a new session (its session id is its pid)', async () => {
    const out = await runCli(['--user', guest, '--detached', '--', 'awk', '{ print $1, $6 }', '/proc/self/stat']);
    expect(out).toMatchObject({ status: 0, stderr: '' });
    const [pid, session] = out.stdout.trim().split(' ');
    expect(session).toBe(pid);
    const attached = (await runCli(['--user', guest, '--', 'awk', '{ print $1, $6 }', '/proc/self/stat'])).stdout.trim().split(' ');
    expect(attached[1]).not.toBe(attached[0]);
  });

  it('--timeout takes a duration and --kill-signal the signal it sends', async () => {
    const out = await runCli(['--user', guest, '--timeout', '200ms', '--kill-signal', 'KILL', '--', 'sleep', '30']);
    expect(out.status).toBe(137);
  });

  it('--argv0 sets the guest argv[0]', async () => {
    const out = await runCli(['--user', guest, '--argv0', 'renamed', '--', 'sh', '-c', 'echo $0']);
    expect(out.stdout).toBe('renamed\n');
  });
});

describe.runIf(isRoot)(`doctor and CAP_SETPCAP, as the kernel rules it (${notRootReason})`, () => {
  interface DoctorJson {
    checks: { name: string; ok: boolean; step?: string }[];
  }
  const doctor = async (args: string[], wrapper: string[]) =>
    JSON.parse((await runCli(['doctor', '--json', ...args], { wrapper })).stdout) as DoctorJson;
  const check = (json: DoctorJson, name: string) => json.checks.find((c) => c.name === name);

  it('run as nobody, doctor does not mark /dev/net/tun ✓ while CAP_NET_ADMIN is ✗', async () => {
    const json = await doctor(
      ['--user', guest, '--caps', 'net_admin'],
      ['setpriv', '--reuid', 'nobody', '--regid', 'nogroup', '--clear-groups', '--'],
    );
    expect(check(json, 'CAP_NET_ADMIN')?.ok).toBe(false);
    expect(check(json, '/dev/net/tun')?.ok).toBe(false);
  });

  // PR_CAPBSET_DROP and PR_SET_SECUREBITS need CAP_SETPCAP; the ambient raise needs the bit
  // permitted and inheritable, and capset after the uid change takes inheritable bits only
  // from the permitted set, so neither uses it.
  const withoutSetpcap = ['setpriv', '--inh-caps', '-all', '--bounding-set', '-setpcap', '--'];

  it('without CAP_SETPCAP an ambient capability is still granted, and doctor agrees', async () => {
    const out = await runCli(['--user', guest, '--caps', 'net_admin', '--', 'grep', 'CapAmb', '/proc/self/status'], {
      wrapper: withoutSetpcap,
    });
    expect(out).toMatchObject({ status: 0, stdout: 'CapAmb:\t0000000000001000\n' });
    expect(check(await doctor(['--user', guest, '--caps', 'net_admin'], withoutSetpcap), 'CAP_SETPCAP')?.ok).toBe(true);
  });

  it.each([
    [['--user', guest, '--limit-bounding-set'], 'capbset_drop'],
    [['--user', 'root', '--allow-root'], 'securebits'],
  ])('without CAP_SETPCAP, %j fails at %s, and doctor says so first', async (args, step) => {
    const out = await runCli([...args, '--', 'true'], { wrapper: withoutSetpcap });
    expect(out.status).toBe(125);
    expect(out.stderr).toContain(`${step} failed: EPERM`);
    expect(check(await doctor(args, withoutSetpcap), 'CAP_SETPCAP')).toMatchObject({ ok: false, step });
  });
});
