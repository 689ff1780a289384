// The failure this project exists to end: QEMU's "could not configure /dev/net/tun: Operation
// not permitted". A guest with CAP_NET_ADMIN creates a TAP device; without it, EPERM.
import { execFileSync } from 'node:child_process';
import { chmodSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FIXTURE_USERS, isRoot, notRootReason } from './support/fixtures.js';
import { inspectPath, runGuest } from './support/guests.js';

describe.runIf(isRoot)(`TAP devices through a private tun node (${notRootReason})`, () => {
  let dir = '';
  let tun = '';
  beforeAll(() => {
    // Our own node, mode 0666, instead of changing the system's /dev/net/tun (0600).
    dir = mkdtempSync(join(tmpdir(), 'capspawn-tun-'));
    chmodSync(dir, 0o755);
    tun = join(dir, 'tun');
    execFileSync('mknod', ['-m', '0666', tun, 'c', '10', '200']);
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('lets a guest with net_admin create a TAP device', async () => {
    const out = await runGuest(inspectPath(), ['tap', tun], { user: FIXTURE_USERS.guest.name, caps: ['net_admin'] });
    expect(out).toMatchObject({ code: 0, stdout: 'ok\n' });
  });

  it('refuses a guest without net_admin with EPERM', async () => {
    const out = await runGuest(inspectPath(), ['tap', tun], { user: FIXTURE_USERS.guest.name });
    expect(out).toMatchObject({ code: 1, stdout: 'ioctl:EPERM\n' });
  });
});
