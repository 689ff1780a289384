// createTap, deleteTap, readTap and `capspawn tap`, each run inside a network namespace this
// file makes (ip netns exec), so no device appears outside it. `ip -d link` checks the result
// independently of capspawn's own sysfs reader.
import { execFileSync } from 'node:child_process';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FIXTURE_GROUPS, FIXTURE_USERS, gidOf, isRoot, notRootReason, uidOf } from './support/fixtures.js';
import { ensureCliBuilt, runCli } from './support/cli.js';
import { apiInNetns, holdTap } from './support/netns.js';
import { runProgram } from './support/run.js';

const netns = `capspawn-tap-${process.pid}`;

function api(body: string, wrapper: string[] = []) {
  return apiInNetns(netns, body, wrapper);
}

function cli(args: string[]) {
  return runCli(args, { wrapper: ['ip', 'netns', 'exec', netns] });
}

/** `ip -d link show NAME` in the namespace, or undefined when there is no such link. */
async function ipLink(name: string): Promise<string | undefined> {
  const out = await runProgram('ip', ['-n', netns, '-d', 'link', 'show', 'dev', name]);
  return out.status === 0 ? out.stdout : undefined;
}

describe.runIf(isRoot)(`TAP devices made by the daemon (${notRootReason}; and a network namespace of its own)`, () => {
  const net = FIXTURE_GROUPS.net;
  beforeAll(() => {
    ensureCliBuilt();
    execFileSync('ip', ['netns', 'add', netns]);
  });
  afterAll(() => execFileSync('ip', ['netns', 'delete', netns]));

  it('createTap makes a persistent group-owned TAP with vnet_hdr, up, as ip shows it', async () => {
    const out = await api(`return await createTap('cvd-mtap-01', { group: '${net}', vnetHdr: true, up: true });`);
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
    const link = (await ipLink('cvd-mtap-01')) as string;
    expect(link).toMatch(/<[^>]*\bUP\b[^>]*>/);
    expect(link).toMatch(/tun type tap pi off vnet_hdr on .*persist on group capspawn-net /);
    expect(link).not.toMatch(/ user /);
    expect(await api(`return readTap('cvd-mtap-01');`)).toEqual(out);
    expect(await api(`await deleteTap('cvd-mtap-01');`)).toEqual({ ok: null });
    expect(await ipLink('cvd-mtap-01')).toBeUndefined();
  });

  it('createTap sets the owner by name and multi_queue, down unless asked', async () => {
    const user = FIXTURE_USERS.guest.name;
    const out = await api(`return await createTap('cs-mq0', { user: '${user}', multiQueue: true });`);
    expect(out).toMatchObject({ ok: { owner: uidOf(user), group: null, multiQueue: true, vnetHdr: false, up: false, persistent: true } });
    expect(await ipLink('cs-mq0')).toMatch(/tun type tap pi off vnet_hdr off multi_queue .*persist on user capspawn-guest /);
    expect(await ipLink('cs-mq0')).not.toMatch(/<[^>]*\bUP\b/);
    await api(`await deleteTap('cs-mq0');`);
    expect(await ipLink('cs-mq0')).toBeUndefined();
  });

  it('takes an existing device with exactly the settings asked for, and refuses one that differs, leaving it as it was', async () => {
    await api(`await createTap('cs-same', { group: ${gidOf(net)} });`);
    expect(await api(`return await createTap('cs-same', { group: '${net}', up: true });`)).toMatchObject({
      ok: { group: gidOf(net), up: true },
    });
    const before = await ipLink('cs-same');
    expect(await api(`return await createTap('cs-same', { group: '${FIXTURE_GROUPS.other}' });`)).toMatchObject({
      error: {
        name: 'TapError',
        code: 'ERR_CAPSPAWN_TAP_EXISTS',
        device: 'cs-same',
        message: expect.stringMatching(/exists and its group is \d+, not \d+: it is left as it is/),
      },
    });
    expect(await api(`return await createTap('cs-same', { group: '${net}', vnetHdr: true });`)).toMatchObject({
      error: { message: expect.stringMatching(/vnet_hdr off/) },
    });
    expect(await api(`return await createTap('cs-same', { user: 0, group: '${net}' });`)).toMatchObject({
      error: { message: expect.stringMatching(/its owner is none, not 0/) },
    });
    expect(await ipLink('cs-same')).toBe(before);
    await api(`await deleteTap('cs-same');`);
  });

  it('refuses an existing interface of another kind: a TUN device, or lo', async () => {
    execFileSync('ip', ['-n', netns, 'tuntap', 'add', 'dev', 'cs-tun', 'mode', 'tun']);
    expect(await api(`return await createTap('cs-tun');`)).toMatchObject({
      error: { code: 'ERR_CAPSPAWN_TAP_EXISTS', message: expect.stringMatching(/a TUN device, not a TAP/) },
    });
    expect(await ipLink('cs-tun')).toMatch(/tun type tun/);
    expect(await api(`return await createTap('lo');`)).toMatchObject({
      error: { code: 'ERR_CAPSPAWN_TAP_EXISTS', message: 'createTap lo: lo exists and is not a TUN/TAP device: choose another name' },
    });
    expect(await api(`return readTap('lo');`)).toMatchObject({ error: { code: 'ERR_CAPSPAWN_NOT_TUN' } });
    expect(await api(`await deleteTap('cs-tun');`)).toEqual({ ok: null });
    expect(await ipLink('cs-tun')).toBeUndefined();
  });

  it('without CAP_NET_ADMIN: EPERM at TUNSETIFF with the hint, and no device left', async () => {
    const out = await api(`return await createTap('cs-noperm', { group: '${net}' });`, ['setpriv', '--bounding-set', '-net_admin', '--']);
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
    expect(await ipLink('cs-noperm')).toBeUndefined();
  });

  it('deleteTap: ENODEV for no such device; EBUSY naming the pid that holds it attached', async () => {
    expect(await api(`await deleteTap('cs-none');`)).toMatchObject({
      error: {
        code: 'ENODEV',
        device: 'cs-none',
        message: 'readTap cs-none: no network interface named cs-none in this network namespace',
      },
    });
    await api(`await createTap('cs-busy');`);
    // A process attached to the TAP, as a running QEMU is.
    const { pid, release } = await holdTap(netns, 'cs-busy');
    try {
      expect(await api(`await deleteTap('cs-busy');`)).toMatchObject({
        error: { code: 'EBUSY', syscall: 'TUNSETIFF', hint: expect.stringContaining(`an orphaned QEMU?): held by pid ${pid};`) },
      });
      expect(await ipLink('cs-busy')).toBeDefined();
    } finally {
      await release();
    }
    expect(await api(`await deleteTap('cs-busy');`)).toEqual({ ok: null });
  });

  it('rejects a bad name or option before anything is made', async () => {
    expect(await api(`return await createTap('cvd-mtap-0123456');`)).toMatchObject({
      error: { name: 'RangeError', option: 'name', message: expect.stringMatching(/16 bytes, longer than 15 bytes/) },
    });
    expect(await api(`return await createTap('cs-x', { group: 'capspawn-no-such-group' });`)).toMatchObject({
      error: { code: 'ERR_CAPSPAWN_UNKNOWN_GROUP' },
    });
    expect(await api(`return await createTap('cs-x', { user: 'capspawn-no-such-user' });`)).toMatchObject({
      error: { code: 'ERR_CAPSPAWN_UNKNOWN_USER' },
    });
    expect(await ipLink('cs-x')).toBeUndefined();
  });

  it('capspawn tap add, show (text and --json) and del', async () => {
    const add = await cli(['tap', 'add', 'cvd-etap-01', '--group', net, '--vnet-hdr', '--up']);
    expect(add).toMatchObject({
      status: 0,
      stderr: '',
      stdout: `cvd-etap-01: tap, persistent, up, owner none, group ${net} (${gidOf(net)}), vnet_hdr, tun_flags 0x5802\n`,
    });
    expect(await cli(['tap', 'show', 'cvd-etap-01'])).toMatchObject({ status: 0, stdout: add.stdout });
    expect(JSON.parse((await cli(['tap', 'show', 'cvd-etap-01', '--json'])).stdout)).toMatchObject({
      name: 'cvd-etap-01',
      group: gidOf(net),
      vnetHdr: true,
      up: true,
    });
    expect(await cli(['tap', 'add', 'cvd-etap-01', '--group', FIXTURE_GROUPS.other])).toMatchObject({
      status: 125,
      stdout: '',
      stderr: expect.stringMatching(/^capspawn: createTap cvd-etap-01: cvd-etap-01 exists and its group/),
    });
    expect(await cli(['tap', 'del', 'cvd-etap-01'])).toMatchObject({ status: 0, stdout: '', stderr: '' });
    expect(await cli(['tap', 'show', 'cvd-etap-01'])).toMatchObject({
      status: 125,
      stderr: 'capspawn: readTap cvd-etap-01: no network interface named cvd-etap-01 in this network namespace\n',
    });
    expect(await cli(['tap', 'add', 'cvd-etap-01', '--colour'])).toMatchObject({
      status: 125,
      stderr: expect.stringMatching(/^capspawn: capspawn tap add: Unknown option '--colour'/),
    });
    expect(await cli(['tap', 'add'])).toMatchObject({ status: 125, stderr: expect.stringContaining('takes one device name') });
    expect(await ipLink('cvd-etap-01')).toBeUndefined();
  });
});
