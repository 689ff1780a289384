// A real guest, booted: QEMU runs a tiny Linux (test/support/tiny-guest.ts) on a TAP device and
// the guest pings the host side of it. Everything happens in a network namespace this file
// makes: the TAP, the host's address in a private /30, QEMU itself (spawnGuest's netns).
// (a) QEMU with CAP_NET_ADMIN creates its TAP; sudo + setpriv loses the capability and QEMU
// fails. (b) a TAP made by createTap for group cvdnetwork, QEMU in that group with no
// capability; outside it, EPERM. (c) as (b), through bubblewrap as an FHS wrapper runs it.
import { execFileSync, spawnSync } from 'node:child_process';
import { chmodSync, chownSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { spawnGuest, type SpawnGuestOptions } from '../lib/index.js';
import { FIXTURE_GROUPS, FIXTURE_USERS, gidOf, isRoot, notRootReason, uidOf } from './support/fixtures.js';
import { ensureCliBuilt } from './support/cli.js';
import { runGuest } from './support/guests.js';
import { apiInNetns } from './support/netns.js';
import { buildTinyGuest, ROUND_TRIP_MARKER, type TinyGuest } from './support/tiny-guest.js';

const netnsName = `capspawn-boot-${process.pid}`;
const netns = `/run/netns/${netnsName}`;
const HOST = '10.213.0.1';
const GUEST = '10.213.0.2';
const QEMU = '/usr/bin/qemu-system-x86_64';
const TAP_EPERM = /could not configure \/dev\/net\/tun \(([\w-]+)\): Operation not permitted/;
const user = FIXTURE_USERS.guest.name;
const CVDNETWORK = 'cvdnetwork';
/** Under emulation on a busy machine a boot takes seconds to tens of seconds; this bounds a hung one. */
const BOOT_TIMEOUT_MS = 120_000;
const TEST_TIMEOUT_MS = BOOT_TIMEOUT_MS + 30_000;

function ip(...args: string[]): string {
  return execFileSync('ip', ['-n', netnsName, ...args], { encoding: 'utf8' });
}

/** Gives the host side of `tap` its /30 address once the device exists (QEMU may still be making it). */
async function addressHostSide(tap: string, exited: () => boolean): Promise<void> {
  while (spawnSync('ip', ['-n', netnsName, 'link', 'show', 'dev', tap]).status !== 0) {
    if (exited()) return;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  ip('addr', 'add', `${HOST}/30`, 'dev', tap);
  ip('link', 'set', 'dev', tap, 'up');
}

interface Boot {
  code: number | null;
  console: string;
  /** Milliseconds from spawnGuest to the guest's report of its round trip. */
  roundTripMs?: number;
}

/**
 * Starts `file args` as a guest in the namespace and waits until it ends, timing the round
 * trip. `qemuMakesTap`: the TAP QEMU creates, whose host side gets its address once it exists.
 */
async function boot(file: string, args: string[], options: Omit<SpawnGuestOptions, 'user'>, qemuMakesTap?: string): Promise<Boot> {
  const started = performance.now();
  const guest = await spawnGuest(file, args, {
    user,
    netns,
    stdio: ['ignore', 'pipe', 'pipe'],
    timeout: BOOT_TIMEOUT_MS,
    killSignal: 'SIGKILL',
    ...options,
  });
  let output = '';
  let roundTripMs: number | undefined;
  const onData = (chunk: string) => {
    output += chunk;
    if (roundTripMs === undefined && output.includes(ROUND_TRIP_MARKER)) roundTripMs = Math.round(performance.now() - started);
  };
  guest.stdout?.setEncoding('utf8').on('data', onData);
  guest.stderr?.setEncoding('utf8').on('data', onData);
  let ended = false;
  // 'close': exited, and its pipes drained, so the console is complete.
  const closed = new Promise<number | null>((resolve) =>
    guest.once('close', (code) => {
      ended = true;
      resolve(code);
    }),
  );
  if (qemuMakesTap !== undefined) await addressHostSide(qemuMakesTap, () => ended);
  const code = await closed;
  return { code, console: output, roundTripMs };
}

describe.runIf(isRoot)(`a guest booted on a TAP device (${notRootReason}; in a network namespace of its own)`, () => {
  let tiny: TinyGuest;
  let scratch = '';
  const times: Record<string, number | undefined> = {};

  beforeAll(() => {
    ensureCliBuilt();
    if (spawnSync('getent', ['group', CVDNETWORK]).status !== 0) execFileSync('groupadd', ['--system', CVDNETWORK]);
    execFileSync('ip', ['netns', 'add', netnsName]);
    tiny = buildTinyGuest({ guest: GUEST, host: HOST });
    scratch = mkdtempSync(join(tmpdir(), 'capspawn-boot-'));
    chmodSync(scratch, 0o755);
  });
  afterAll(() => {
    execFileSync('ip', ['netns', 'delete', netnsName]);
    tiny?.remove();
    rmSync(scratch, { recursive: true, force: true });
    console.log(`boot-to-round-trip (TCG): ${JSON.stringify(times)}`);
  });

  describe('(a) QEMU creates its TAP', () => {
    it(
      "with caps ['net_admin'] as an unprivileged user: boots and the guest's ping of the host comes back",
      async () => {
        const out = await boot(QEMU, tiny.qemuArgs('cs-qtap0'), { caps: ['net_admin'] }, 'cs-qtap0');
        times.a = out.roundTripMs;
        expect(out.console).toContain(ROUND_TRIP_MARKER);
        expect(out.code).toBe(0);
        // QEMU's own TAP went with it: nothing stays behind in the namespace.
        expect(spawnSync('ip', ['-n', netnsName, 'link', 'show', 'dev', 'cs-qtap0']).status).not.toBe(0);
      },
      TEST_TIMEOUT_MS,
    );

    it(
      'through sudo -u … -- setpriv --ambient-caps=+net_admin: the raise is lost and QEMU fails on /dev/net/tun',
      { timeout: TEST_TIMEOUT_MS },
      () => {
        const out = spawnSync(
          'ip',
          [
            'netns',
            'exec',
            netnsName,
            'sudo',
            '-u',
            user,
            '--',
            'setpriv',
            '--ambient-caps=+net_admin',
            '--',
            QEMU,
            ...tiny.qemuArgs('cs-qtap1'),
          ],
          {
            encoding: 'utf8',
            timeout: BOOT_TIMEOUT_MS,
          },
        );
        expect(out.status).toBe(1);
        expect(out.stderr).toMatch(TAP_EPERM);
        expect(TAP_EPERM.exec(out.stderr)?.[1]).toBe('cs-qtap1');
        // And setpriv itself reported nothing wrong: the same chain shows CapAmb 0 and exits 0.
        const status = execFileSync(
          'sudo',
          ['-u', user, '--', 'setpriv', '--ambient-caps=+net_admin', '--', 'grep', 'CapAmb', '/proc/self/status'],
          { encoding: 'utf8' },
        );
        expect(status).toBe('CapAmb:\t0000000000000000\n');
        // With --inh-caps as well, setpriv fails loudly instead (sudo's user has no CAP_SETPCAP).
        const loud = spawnSync('sudo', ['-u', user, '--', 'setpriv', '--inh-caps=+net_admin', '--ambient-caps=+net_admin', '--', 'true'], {
          encoding: 'utf8',
        });
        expect(loud).toMatchObject({ status: 127, stderr: 'setpriv: apply capabilities: Operation not permitted\n' });
      },
    );
  });

  describe('(b) a TAP made by createTap for group cvdnetwork', () => {
    beforeAll(async () => {
      const made = await apiInNetns(
        netnsName,
        `return await createTap('cvd-mtap-01', { group: '${CVDNETWORK}', vnetHdr: true, up: true });`,
      );
      expect(made).toMatchObject({ ok: { group: gidOf(CVDNETWORK), persistent: true } });
      ip('addr', 'add', `${HOST}/30`, 'dev', 'cvd-mtap-01');
    });
    afterAll(() => apiInNetns(netnsName, `await deleteTap('cvd-mtap-01');`));

    it(
      'a guest in cvdnetwork with no capability attaches, boots and its ping comes back',
      async () => {
        const out = await boot(QEMU, tiny.qemuArgs('cvd-mtap-01'), { supplementaryGroups: [CVDNETWORK] });
        times.b = out.roundTripMs;
        expect(out.console).toContain(ROUND_TRIP_MARKER);
        expect(out.code).toBe(0);
      },
      TEST_TIMEOUT_MS,
    );

    it('a guest outside the group gets EPERM', async () => {
      const out = await runGuest(QEMU, tiny.qemuArgs('cvd-mtap-01'), { user, netns, supplementaryGroups: [], timeout: BOOT_TIMEOUT_MS });
      expect(out.code).toBe(1);
      expect(TAP_EPERM.exec(out.stderr)?.[1]).toBe('cvd-mtap-01');
    });

    describe('(c) through bubblewrap, as an FHS wrapper runs it', () => {
      let wrapper = '';
      let owned = '';
      beforeAll(() => {
        // What a buildFHSEnvBubblewrap wrapper does: a #! script that execs bwrap with a user namespace.
        wrapper = join(scratch, 'fhs-wrapper');
        writeFileSync(
          wrapper,
          '#!/bin/sh\nexec /usr/bin/bwrap --dev-bind / / --proc /proc --unshare-user --unshare-pid --unshare-ipc --unshare-uts --die-with-parent -- "$@"\n',
        );
        chmodSync(wrapper, 0o755);
        owned = join(scratch, 'owned');
        execFileSync('mkdir', [owned]);
        chownSync(owned, uidOf(user), gidOf(FIXTURE_GROUPS.primary));
      });

      it(
        'with primaryGroup cvdnetwork: chgrp inside works, other groups show as nogroup, and the guest boots',
        async () => {
          const script = `chgrp ${CVDNETWORK} "$0" && stat -c 'group %G' "$0" && id -G && exec "$@"`;
          const args = ['/bin/sh', '-c', script, owned, QEMU, ...tiny.qemuArgs('cvd-mtap-01')];
          const out = await boot(wrapper, args, { primaryGroup: CVDNETWORK, supplementaryGroups: [CVDNETWORK, FIXTURE_GROUPS.extra] });
          expect(out.console).toContain(`group ${CVDNETWORK}\n`);
          // Inside, only the caller's uid and primary gid are mapped: capspawn-extra is 65534 there.
          expect(out.console).toMatch(new RegExp(`^${gidOf(CVDNETWORK)} (\\d+ )*65534\\n`, 'm'));
          times.c = out.roundTripMs;
          expect(out.console).toContain(ROUND_TRIP_MARKER);
          expect(out.code).toBe(0);
        },
        TEST_TIMEOUT_MS,
      );

      it('without primaryGroup: chgrp to the hidden group fails with EINVAL', async () => {
        const out = await runGuest(wrapper, ['chgrp', CVDNETWORK, owned], { user, supplementaryGroups: [CVDNETWORK] });
        expect(out.code).toBe(1);
        expect(out.stderr).toMatch(/chgrp: changing group of .*: Invalid argument/);
      });

      it("with caps: bubblewrap refuses to start ('Unexpected capabilities but not setuid')", async () => {
        const out = await runGuest(wrapper, ['true'], { user, supplementaryGroups: [CVDNETWORK], caps: ['net_admin'] });
        expect(out.code).toBe(1);
        expect(out.stderr).toContain('bwrap: Unexpected capabilities but not setuid, old file caps config?');
      });
    });
  });
});
