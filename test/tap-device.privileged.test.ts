// createTap, deleteTap, readTap and `capspawn tap`, each run inside a network namespace this
// file makes (ip netns exec), so no device appears outside it. `ip -d link` checks the result
// independently of capspawn's own sysfs reader.
import { execFileSync, spawnSync } from 'node:child_process';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FIXTURE_GROUPS, FIXTURE_USERS, gidOf, isRoot, notRootReason, uidOf } from './support/fixtures.js';
import { cliPath, ensureCliBuilt, packageRoot } from './support/cli.js';
import { apiInNetns, holdTap } from './support/netns.js';

const netns = `capspawn-tap-${process.pid}`;

function api(body: string, wrapper: string[] = []) {
  return apiInNetns(netns, body, wrapper);
}

function cli(args: string[]) {
  const out = spawnSync('ip', ['netns', 'exec', netns, process.execPath, cliPath, ...args], { cwd: packageRoot, encoding: 'utf8' });
  return { status: out.status, stdout: out.stdout, stderr: out.stderr };
}

/** `ip -d link show NAME` in the namespace, or undefined when there is no such link. */
function ipLink(name: string): string | undefined {
  const out = spawnSync('ip', ['-n', netns, '-d', 'link', 'show', 'dev', name], { encoding: 'utf8' });
  return out.status === 0 ? out.stdout : undefined;
}

describe.runIf(isRoot)(`TAP devices made by the daemon (${notRootReason}; and a network namespace of its own)`, () => {
  const net = FIXTURE_GROUPS.net;
  beforeAll(() => {
    ensureCliBuilt();
    execFileSync('ip', ['netns', 'add', netns]);
  });
  afterAll(() => execFileSync('ip', ['netns', 'delete', netns]));

  it('createTap makes a persistent group-owned TAP with vnet_hdr, up, as ip shows it', () => {
    const out = api(`return await createTap('cvd-mtap-01', { group: '${net}', vnetHdr: true, up: true });`);
    expect(out).toEqual({
      ok: {
        name: 'cvd-mtap-01',
        kind: 'tap',
        owner: null,
        group: gidOf(net),
        flags: 0x5802,
        vnetHdr: true,
        multiQueue: false,
        persistent: true,
        up: true,
      },
    });
    const link = ipLink('cvd-mtap-01') as string;
    expect(link).toMatch(/<[^>]*\bUP\b[^>]*>/);
    expect(link).toMatch(/tun type tap pi off vnet_hdr on .*persist on group capspawn-net /);
    expect(link).not.toMatch(/ user /);
    expect(api(`return readTap('cvd-mtap-01');`)).toEqual(out);
    expect(api(`await deleteTap('cvd-mtap-01');`)).toEqual({ ok: null });
    expect(ipLink('cvd-mtap-01')).toBeUndefined();
  });

  it('createTap sets the owner by name and multi_queue, down unless asked', () => {
    const user = FIXTURE_USERS.guest.name;
    const out = api(`return await createTap('cs-mq0', { user: '${user}', multiQueue: true });`);
    expect(out).toMatchObject({ ok: { owner: uidOf(user), group: null, multiQueue: true, vnetHdr: false, up: false, persistent: true } });
    expect(ipLink('cs-mq0')).toMatch(/tun type tap pi off vnet_hdr off multi_queue .*persist on user capspawn-guest /);
    expect(ipLink('cs-mq0')).not.toMatch(/<[^>]*\bUP\b/);
    api(`await deleteTap('cs-mq0');`);
    expect(ipLink('cs-mq0')).toBeUndefined();
  });

  it('takes an existing device with exactly the settings asked for, and refuses one that differs, leaving it as it was', () => {
    api(`await createTap('cs-same', { group: ${gidOf(net)} });`);
    expect(api(`return await createTap('cs-same', { group: '${net}', up: true });`)).toMatchObject({ ok: { group: gidOf(net), up: true } });
    const before = ipLink('cs-same');
    expect(api(`return await createTap('cs-same', { group: '${FIXTURE_GROUPS.other}' });`)).toMatchObject({
      error: {
        name: 'TapError',
        code: 'ERR_CAPSPAWN_TAP_EXISTS',
        device: 'cs-same',
        message: expect.stringMatching(/exists and its group is \d+, not \d+: it is left as it is/),
      },
    });
    expect(api(`return await createTap('cs-same', { group: '${net}', vnetHdr: true });`)).toMatchObject({
      error: { message: expect.stringMatching(/vnet_hdr off/) },
    });
    expect(api(`return await createTap('cs-same', { user: 0, group: '${net}' });`)).toMatchObject({
      error: { message: expect.stringMatching(/its owner is none, not 0/) },
    });
    expect(ipLink('cs-same')).toBe(before);
    api(`await deleteTap('cs-same');`);
  });

  it('refuses an existing interface of another kind: a TUN device, or lo', () => {
    execFileSync('ip', ['-n', netns, 'tuntap', 'add', 'dev', 'cs-tun', 'mode', 'tun']);
    expect(api(`return await createTap('cs-tun');`)).toMatchObject({
      error: { code: 'ERR_CAPSPAWN_TAP_EXISTS', message: expect.stringMatching(/a TUN device, not a TAP/) },
    });
    expect(ipLink('cs-tun')).toMatch(/tun type tun/);
    expect(api(`return await createTap('lo');`)).toMatchObject({
      error: { code: 'ERR_CAPSPAWN_TAP_EXISTS', message: 'createTap lo: lo exists and is not a TUN/TAP device: choose another name' },
    });
    expect(api(`return readTap('lo');`)).toMatchObject({ error: { code: 'ERR_CAPSPAWN_NOT_TUN' } });
    expect(api(`await deleteTap('cs-tun');`)).toEqual({ ok: null });
    expect(ipLink('cs-tun')).toBeUndefined();
  });

  it('without CAP_NET_ADMIN: EPERM at TUNSETIFF with the hint, and no device left', () => {
    const out = api(`return await createTap('cs-noperm', { group: '${net}' });`, ['setpriv', '--bounding-set', '-net_admin', '--']);
    expect(out).toMatchObject({
      error: {
        name: 'TapError',
        code: 'EPERM',
        errno: -1,
        syscall: 'TUNSETIFF',
        device: 'cs-noperm',
        hint: expect.stringMatching(/^needs CAP_NET_ADMIN/),
      },
    });
    expect(ipLink('cs-noperm')).toBeUndefined();
  });

  it('deleteTap: ENODEV for no such device; EBUSY naming the pid that holds it attached', async () => {
    expect(api(`await deleteTap('cs-none');`)).toMatchObject({
      error: {
        code: 'ENODEV',
        device: 'cs-none',
        message: 'readTap cs-none: no network interface named cs-none in this network namespace',
      },
    });
    api(`await createTap('cs-busy');`);
    // A process attached to the TAP, as a running QEMU is.
    const { pid, release } = await holdTap(netns, 'cs-busy');
    try {
      expect(api(`await deleteTap('cs-busy');`)).toMatchObject({
        error: { code: 'EBUSY', syscall: 'TUNSETIFF', hint: expect.stringContaining(`an orphaned QEMU?): held by pid ${pid};`) },
      });
      expect(ipLink('cs-busy')).toBeDefined();
    } finally {
      await release();
    }
    expect(api(`await deleteTap('cs-busy');`)).toEqual({ ok: null });
  });

  it('rejects a bad name or option before anything is made', () => {
    expect(api(`return await createTap('cvd-mtap-0123456');`)).toMatchObject({
      error: { name: 'RangeError', option: 'name', message: expect.stringMatching(/16 bytes, longer than 15 bytes/) },
    });
    expect(api(`return await createTap('cs-x', { group: 'capspawn-no-such-group' });`)).toMatchObject({
      error: { code: 'ERR_CAPSPAWN_UNKNOWN_GROUP' },
    });
    expect(api(`return await createTap('cs-x', { user: 'capspawn-no-such-user' });`)).toMatchObject({
      error: { code: 'ERR_CAPSPAWN_UNKNOWN_USER' },
    });
    expect(ipLink('cs-x')).toBeUndefined();
  });

  it('capspawn tap add, show (text and --json) and del', () => {
    const add = cli(['tap', 'add', 'cvd-etap-01', '--group', net, '--vnet-hdr', '--up']);
    expect(add).toMatchObject({
      status: 0,
      stderr: '',
      stdout: `cvd-etap-01: tap, persistent, up, owner none, group ${net} (${gidOf(net)}), vnet_hdr, tun_flags 0x5802\n`,
    });
    expect(cli(['tap', 'show', 'cvd-etap-01'])).toMatchObject({ status: 0, stdout: add.stdout });
    expect(JSON.parse(cli(['tap', 'show', 'cvd-etap-01', '--json']).stdout)).toMatchObject({
      name: 'cvd-etap-01',
      group: gidOf(net),
      vnetHdr: true,
      up: true,
    });
    expect(cli(['tap', 'add', 'cvd-etap-01', '--group', FIXTURE_GROUPS.other])).toMatchObject({
      status: 125,
      stdout: '',
      stderr: expect.stringMatching(/^capspawn: createTap cvd-etap-01: cvd-etap-01 exists and its group/),
    });
    expect(cli(['tap', 'del', 'cvd-etap-01'])).toMatchObject({ status: 0, stdout: '', stderr: '' });
    expect(cli(['tap', 'show', 'cvd-etap-01'])).toMatchObject({
      status: 125,
      stderr: 'capspawn: readTap cvd-etap-01: no network interface named cvd-etap-01 in this network namespace\n',
    });
    expect(cli(['tap', 'add', 'cvd-etap-01', '--colour'])).toMatchObject({
      status: 125,
      stderr: expect.stringMatching(/^capspawn: capspawn tap add: Unknown option '--colour'/),
    });
    expect(cli(['tap', 'add'])).toMatchObject({ status: 125, stderr: expect.stringContaining('takes one device name') });
    expect(ipLink('cvd-etap-01')).toBeUndefined();
  });
});
