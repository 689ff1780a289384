// A cgroup of the guest's own: made under a parent, the guest's whole tree in it from the first
// instruction, killed and awaited as one, removed once empty. These hosts offer no controller
// but hugetlb in their cgroup v2 mount (the rest are on cgroup v1), so limits that need one are
// checked in the test VM (test/cgroup-limits-vm.privileged.test.ts).
import { once } from 'node:events';
import { existsSync, mkdirSync, readdirSync, readFileSync, rmdirSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { EVENTS_POLL_MS, FREEZE_DEADLINE_MS, treeTestHooks } from '../lib/cgroup-tree.js';
import { spawnGuest, type Guest, type SpawnGuestOptions } from '../lib/index.js';
import { alive, FIXTURE_USERS, isRoot, notRootReason } from './support/fixtures.js';

const user = FIXTURE_USERS.guest.name;
const unified = '/sys/fs/cgroup/unified';
const cgroupRoot = existsSync(join(unified, 'cgroup.procs')) ? unified : '/sys/fs/cgroup';

/**
 * A guest that starts a child, a double-forked orphan (its parent exits at once), and a shell
 * that ignores SIGTERM with a child of its own (an ignored signal stays ignored across execve):
 * five processes once it prints "ready".
 */
const TREE_SCRIPT = `sleep 300 &
(sleep 300 &)
sh -c 'trap "" TERM; sleep 300 & wait' &
echo ready
wait`;

/** Waits until `check()` holds, asking every 20 ms, at most `tries` times. */
async function until(check: () => boolean, tries = 500): Promise<boolean> {
  for (let i = 0; i < tries; i++) {
    if (check()) return true;
    await new Promise((r) => setTimeout(r, 20));
  }
  return check();
}

function procsOf(dir: string): number[] {
  return readFileSync(join(dir, 'cgroup.procs'), 'latin1').split('\n').filter(Boolean).map(Number);
}

describe.runIf(isRoot)(`a cgroup of the guest's own (${notRootReason}; creates cgroups)`, () => {
  const parent = join(cgroupRoot, `capspawn-test-tree-${process.pid}`);
  const started: Guest[] = [];

  async function tree(options: Partial<SpawnGuestOptions> = {}): Promise<{ guest: Guest; pids: number[] }> {
    const guest = await spawnGuest('/bin/sh', ['-c', TREE_SCRIPT], {
      user,
      cgroup: { parent },
      stdio: ['ignore', 'pipe', 'inherit'],
      ...options,
    });
    started.push(guest);
    await once(guest.stdout!, 'data');
    expect(await until(() => procsOf(guest.cgroup!).length === 5)).toBe(true);
    return { guest, pids: procsOf(guest.cgroup!) };
  }

  beforeAll(() => mkdirSync(parent));
  afterEach(async () => {
    treeTestHooks.withoutCgroupKill = false;
    treeTestHooks.watchFailure = undefined;
    treeTestHooks.neverFrozen = false;
    treeTestHooks.eventsUnreadable = false;
    treeTestHooks.thawFailures = 0;
    for (const guest of started.splice(0)) {
      await guest.killTree().catch(() => false);
      await guest.treeExited;
    }
  });
  afterAll(() => {
    for (const entry of readdirSync(parent, { withFileTypes: true })) if (entry.isDirectory()) rmdirSync(join(parent, entry.name));
    rmdirSync(parent);
  });

  it('makes PARENT/capspawn-<pid>-<n> and starts the guest in it: guest.cgroup is its path; watched without a timer', async () => {
    const watches = () => process.getActiveResourcesInfo().filter((r) => r === 'FSEventWrap').length;
    const before = watches();
    const intervals = vi.spyOn(globalThis, 'setInterval');
    const { guest, pids } = await tree();
    // cgroup.events is watched with inotify: one watch more, and no timer set to read it.
    expect(watches()).toBe(before + 1);
    expect(intervals).not.toHaveBeenCalled();
    intervals.mockRestore();
    expect(guest.cgroup).toMatch(new RegExp(`^${parent}/capspawn-${process.pid}-\\d+$`));
    const path = `/${guest.cgroup!.slice(cgroupRoot.length + 1)}`;
    for (const pid of pids) expect(readFileSync(`/proc/${pid}/cgroup`, 'latin1')).toContain(`0::${path}\n`);
  });

  it('killTree() ends the guest, its children, a double-forked orphan and a SIGTERM ignorer; treeExited resolves; the directory is gone', async () => {
    const { guest, pids } = await tree();
    const dir = guest.cgroup!;
    expect(await guest.killTree()).toBe(true);
    await guest.treeExited;
    expect(alive(pids)).toEqual([]);
    expect(existsSync(dir)).toBe(false);
    expect(await guest.exited).toEqual({ code: null, signal: 'SIGKILL' });
    expect(await guest.killTree()).toBe(false);
  });

  it('without cgroup.kill (forced), freezes, signals each process through a pidfd and thaws: the same result', async () => {
    treeTestHooks.withoutCgroupKill = true;
    const { guest, pids } = await tree();
    const dir = guest.cgroup!;
    expect(await guest.killTree('SIGKILL')).toBe(true);
    await guest.treeExited;
    expect(alive(pids)).toEqual([]);
    expect(existsSync(dir)).toBe(false);
  });

  it('a tree that keeps forking cannot escape killTree on the freeze path: nothing is left and the directory is gone', async () => {
    treeTestHooks.withoutCgroupKill = true;
    const guest = await spawnGuest('/bin/sh', ['-c', 'while :; do sleep 1 & done'], { user, cgroup: { parent }, stdio: 'ignore' });
    started.push(guest);
    const dir = guest.cgroup!;
    expect(await until(() => procsOf(dir).length > 50)).toBe(true);
    const seen = procsOf(dir);
    expect(await guest.killTree()).toBe(true);
    expect(await settlesWithin(guest.treeExited!, 20_000)).toBe(true);
    expect(alive(seen)).toEqual([]);
    expect(existsSync(dir)).toBe(false);
  });

  it(
    `the freeze path signals anyway when frozen 1 has not come after FREEZE_DEADLINE_MS (${FREEZE_DEADLINE_MS} ms), as with a task in D state`,
    { timeout: 30_000 },
    async () => {
      treeTestHooks.withoutCgroupKill = true;
      treeTestHooks.neverFrozen = true;
      const { guest, pids } = await tree();
      const dir = guest.cgroup!;
      const start = performance.now();
      expect(await settlesWithin(guest.killTree('SIGTERM'), FREEZE_DEADLINE_MS + 5000)).toBe(true);
      expect(performance.now() - start).toBeGreaterThanOrEqual(FREEZE_DEADLINE_MS - 50);
      // SIGTERM reached each process: only the ignorer and its child stay, thawed.
      expect(await until(() => procsOf(dir).length === 2)).toBe(true);
      expect(readFileSync(join(dir, 'cgroup.events'), 'latin1')).toContain('frozen 0');
      expect(await settlesWithin(guest.killTree(), FREEZE_DEADLINE_MS + 5000)).toBe(true);
      expect(await settlesWithin(guest.treeExited!, 10_000)).toBe(true);
      expect(alive(pids)).toEqual([]);
      expect(existsSync(dir)).toBe(false);
    },
  );

  it.each(['throw', 'error'] as const)(
    'when the watch of cgroup.events fails (fs.watch: %s ENOSPC), treeExited still waits for populated 0, read on a timer',
    async (failure) => {
      treeTestHooks.watchFailure = failure;
      // The freeze path waits for `frozen 1`: the timer has to drive that wait too.
      treeTestHooks.withoutCgroupKill = true;
      const { guest, pids } = await tree();
      const dir = guest.cgroup!;
      expect(await settlesWithin(guest.treeExited!, 4 * EVENTS_POLL_MS)).toBe(false);
      expect(alive(pids)).toHaveLength(5);
      expect(existsSync(dir)).toBe(true);
      expect(await guest.killTree()).toBe(true);
      expect(await settlesWithin(guest.treeExited!, 10_000)).toBe(true);
      expect(alive(pids)).toEqual([]);
      expect(existsSync(dir)).toBe(false);
    },
  );

  it('when a read of cgroup.events fails (EMFILE), treeExited still comes: it is read on a timer until populated 0', async () => {
    const { guest, pids } = await tree();
    const dir = guest.cgroup!;
    // The read that follows the watch's last event (populated 0) fails, and no event comes again.
    treeTestHooks.eventsUnreadable = true;
    expect(await guest.killTree()).toBe(true);
    expect(await until(() => alive(pids).length === 0)).toBe(true);
    expect(await settlesWithin(guest.treeExited!, 4 * EVENTS_POLL_MS)).toBe(false);
    treeTestHooks.eventsUnreadable = false;
    expect(await settlesWithin(guest.treeExited!, 10_000)).toBe(true);
    expect(existsSync(dir)).toBe(false);
  });

  it('a thaw that fails (EMFILE) is tried again: the tree is not left frozen with its signal pending', async () => {
    const { guest, pids } = await tree();
    treeTestHooks.thawFailures = 2;
    const freeze = join(guest.cgroup!, 'cgroup.freeze');
    expect(await guest.killTree('SIGTERM')).toBe(true);
    // The first thaw failed: the freeze is still asked for.
    expect(treeTestHooks.thawFailures).toBe(1);
    expect(readFileSync(freeze, 'latin1').trim()).toBe('1');
    // Thawed on the timer's second try. cgroup.freeze is what to wait for, not cgroup.events:
    // while the processes SIGTERM killed leave, the kernel shows a frozen cgroup as `frozen 0`
    // until they are gone (seen on 5.10 and 6.1), thawed or not.
    expect(await until(() => readFileSync(freeze, 'latin1').trim() === '0')).toBe(true);
    expect(treeTestHooks.thawFailures).toBe(0);
    expect(await until(() => readFileSync(join(guest.cgroup!, 'cgroup.events'), 'latin1').includes('frozen 0'))).toBe(true);
    // The ignorer and its child run on.
    expect(await until(() => alive(pids).length === 2)).toBe(true);
  });

  it("killTree('SIGTERM') reaches every process (frozen meanwhile, then thawed): only the ignorer and its child stay", async () => {
    const { guest, pids } = await tree();
    expect(await guest.killTree('SIGTERM')).toBe(true);
    await guest.exited;
    expect(await until(() => procsOf(guest.cgroup!).length === 2)).toBe(true);
    expect(readFileSync(join(guest.cgroup!, 'cgroup.events'), 'latin1')).toContain('frozen 0');
    expect(alive(pids)).toHaveLength(2);
    await guest.killTree();
    await guest.treeExited;
    expect(alive(pids)).toEqual([]);
  });

  it(
    'disposal ends the whole tree, SIGKILL forceKillAfter after the SIGTERM it ignores, and waits for treeExited',
    { timeout: 60_000 },
    async () => {
      const { guest, pids } = await tree({ forceKillAfter: 500 });
      const dir = guest.cgroup!;
      await guest[Symbol.asyncDispose]();
      expect(alive(pids)).toEqual([]);
      expect(existsSync(dir)).toBe(false);
    },
  );

  /** Whether `promise` settles within `ms`: a tree that is never ended fails here, not by hanging. */
  async function settlesWithin(promise: Promise<unknown>, ms: number): Promise<boolean> {
    let timer: NodeJS.Timeout | undefined;
    const late = new Promise<false>((resolve) => (timer = setTimeout(() => resolve(false), ms)));
    const settled = await Promise.race([promise.then(() => true), late]);
    clearTimeout(timer);
    return settled;
  }

  it(
    'timeout ends the whole tree: killSignal to every process, SIGKILL to the SIGTERM ignorer forceKillAfter later',
    { timeout: 120_000 },
    async () => {
      // The timeout runs from the launch: on a slow machine it can fire before the tree is up
      // (the SIGTERM ignorer not yet ignoring), which proves nothing; such a run is tried again
      // with a longer timeout.
      let built: { guest: Guest; pids: number[] } | undefined;
      for (const timeout of [300, 3000, 30_000]) {
        const guest = await spawnGuest('/bin/sh', ['-c', TREE_SCRIPT], {
          user,
          cgroup: { parent },
          stdio: ['ignore', 'pipe', 'inherit'],
          timeout,
          forceKillAfter: 500,
        });
        started.push(guest);
        const ended = () => guest.exitCode !== null || guest.signalCode !== null;
        const whole = () => {
          try {
            return procsOf(guest.cgroup!).length === 5;
          } catch {
            return false;
          }
        };
        const ready = await Promise.race([once(guest.stdout!, 'data').then(() => true), guest.exited.then(() => false)]);
        guest.stdout!.resume();
        if (ready && (await until(() => whole() || ended())) && whole()) {
          built = { guest, pids: procsOf(guest.cgroup!) };
          break;
        }
        await guest.treeExited;
      }
      if (!built) throw new Error('the tree was never up before its timeout, even at 30 s');
      const { guest, pids } = built;
      const dir = guest.cgroup!;
      expect(await guest.exited).toEqual({ code: null, signal: 'SIGTERM' });
      expect(await settlesWithin(guest.treeExited!, 20_000)).toBe(true);
      expect(alive(pids)).toEqual([]);
      expect(existsSync(dir)).toBe(false);
    },
  );

  it('aborting the signal ends the whole tree, with the same SIGKILL escalation', { timeout: 60_000 }, async () => {
    const controller = new AbortController();
    const { guest, pids } = await tree({ signal: controller.signal, forceKillAfter: 500 });
    const dir = guest.cgroup!;
    controller.abort();
    expect(await guest.exited).toEqual({ code: null, signal: 'SIGTERM' });
    expect(await settlesWithin(guest.treeExited!, 20_000)).toBe(true);
    expect(alive(pids)).toEqual([]);
    expect(existsSync(dir)).toBe(false);
  });

  it('timeout still ends what the guest left behind when the first process has exited on its own', { timeout: 60_000 }, async () => {
    const guest = await spawnGuest('/bin/sh', ['-c', `(sh -c 'trap "" TERM; sleep 300 & wait' &); echo ready`], {
      user,
      cgroup: { parent },
      stdio: ['ignore', 'pipe', 'inherit'],
      timeout: 1000,
      forceKillAfter: 500,
    });
    started.push(guest);
    expect(await guest.exited).toEqual({ code: 0, signal: null });
    expect(await until(() => procsOf(guest.cgroup!).length === 2)).toBe(true);
    const pids = procsOf(guest.cgroup!);
    const dir = guest.cgroup!;
    expect(await settlesWithin(guest.treeExited!, 20_000)).toBe(true);
    expect(alive(pids)).toEqual([]);
    expect(existsSync(dir)).toBe(false);
  });

  it('a tree that ends before its timeout is left alone and nothing fires later', async () => {
    // /bin/true took more than 200 ms to exit in a VM on a host busy with three others: the
    // timeout leaves it ten times that, and the test waits past it.
    const guest = await spawnGuest('/bin/true', [], { user, cgroup: { parent }, stdio: 'ignore', timeout: 2000, forceKillAfter: 100 });
    started.push(guest);
    await guest.treeExited;
    await new Promise((r) => setTimeout(r, 2500));
    expect(guest.killed).toBe(false);
  });

  it('keep: true leaves the empty directory; a name given is used as is', async () => {
    const name = `kept-${process.pid}`;
    const guest = await spawnGuest('/bin/true', [], { user, cgroup: { parent, name, keep: true }, stdio: 'ignore' });
    expect(guest.cgroup).toBe(join(parent, name));
    await guest.treeExited;
    expect(existsSync(join(parent, name))).toBe(true);
    expect(procsOf(join(parent, name))).toEqual([]);
    rmdirSync(join(parent, name));
  });

  it('refuses a name that exists, creating nothing', async () => {
    const name = `taken-${process.pid}`;
    mkdirSync(join(parent, name));
    try {
      await expect(spawnGuest('/bin/true', [], { user, cgroup: { parent, name }, stdio: 'ignore' })).rejects.toMatchObject({
        name: 'SpawnGuestError',
        code: 'EEXIST',
        step: 'cgroup',
        syscall: 'mkdir',
        path: join(parent, name),
      });
    } finally {
      rmdirSync(join(parent, name));
    }
    expect(readdirSync(parent, { withFileTypes: true }).filter((e) => e.isDirectory())).toEqual([]);
  });

  it('removes the cgroup it made when the launch fails in the child', async () => {
    await expect(spawnGuest('/bin/true', [], { user, cwd: '/root', cgroup: { parent }, stdio: 'ignore' })).rejects.toMatchObject({
      step: 'chdir',
    });
    expect(readdirSync(parent, { withFileTypes: true }).filter((e) => e.isDirectory())).toEqual([]);
  });

  it('names a controller the parent does not enable for its children, and how to enable it, before creating anything', async () => {
    // The parent was just made: its cgroup.subtree_control is empty on every host. Whether it has
    // pids at all depends on the host (a pure cgroup v2 root offers it; a hybrid one cannot).
    const has = readFileSync(join(parent, 'cgroup.controllers'), 'latin1').split(/\s+/).includes('pids');
    expect(readFileSync(join(parent, 'cgroup.subtree_control'), 'latin1').trim()).toBe('');
    await expect(
      spawnGuest('/bin/true', [], { user, cgroup: { parent, limits: { 'pids.max': 16 } }, stdio: 'ignore' }),
    ).rejects.toMatchObject({
      name: 'RangeError',
      code: 'ERR_CAPSPAWN_CGROUP_CONTROLLER',
      option: 'cgroup.limits.pids.max',
      message: has
        ? expect.stringMatching(/pids controller, which \S+ does not enable for its children: echo \+pids > /)
        : expect.stringMatching(/pids controller, which \S+ does not have.*cgroup_no_v1=pids/s),
    });
    expect(readdirSync(parent, { withFileTypes: true }).filter((e) => e.isDirectory())).toEqual([]);
  });

  it('names a controller the parent lacks, and how to get it, before creating anything: on every host', async () => {
    // A cgroup below the new parent has only what the parent enables for it: nothing.
    const bare = join(parent, `no-controllers-${process.pid}`);
    mkdirSync(bare);
    try {
      expect(readFileSync(join(bare, 'cgroup.controllers'), 'latin1').trim()).toBe('');
      await expect(
        spawnGuest('/bin/true', [], { user, cgroup: { parent: bare, limits: { 'pids.max': 16 } }, stdio: 'ignore' }),
      ).rejects.toMatchObject({
        name: 'RangeError',
        code: 'ERR_CAPSPAWN_CGROUP_CONTROLLER',
        option: 'cgroup.limits.pids.max',
        message: expect.stringMatching(
          new RegExp(`pids controller, which ${bare} does not have \\(its cgroup.controllers: none\\).*cgroup_no_v1=pids`, 's'),
        ),
      });
      expect(readdirSync(bare, { withFileTypes: true }).filter((e) => e.isDirectory())).toEqual([]);
    } finally {
      rmdirSync(bare);
    }
  });

  it('killTree of a guest without a cgroup of its own or a session is a clear error; a detached one signals its process group', async () => {
    const plain = await spawnGuest('/bin/sleep', ['300'], { user, stdio: 'ignore' });
    await expect(plain.killTree()).rejects.toMatchObject({
      code: 'ERR_CAPSPAWN_NO_TREE',
      message: expect.stringContaining('cgroup: { parent }'),
    });
    expect(plain.treeExited).toBeNull();
    plain.kill('SIGKILL');
    await plain.exited;

    const detached = await spawnGuest('/bin/sh', ['-c', 'sleep 300 & echo $!; wait'], {
      user,
      detached: true,
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    const [line] = (await once(detached.stdout!, 'data')) as [Buffer];
    const child = Number(line.toString().trim());
    expect(await detached.killTree('SIGKILL')).toBe(true);
    await detached.exited;
    expect(await until(() => alive([child]).length === 0)).toBe(true);
    expect(await detached.killTree()).toBe(false);
  });
});
