// stdio slots as log files: { file, append?, mode? }, opened by the daemon before the launch.
import {
  existsSync,
  linkSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  rmdirSync,
  rmSync,
  statSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { spawnGuest, type SpawnGuestOptions } from '../lib/index.js';
import { childrenOf, FIXTURE_USERS, isRoot, notRootReason, openFds } from './support/fixtures.js';
import { ensureCliBuilt, runCli } from './support/cli.js';

const user = FIXTURE_USERS.guest.name;
const unified = '/sys/fs/cgroup/unified';
const cgroupRoot = existsSync(join(unified, 'cgroup.procs')) ? unified : '/sys/fs/cgroup';

describe.runIf(isRoot)(`stdio log files (${notRootReason})`, () => {
  let dir: string;
  beforeAll(() => {
    ensureCliBuilt();
    // Only root may enter it: the guest writes its logs through the descriptors alone.
    dir = mkdtempSync(join(tmpdir(), 'capspawn-logs-'));
    mkdirSync(join(dir, 'private'), 0o700);
  });
  afterAll(() => rmSync(dir, { recursive: true }));

  async function sh(script: string, stdio: SpawnGuestOptions['stdio']) {
    const guest = await spawnGuest('/bin/sh', ['-c', script], { user, stdio });
    return guest.exited;
  }

  it('writes stdout to a file in a directory the guest cannot enter, created 0640', async () => {
    const log = join(dir, 'private', 'out.log');
    expect(
      await sh('echo hello; ls /proc/self/fd/1 >/dev/null && test ! -w ' + join(dir, 'private') + ' && echo no-access', [
        'ignore',
        { file: log },
        'ignore',
      ]),
    ).toEqual({ code: 0, signal: null });
    expect(readFileSync(log, 'utf8')).toBe('hello\nno-access\n');
    expect(statSync(log).mode & 0o7777).toBe(0o640);
  });

  it('creates with exactly the mode asked for, whatever this process umask is', async () => {
    const log = join(dir, 'wide.log');
    const old = process.umask(0o077);
    try {
      await sh('echo x', ['ignore', { file: log, mode: 0o664 }, 'ignore']);
    } finally {
      process.umask(old);
    }
    expect(statSync(log).mode & 0o7777).toBe(0o664);
  });

  it('truncates an existing file, unless append', async () => {
    const log = join(dir, 'again.log');
    writeFileSync(log, 'old line that is long\n');
    await sh('echo new', ['ignore', { file: log }, 'ignore']);
    expect(readFileSync(log, 'utf8')).toBe('new\n');
    await sh('echo more', ['ignore', { file: log, append: true }, 'ignore']);
    expect(readFileSync(log, 'utf8')).toBe('new\nmore\n');
  });

  it('one path for stdout and stderr is one open file description: lines stay in order', async () => {
    const log = join(dir, 'both.log');
    await sh('echo 1; echo 2 >&2; echo 3; echo 4 >&2; grep ^pos: /proc/self/fdinfo/2', ['ignore', { file: log }, { file: log }]);
    // Two descriptions would each start at offset 0 and overwrite each other.
    expect(readFileSync(log, 'utf8')).toBe('1\n2\n3\n4\npos:\t8\n');
  });

  it('{ file } on stdin is read', async () => {
    const input = join(dir, 'in.txt');
    const log = join(dir, 'cat.log');
    writeFileSync(input, 'from the file\n');
    await sh('cat', [{ file: input }, { file: log }, 'ignore']);
    expect(readFileSync(log, 'utf8')).toBe('from the file\n');
  });

  it('a file that cannot be opened is a SpawnGuestError at step open, before anything is spawned, with nothing left open', async () => {
    const before = openFds();
    await expect(sh('echo', ['ignore', { file: join(dir, 'ok.log') }, { file: join(dir, 'missing', 'err.log') }])).rejects.toMatchObject({
      name: 'SpawnGuestError',
      step: 'open',
      syscall: 'open',
      code: 'ENOENT',
      path: join(dir, 'missing', 'err.log'),
      option: 'stdio[2]',
    });
    await expect(sh('cat', [{ file: join(dir, 'no-input') }, 'ignore', 'ignore'])).rejects.toMatchObject({
      step: 'open',
      code: 'ENOENT',
      option: 'stdio[0]',
    });
    await expect(sh('echo', ['ignore', { file: join(dir, 'a.log') }, { file: join(dir, 'a.log'), append: true }])).rejects.toMatchObject({
      option: 'stdio[2].append',
    });
    expect(openFds()).toEqual(before);
    expect(childrenOf()).toEqual([]);
    expect(existsSync(join(dir, 'ok.log'))).toBe(false);
    expect(existsSync(join(dir, 'a.log'))).toBe(false);
  });

  describe('a launch that fails leaves the logs as they were', () => {
    const parent = join(cgroupRoot, `capspawn-test-logs-${process.pid}`);
    let kept: string;
    let appended: string;
    let fresh: string;
    beforeAll(() => mkdirSync(parent));
    afterAll(() => rmdirSync(parent));
    beforeEach(() => {
      kept = join(dir, 'kept.log');
      appended = join(dir, 'appended.log');
      fresh = join(dir, 'fresh.log');
      writeFileSync(kept, 'earlier run\n');
      writeFileSync(appended, 'earlier run\n');
      rmSync(fresh, { force: true });
    });

    async function refused(options: Partial<SpawnGuestOptions>, stdio: SpawnGuestOptions['stdio'], args = ['-c', 'echo ran']) {
      const before = openFds();
      const failure: unknown = await spawnGuest('/bin/sh', args, { user, stdio, ...options }).then(
        () => undefined,
        (error: unknown) => error,
      );
      expect(openFds()).toEqual(before);
      expect(childrenOf()).toEqual([]);
      return failure;
    }

    it('refused in this process (a cgroup name that exists): no file made, none truncated, the cgroup kept', async () => {
      mkdirSync(join(parent, 'taken'));
      try {
        const failure = await refused({ cgroup: { parent, name: 'taken' } }, ['ignore', { file: fresh }, { file: kept }]);
        expect(failure).toMatchObject({ step: 'cgroup', code: 'EEXIST' });
        expect(existsSync(join(parent, 'taken'))).toBe(true);
      } finally {
        rmdirSync(join(parent, 'taken'));
      }
      expect(existsSync(fresh)).toBe(false);
      expect(readFileSync(kept, 'utf8')).toBe('earlier run\n');
    });

    it("refused in this process (arguments beyond execve's limit): no file made, none truncated", async () => {
      const failure = await refused({}, ['ignore', { file: fresh }, { file: kept }], ['-c', 'x'.repeat(200_000)]);
      expect(failure).toMatchObject({ code: 'ERR_CAPSPAWN_E2BIG' });
      expect(existsSync(fresh)).toBe(false);
      expect(readFileSync(kept, 'utf8')).toBe('earlier run\n');
    });

    it('the second log cannot be opened: the first, made by the call, is removed; an existing one is not truncated; no cgroup left', async () => {
      const missing = join(dir, 'missing', 'err.log');
      expect(await refused({ cgroup: { parent, name: 'second' } }, ['ignore', { file: fresh }, { file: missing }])).toMatchObject({
        step: 'open',
        option: 'stdio[2]',
      });
      expect(existsSync(fresh)).toBe(false);
      expect(existsSync(join(parent, 'second'))).toBe(false);
      expect(await refused({}, ['ignore', { file: kept }, { file: missing }])).toMatchObject({ step: 'open', option: 'stdio[2]' });
      expect(readFileSync(kept, 'utf8')).toBe('earlier run\n');
    });

    it('refused in the child (a cwd the guest cannot enter): a log made by the call is removed, an appended one kept', async () => {
      const cwd = join(dir, 'private');
      expect(await refused({ cwd }, ['ignore', { file: fresh }, { file: appended, append: true }])).toMatchObject({
        step: 'chdir',
        code: 'EACCES',
      });
      expect(existsSync(fresh)).toBe(false);
      expect(readFileSync(appended, 'utf8')).toBe('earlier run\n');
    });

    it('refused in the child: an existing log without append is truncated, as StandardOutput=truncate: does', async () => {
      expect(await refused({ cwd: join(dir, 'private') }, ['ignore', { file: kept }, 'ignore'])).toMatchObject({ step: 'chdir' });
      expect(readFileSync(kept, 'utf8')).toBe('');
    });
  });

  it('one file however its path is spelled (./relative, a hard link, a linked directory) is one open file description', async () => {
    const log = join(dir, 'spelled.log');
    const relativeLog = relative(process.cwd(), log);
    const script = 'echo 1; echo 2 >&2; echo 3; grep ^pos: /proc/self/fdinfo/2';
    await sh(script, ['ignore', { file: log }, { file: `./${relativeLog}` }]);
    expect(readFileSync(log, 'utf8')).toBe('1\n2\n3\npos:\t6\n');
    linkSync(log, join(dir, 'hard.log'));
    await sh(script, ['ignore', { file: join(dir, 'hard.log') }, { file: relativeLog }]);
    expect(readFileSync(log, 'utf8')).toBe('1\n2\n3\npos:\t6\n');
    symlinkSync(dir, join(dir, 'linked-dir'));
    await sh(script, ['ignore', { file: join(dir, 'linked-dir', 'spelled.log') }, { file: log }]);
    expect(readFileSync(log, 'utf8')).toBe('1\n2\n3\npos:\t6\n');
  });

  it('does not follow a symbolic link in place of the log or the input: ELOOP, the target untouched', async () => {
    const target = join(dir, 'target.txt');
    writeFileSync(target, 'not a log\n');
    symlinkSync(target, join(dir, 'link.log'));
    symlinkSync(join(dir, 'nowhere'), join(dir, 'dangling.log'));
    const before = openFds();
    for (const [stdio, index] of [
      [['ignore', { file: join(dir, 'link.log') }, 'ignore'], 1],
      [['ignore', 'ignore', { file: join(dir, 'dangling.log') }], 2],
      [[{ file: join(dir, 'link.log') }, 'ignore', 'ignore'], 0],
    ] as const) {
      await expect(sh('echo overwritten', stdio as SpawnGuestOptions['stdio'])).rejects.toMatchObject({
        name: 'SpawnGuestError',
        step: 'open',
        code: 'ELOOP',
        option: `stdio[${index}]`,
        message: expect.stringContaining('symbolic link, which this process does not follow') as unknown,
      });
    }
    expect(readFileSync(target, 'utf8')).toBe('not a log\n');
    expect(existsSync(join(dir, 'nowhere'))).toBe(false);
    expect(openFds()).toEqual(before);
  });

  it.each([
    [[{ file: '/tmp/in', append: true }], 'stdio[0]'],
    [['ignore', { file: '' }], 'stdio[1].file'],
    [['ignore', { file: '/tmp/x', mode: 0o10000 }], 'stdio[1].mode'],
    [['ignore', { file: '/tmp/x', mode: '640' }], 'stdio[1].mode'],
    [['ignore', { file: '/tmp/x', truncate: true }], 'stdio[1].truncate'],
  ])('refuses %j at %s', async (stdio, option) => {
    await expect(spawnGuest('/bin/true', [], { user, stdio: stdio as never })).rejects.toMatchObject({ option });
  });

  it('capspawn --stdout FILE --stderr FILE --append', async () => {
    const log = join(dir, 'cli.log');
    writeFileSync(log, 'kept\n');
    const out = await runCli([
      '--user',
      user,
      '--stdout',
      log,
      '--stderr',
      log,
      '--append',
      '--',
      '/bin/sh',
      '-c',
      'echo out; echo err >&2',
    ]);
    expect(out).toMatchObject({ status: 0, stdout: '', stderr: '' });
    expect(readFileSync(log, 'utf8')).toBe('kept\nout\nerr\n');
    const separate = await runCli(['--user', user, '--stderr', log, '--', '/bin/sh', '-c', 'echo out; echo err >&2']);
    expect(separate).toMatchObject({ status: 0, stdout: 'out\n' });
    expect(readFileSync(log, 'utf8')).toBe('err\n');
  });
});
