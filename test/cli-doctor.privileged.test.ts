import { beforeAll, describe, expect, it } from 'vitest';
import { FIXTURE_USERS, isRoot, notRootReason } from './support/fixtures.js';
import { ensureCliBuilt, runCli } from './support/cli.js';

const guest = FIXTURE_USERS.guest.name;

interface DoctorJson {
  ok: boolean;
  checks: { name: string; ok: boolean; detail: string; fix?: string; step?: string; story?: string }[];
}

async function doctorJson(args: string[], wrapper?: string[]): Promise<{ status: number | null; json: DoctorJson }> {
  const out = await runCli(['doctor', '--json', ...args], { wrapper });
  expect(out.stderr).toBe('');
  return { status: out.status, json: JSON.parse(out.stdout) as DoctorJson };
}

function check(json: DoctorJson, name: string) {
  const found = json.checks.find((c) => c.name === name);
  if (!found) throw new Error(`doctor printed no check named ${name}: ${json.checks.map((c) => c.name).join(', ')}`);
  return found;
}

const withoutNetAdmin = ['setpriv', '--bounding-set', '-net_admin', '--'];

beforeAll(ensureCliBuilt);

describe.runIf(isRoot)(`capspawn doctor (${notRootReason})`, () => {
  it('passes CAP_NET_ADMIN when this process holds it', async () => {
    const { json } = await doctorJson(['--user', guest, '--caps', 'net_admin']);
    expect(check(json, 'CAP_NET_ADMIN')).toMatchObject({ ok: true, step: 'capset' });
    for (const name of ['CAP_SETUID', 'CAP_SETGID', 'SECBIT_NO_CAP_AMBIENT_RAISE', 'SECBIT_KEEP_CAPS_LOCKED', 'user', 'groups']) {
      expect(check(json, name).ok, name).toBe(true);
    }
  });

  it('fails CAP_NET_ADMIN under a bounding set without it, with the unit setting to change', async () => {
    const { status, json } = await doctorJson(['--user', guest, '--caps', 'net_admin'], withoutNetAdmin);
    const netAdmin = check(json, 'CAP_NET_ADMIN');
    expect(netAdmin).toMatchObject({ ok: false, step: 'capset', story: 'ambient raise lost' });
    expect(netAdmin.detail).toContain('bounding set');
    expect(netAdmin.fix).toContain('CapabilityBoundingSet=');
    expect(json.ok).toBe(false);
    expect(status).toBe(1);
  });

  it('prints one ✓ or ✗ line per check, the failure with its fix and story', async () => {
    const out = await runCli(['doctor', '--user', guest, '--caps', 'net_admin'], { wrapper: withoutNetAdmin });
    const line = out.stdout.split('\n').find((l) => l.includes('CAP_NET_ADMIN:'));
    expect(line).toMatch(/^✗ CAP_NET_ADMIN: .*bounding set.* → fix: .*CapabilityBoundingSet=.*\[failure story: ambient raise lost\]$/);
    expect(out.stdout.split('\n').find((l) => l.startsWith('✓ CAP_SETUID:'))).toBeDefined();
    expect(out.status).toBe(1);
    const healthy = await runCli(['doctor', '--user', guest, '--caps', 'net_admin']);
    expect(healthy.stdout).toMatch(/^✓ CAP_NET_ADMIN: /m);
  });

  it('checks the capabilities asked for even without --user', async () => {
    const { json } = await doctorJson(['--caps', 'net_admin'], withoutNetAdmin);
    expect(check(json, 'CAP_NET_ADMIN').ok).toBe(false);
    expect(json.checks.some((c) => c.name === 'user')).toBe(false);
  });

  it('fails SECBIT_KEEP_CAPS_LOCKED when this process has it, naming the step', async () => {
    const { json } = await doctorJson(['--user', guest], ['setpriv', '--securebits', '+keep_caps_locked', '--']);
    expect(check(json, 'SECBIT_KEEP_CAPS_LOCKED')).toMatchObject({ ok: false, step: 'keepcaps' });
    expect(check(json, 'SECBIT_KEEP_CAPS_LOCKED').fix).toContain('SecureBits=');
  });

  it('fails CAP_SETPCAP only when --limit-bounding-set needs it', async () => {
    const wrapper = ['setpriv', '--inh-caps', '-all', '--bounding-set', '-setpcap', '--'];
    expect(check((await doctorJson(['--user', guest], wrapper)).json, 'CAP_SETPCAP').ok).toBe(true);
    expect(check((await doctorJson(['--user', guest, '--limit-bounding-set'], wrapper)).json, 'CAP_SETPCAP')).toMatchObject({
      ok: false,
      step: 'capbset_drop',
    });
  });

  it('reports an unknown user as a failed check', async () => {
    const { status, json } = await doctorJson(['--user', 'capspawn-no-such-user']);
    expect(check(json, 'user and groups')).toMatchObject({ ok: false, step: 'resolve' });
    expect(status).toBe(1);
  });

  it('lists the groups the user would get, and the device checks with their stories', async () => {
    const { json } = await doctorJson(['--user', guest]);
    expect(check(json, 'groups')).toMatchObject({ ok: true, story: 'group dropped' });
    expect(check(json, 'groups').detail).toContain('capspawn-extra');
    expect(check(json, '/dev/net/tun').story).toBe('TAP EPERM');
    expect(check(json, '/dev/kvm')).toBeDefined();
  });
});
