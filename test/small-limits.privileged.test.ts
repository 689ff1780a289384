// Resource limits as small as the program itself can run with do not break capspawn's own
// steps in the child: what the child opens after prlimit is opened before it.
import { existsSync, mkdirSync, rmdirSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { SpawnGuestOptions } from '../lib/index.js';
import { testHooks } from '../lib/launch-plan.js';
import { FIXTURE_USERS, isRoot, notRootReason } from './support/fixtures.js';
import { runGuest } from './support/guests.js';

const user = FIXTURE_USERS.second.name;
const unified = '/sys/fs/cgroup/unified';
const cgroupRoot = existsSync(join(unified, 'cgroup.procs')) ? unified : '/sys/fs/cgroup';

describe.runIf(isRoot)(`small resource limits (${notRootReason})`, () => {
  const cgroup = join(cgroupRoot, `capspawn-small-limits-${process.pid}`);
  beforeAll(() => mkdirSync(cgroup));
  afterAll(() => rmdirSync(cgroup));

  const runs = async (options: Partial<SpawnGuestOptions>) => {
    const out = await runGuest('/bin/true', [], { user, stdio: 'ignore', ...options });
    expect(out).toMatchObject({ code: 0, signal: null });
  };

  it('nofile 4 runs /bin/true with oom_score_adj set and verified', () => runs({ rlimits: { nofile: 4 }, oomScoreAdj: 100 }));
  it('nofile 10 runs /bin/true in a cgroup of its own, verified', () => runs({ rlimits: { nofile: 10 }, cgroup }));
  it('nofile 4 with every placement step at once', () => runs({ rlimits: { nofile: 4 }, cgroup, oomScoreAdj: 100, nice: 5 }));
  it('nproc 1', () => runs({ rlimits: { nproc: 1 }, oomScoreAdj: 100 }));
  it('fsize 0', () => runs({ rlimits: { fsize: 0 }, oomScoreAdj: 100, cgroup }));
  it('as 16 MiB', () => runs({ rlimits: { as: 16 * 1024 * 1024 }, oomScoreAdj: 100, cgroup }));
  it('stack 64 KiB', () => runs({ rlimits: { stack: 64 * 1024 }, oomScoreAdj: 100, cgroup }));
  it('nofile 4 through the /proc/self/fd walk that kernels before 5.11 take', async () => {
    testHooks.walkFds = true;
    try {
      await runs({ rlimits: { nofile: 4 }, oomScoreAdj: 100, cgroup });
    } finally {
      testHooks.walkFds = false;
    }
  });
});
