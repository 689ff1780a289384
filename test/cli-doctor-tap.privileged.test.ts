// doctor --tap and explain's bubblewrap check, on real devices in a network namespace this
// file makes, and on real wrapper files (scripts, a Nix-style binary wrapper, set-uid bwrap).
import { execFileSync } from 'node:child_process';
import { chmodSync, copyFileSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FIXTURE_GROUPS, FIXTURE_USERS, gidOf, isRoot, notRootReason } from './support/fixtures.js';
import { ensureCliBuilt, runCli } from './support/cli.js';
import { holdTap } from './support/netns.js';

const netns = `capspawn-doctap-${process.pid}`;
const guest = FIXTURE_USERS.guest.name;
const net = FIXTURE_GROUPS.net;

interface Check {
  name: string;
  ok: boolean;
  detail: string;
  fix?: string;
  code?: string;
  story?: string;
}

/** capspawn doctor --json ARGS, run inside the namespace. */
async function doctor(args: string[]): Promise<{ status: number | null; checks: Check[]; stderr: string }> {
  const out = await runCli(['doctor', '--json', ...args], { wrapper: ['ip', 'netns', 'exec', netns] });
  return { status: out.status, stderr: out.stderr, checks: out.stdout ? (JSON.parse(out.stdout) as { checks: Check[] }).checks : [] };
}

function tapLine(checks: Check[], tap: string): Check {
  const found = checks.find((c) => c.name === `TAP ${tap}`);
  if (!found) throw new Error(`no check for ${tap}: ${checks.map((c) => c.name).join(', ')}`);
  return found;
}

describe.runIf(isRoot)(`doctor --tap (${notRootReason}; in a network namespace of its own)`, () => {
  let dir = '';
  beforeAll(async () => {
    ensureCliBuilt();
    execFileSync('ip', ['netns', 'add', netns]);
    for (const args of [
      ['cs-grp0', '--group', net, '--vnet-hdr', '--up'],
      ['cs-own0', '--user', FIXTURE_USERS.second.name],
      ['cs-bare0'],
    ]) {
      const made = await runCli(['tap', 'add', ...args], { wrapper: ['ip', 'netns', 'exec', netns] });
      if (made.status !== 0) throw new Error(`capspawn tap add ${args.join(' ')} exited ${made.status}: ${made.stderr}`);
    }
    dir = mkdtempSync(join(tmpdir(), 'capspawn-doctap-'));
    chmodSync(dir, 0o755);
  });
  afterAll(() => {
    execFileSync('ip', ['netns', 'delete', netns]);
    rmSync(dir, { recursive: true, force: true });
  });

  it("a guest in the TAP's group may attach without capabilities", async () => {
    const out = await doctor(['--user', guest, '--groups', net, '--tap', 'cs-grp0']);
    expect(tapLine(out.checks, 'cs-grp0')).toMatchObject({
      ok: true,
      detail: expect.stringMatching(
        new RegExp(`group ${net} \\(${gidOf(net)}\\), vnet_hdr, persistent, up; ${guest} may attach without any capability$`),
      ),
    });
    expect(tapLine((await doctor(['--user', guest, '--add-groups', net, '--tap', 'cs-grp0'])).checks, 'cs-grp0').ok).toBe(true);
  });

  it('a guest outside it gets a ✗ naming the group and the QEMU message, and doctor exits 1', async () => {
    const out = await doctor(['--user', guest, '--tap', 'cs-grp0']);
    expect(out.status).toBe(1);
    expect(tapLine(out.checks, 'cs-grp0')).toMatchObject({
      ok: false,
      code: 'EPERM',
      story: 'TAP EPERM',
      detail: expect.stringContaining(
        `the guest is not in group ${net} (${gidOf(net)}), so QEMU fails with "could not configure /dev/net/tun (cs-grp0): Operation not permitted"`,
      ),
      fix: expect.stringContaining(`put the guest in group ${net}`),
    });
  });

  it('an owner that is not the guest, or no owner and no group: ✗; with CAP_NET_ADMIN: ✓', async () => {
    const out = await doctor(['--user', guest, '--tap', 'cs-own0', '--tap', 'cs-bare0']);
    expect(tapLine(out.checks, 'cs-own0')).toMatchObject({
      ok: false,
      detail: expect.stringMatching(/it belongs to uid \d+, and the guest is uid \d+/),
    });
    expect(tapLine(out.checks, 'cs-bare0')).toMatchObject({
      ok: false,
      detail: expect.stringContaining('it has no owner or group, so only CAP_NET_ADMIN may attach'),
    });
    expect(tapLine((await doctor(['--user', guest, '--caps', 'net_admin', '--tap', 'cs-bare0'])).checks, 'cs-bare0')).toMatchObject({
      ok: true,
      detail: expect.stringMatching(/may attach holding CAP_NET_ADMIN$/),
    });
  });

  it('a missing device, and one a process holds attached (Device or resource busy)', async () => {
    expect(tapLine((await doctor(['--tap', 'cs-none0'])).checks, 'cs-none0')).toMatchObject({
      ok: false,
      code: 'ENODEV',
      fix: expect.stringContaining('capspawn tap add cs-none0'),
    });
    // A process attached to the TAP, as a running QEMU is.
    const { pid, release } = await holdTap(netns, 'cs-grp0');
    try {
      expect(tapLine((await doctor(['--user', guest, '--groups', net, '--tap', 'cs-grp0'])).checks, 'cs-grp0')).toMatchObject({
        ok: false,
        code: 'EBUSY',
        detail: expect.stringContaining(`attached by pid ${pid}, so another QEMU gets "Device or resource busy"`),
      });
    } finally {
      await release();
    }
  });

  it('reads the devices from a profile\'s "taps" too, and refuses a malformed one', async () => {
    const profile = join(dir, 'guest.json');
    writeFileSync(profile, JSON.stringify({ user: guest, supplementaryGroups: [net], taps: ['cs-grp0'] }));
    const out = await doctor(['--config', profile, '--tap', 'cs-bare0']);
    expect(tapLine(out.checks, 'cs-grp0').ok).toBe(true);
    expect(tapLine(out.checks, 'cs-bare0').ok).toBe(false);
    writeFileSync(profile, JSON.stringify({ user: guest, taps: 'cs-grp0' }));
    expect(await doctor(['--config', profile])).toMatchObject({
      status: 125,
      stderr: `capspawn: ${profile}: field "taps" must be a list of TAP device names, such as ["cvd-mtap-01"]\n`,
    });
  });
});

describe.runIf(isRoot)(`explain knows bubblewrap wrappers (${notRootReason})`, () => {
  let dir = '';
  type Wrapper = 'fhs' | 'wrapped' | 'binary-wrapper' | 'plain' | 'setuid';
  const files = {} as Record<Wrapper, string>;
  beforeAll(() => {
    ensureCliBuilt();
    dir = mkdtempSync(join(tmpdir(), 'capspawn-bwrap-'));
    chmodSync(dir, 0o755);
    const write = (name: Wrapper, text: string | Buffer) => {
      files[name] = join(dir, name);
      writeFileSync(files[name], text);
      chmodSync(files[name], 0o755);
    };
    // buildFHSEnvBubblewrap's shape: a script that runs bwrap from its store path.
    write('fhs', '#!/bin/sh\nexec /usr/bin/bwrap --dev-bind / / --unshare-user --die-with-parent -- "$@"\n');
    // makeWrapper's shape, around it.
    write('wrapped', `#! /bin/bash -e\nexport CUTTLEFISH_X=1\nexec -a "$0" "${join(dir, 'fhs')}"  "$@"\n`);
    // makeBinaryWrapper's shape: an ELF file that carries the command that made it.
    write(
      'binary-wrapper',
      Buffer.concat([
        Buffer.from('\x7fELF\x02\x01\x01', 'latin1'),
        Buffer.alloc(64),
        Buffer.from(`\0makeCWrapper '${join(dir, 'wrapped')}' \\\n    --inherit-argv0\0`),
      ]),
    );
    files.setuid = join(dir, 'bwrap');
    copyFileSync('/usr/bin/bwrap', files.setuid);
    chmodSync(files.setuid, 0o4755);
    write('plain', '#!/bin/sh\nexec /usr/bin/qemu-system-x86_64 "$@"\n');
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  async function bubblewrapLine(program: string, flags: string[]) {
    const out = await runCli(['explain', '--json', '--user', guest, ...flags, '--', program]);
    const json = JSON.parse(out.stdout) as { preflight: { checks: Check[]; exitStatus: number } };
    return { status: out.status, check: json.preflight.checks.find((c) => c.name === 'bubblewrap') };
  }

  it("with caps: ✗ naming bubblewrap's refusal and the group-owned TAP way, through every wrapper shape", async () => {
    for (const program of [files.fhs, files.wrapped, files['binary-wrapper'], '/usr/bin/bwrap']) {
      const { status, check } = await bubblewrapLine(program, ['--caps', 'net_admin']);
      expect(status, program).toBe(125);
      expect(check, program).toMatchObject({
        ok: false,
        detail: expect.stringContaining('"bwrap: Unexpected capabilities but not setuid, old file caps config?"'),
        fix: expect.stringContaining('capspawn tap add NAME --group cvdnetwork'),
      });
    }
    expect((await bubblewrapLine(files['binary-wrapper'], ['--caps', 'net_admin'])).check?.detail).toContain(
      `${files['binary-wrapper']} → ${files.wrapped} → ${files.fhs} → /usr/bin/bwrap`,
    );
    // The refusal is real: the same launch through run.
    const ran = await runCli(['--user', guest, '--caps', 'net_admin', '--', files.wrapped, 'true']);
    expect(ran.stderr).toContain('bwrap: Unexpected capabilities but not setuid, old file caps config?');
  });

  it('set-uid bubblewrap: ✗ ambient raise lost, or ✗ refused where the build refuses set-uid use, as the guest shows', async () => {
    // A set-uid root program is refused by default (it would change the guest's credentials).
    const refused = await runCli(['--user', guest, '--caps', 'net_admin', '--', files.setuid, '--dev-bind', '/', '/', '--', 'true']);
    expect(refused.status).toBe(125);
    expect(refused.stderr).toContain('set-user-ID root');
    // Run as asked: bubblewrap 0.8 (bookworm) drops the capabilities the guest was meant to
    // hold; Debian's from trixie on is built to refuse set-uid use and runs nothing.
    const ran = await runCli([
      '--user',
      guest,
      '--caps',
      'net_admin',
      '--allow-privileged-programs',
      '--',
      files.setuid,
      '--dev-bind',
      '/',
      '/',
      '--',
      'grep',
      'CapAmb',
      '/proc/self/status',
    ]);
    const refusal = 'bwrap: setuid use of bubblewrap is not supported';
    for (const caps of [['--caps', 'net_admin'], []]) {
      const { check } = await bubblewrapLine(files.setuid, caps);
      if (ran.stderr.includes(refusal)) {
        expect(ran.stdout).toBe('');
        expect(check, caps.join(' ')).toMatchObject({
          ok: false,
          detail: expect.stringContaining(`built to refuse set-uid use: it exits before it runs the program, with "${refusal}"`),
          fix: expect.stringContaining(`chmod u-s ${files.setuid}`),
        });
      } else {
        expect(ran.stdout).toBe('CapAmb:\t0000000000000000\n');
        if (caps.length > 0) {
          expect(check).toMatchObject({
            ok: false,
            story: 'ambient raise lost',
            detail: expect.stringContaining('set-uid bubblewrap, which drops every capability'),
          });
        } else {
          expect(check).toMatchObject({ ok: true, story: 'group dropped' });
        }
      }
    }
  });

  it("names a set-uid bwrap file that carries the build's refusal as one that will not start", async () => {
    const refusing = join(dir, 'refusing');
    mkdirSync(refusing);
    const bwrap = join(refusing, 'bwrap');
    writeFileSync(
      bwrap,
      Buffer.concat([
        Buffer.from('\x7fELF\x02\x01\x01', 'latin1'),
        Buffer.alloc(300_000),
        Buffer.from('\0setuid use of bubblewrap is not supported\0'),
      ]),
    );
    chmodSync(bwrap, 0o4755);
    const { status, check } = await bubblewrapLine(bwrap, []);
    expect(status).toBe(125);
    expect(check).toMatchObject({
      ok: false,
      detail: expect.stringContaining('built to refuse set-uid use'),
      fix: `remove the set-uid bit (chmod u-s ${bwrap}); then it runs in a user namespace of its own`,
    });
    chmodSync(bwrap, 0o755);
    expect((await bubblewrapLine(bwrap, [])).check).toMatchObject({ ok: true, story: 'group dropped' });
  });

  it('without caps: ✓ with the note that groups show as nogroup and chgrp needs the primary group', async () => {
    const { status, check } = await bubblewrapLine(files.wrapped, ['--group', net]);
    expect(status).toBe(0);
    expect(check).toMatchObject({
      ok: true,
      detail: expect.stringMatching(
        new RegExp(`primary group ${net} \\(\\d+\\) are mapped, so every other group shows as 65534 \\(nogroup\\).*fails with EINVAL`),
      ),
    });
  });

  it('a wrapper that runs no bubblewrap gets no such line', async () => {
    expect((await bubblewrapLine(files.plain, ['--caps', 'net_admin'])).check).toBeUndefined();
  });
});
