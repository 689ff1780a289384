// Programs that carry privileges of their own (set-user-ID, set-group-ID, file capabilities)
// would change the guest's credentials at execve: refused unless allowPrivilegedPrograms,
// checked in the child on the file that runs, for every PATH candidate.
import { execFileSync } from 'node:child_process';
import { chmodSync, chownSync, copyFileSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { spawnGuest, type SpawnGuestOptions } from '../lib/index.js';
import { childrenOf, FIXTURE_GROUPS, FIXTURE_USERS, gidOf, isRoot, notRootReason, uidOf } from './support/fixtures.js';
import { inspectPath, parseInspection, runGuest } from './support/guests.js';

const user = FIXTURE_USERS.second.name;

describe.runIf(isRoot)(`programs with privileges of their own (${notRootReason})`, () => {
  let dir = '';
  const at = (name: string) => join(dir, name);
  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'capspawn-privileged-'));
    chmodSync(dir, 0o755);
    const copy = (name: string, mode: number, owner = 0, group = 0) => {
      copyFileSync(inspectPath(), at(name));
      chownSync(at(name), owner, group);
      chmodSync(at(name), mode);
    };
    copy('setuid-root', 0o4755);
    copy('setuid-self', 0o4755, uidOf(user));
    copy('setgid-extra', 0o2755, 0, gidOf(FIXTURE_GROUPS.extra));
    copy('file-caps', 0o755);
    execFileSync('setcap', ['cap_net_raw+ep', at('file-caps')]);
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));
  afterEach(() => expect(childrenOf()).toEqual([]));

  const refused = (file: string, options: Partial<SpawnGuestOptions>, carries: RegExp) =>
    expect(spawnGuest(file, [], { user, stdio: 'ignore', ...options })).rejects.toMatchObject({
      name: 'SpawnGuestError',
      code: 'ERR_CAPSPAWN_PRIVILEGED_PROGRAM',
      step: 'privileged_program',
      path: file.includes('/') ? file : at(file),
      message: carries,
    });
  const inspect = async (file: string, options: Partial<SpawnGuestOptions>) => {
    const out = await runGuest(file, [], { user, ...options });
    expect(out).toMatchObject({ code: 0 });
    return parseInspection(out.stdout).status;
  };

  it('refuses a set-user-ID root program, naming what it carries and the way out', async () => {
    await refused(
      at('setuid-root'),
      {},
      /carries set-user-ID root, .*allowPrivilegedPrograms: true \(CLI --allow-privileged-programs\).*noNewPrivileges/,
    );
  });

  it('refuses a set-group-ID program of another group', async () => {
    await refused(at('setgid-extra'), {}, new RegExp(`carries set-group-ID ${FIXTURE_GROUPS.extra}`));
  });

  it('refuses file capabilities, which would clear the ambient set, even under noNewPrivileges', async () => {
    await refused(at('file-caps'), { caps: ['net_admin'] }, /carries file capabilities cap_net_raw\+ep, .*clear its ambient set/);
    await refused(at('file-caps'), { caps: ['net_admin'], noNewPrivileges: true }, /file capabilities cap_net_raw\+ep/);
  });

  it('checks the PATH candidate that runs', async () => {
    await refused('setuid-root', { env: { PATH: `/nonexistent:${dir}` } }, /set-user-ID root/);
  });

  it("accepts set-id bits that change nothing (the guest's own uid) or that noNewPrivileges voids", async () => {
    const uid = uidOf(user);
    expect((await inspect(at('setuid-self'), {})).Uid).toBe(`${uid}\t${uid}\t${uid}\t${uid}`);
    expect((await inspect(at('setuid-root'), { noNewPrivileges: true })).Uid).toBe(`${uid}\t${uid}\t${uid}\t${uid}`);
  });

  it('runs them with allowPrivilegedPrograms, getting what the kernel gives', async () => {
    const uid = uidOf(user);
    expect((await inspect(at('setuid-root'), { allowPrivilegedPrograms: true })).Uid).toBe(`${uid}\t0\t0\t0`);
    const caps = await inspect(at('file-caps'), { caps: ['net_admin'], allowPrivilegedPrograms: true });
    expect(caps.CapAmb).toBe('0000000000000000');
    expect(caps.CapEff).toBe('0000000000002000');
  });
});
