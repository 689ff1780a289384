// Load: thousands of launches leave nothing behind (fds, handles, zombies, mappings), many
// concurrent launches for different users never mix their credentials up, and Node's own
// child_process keeps every 'exit' event beside them. No timing is asserted; figures are printed.
import { spawn } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { getHeapStatistics } from 'node:v8';
import { describe, expect, it } from 'vitest';
import { spawnGuest, type CapabilitySpec } from '../../lib/index.js';
import { childrenOf, FIXTURE_GROUPS, FIXTURE_USERS, gidOf, isRoot, notRootReason, openFds, uidOf } from '../support/fixtures.js';
import { parseInspection, runGuest, inspectPath } from '../support/guests.js';

// Inside the software-emulated test VM (npm run test:vm) every spawn is some 20 times slower, so
// the same checks run at a tenth of the scale there; npm test runs them in full.
const SCALE = process.env.CAPSPAWN_IN_VM === '1' ? 10 : 1;
const CYCLES = 10_000 / SCALE;
const CONCURRENT = 1_000 / SCALE;

/** Runs `task(i)` for i < count with at most `width` in flight. */
async function pool(count: number, width: number, task: (i: number) => Promise<void>): Promise<void> {
  let next = 0;
  await Promise.all(
    Array.from({ length: width }, async () => {
      while (next < count) await task(next++);
    }),
  );
}

function mappings(): number {
  return readFileSync('/proc/self/maps', 'latin1').split('\n').length;
}

function underAddressSanitizer(): boolean {
  return readFileSync('/proc/self/maps', 'latin1').includes('libasan');
}

function snapshot() {
  // Two full collections first (vitest.config.ts gives test processes --expose-gc), so that the
  // heap figures count what is kept, not garbage not yet collected.
  const gc = (globalThis as { gc?: () => void }).gc;
  if (!gc) throw new Error('load.privileged.test.ts needs node --expose-gc (set in vitest.config.ts)');
  gc();
  gc();
  const memory = process.memoryUsage();
  return {
    fds: openFds(),
    resources: process.getActiveResourcesInfo().filter((r) => r !== 'TTYWrap').length,
    children: childrenOf(),
    rss: memory.rss,
    // The V8 heap's pages in memory, not its committed size (heapTotal): committed pages never
    // touched are not in RSS, so a heap that shrinks them away during the run would make the
    // memory outside it look larger by their size.
    heapPhysical: getHeapStatistics().total_physical_size,
    heapTotal: memory.heapTotal,
    heapUsed: memory.heapUsed,
    mappings: mappings(),
  };
}

describe.runIf(isRoot)(`load (${notRootReason})`, () => {
  it(
    `${CYCLES} spawn-and-exit cycles beside child_process: fds, handles and zombies return to where they were`,
    { timeout: 240_000 * SCALE },
    async () => {
      const user = FIXTURE_USERS.guest.name;
      const cycle = async () => {
        const guest = await spawnGuest('/bin/true', [], { user, stdio: 'ignore' });
        const exit = await guest.exited;
        if (exit.code !== 0) throw new Error(`guest exited ${exit.code ?? exit.signal}`);
      };
      // Warm up (addon loaded, caches filled, V8 heap grown) before the baseline, at full scale
      // everywhere: what fills once takes about 1,000 launches to fill. In the emulated arm64
      // machine, RSS outside the V8 heap grew 2.8 and 4.3 MiB over the first two runs of 500
      // launches after a warm-up of 200, then -12 KiB and +716 KiB over the next two; 200 were
      // too few, and both halves of the 1,000 cycles measured there came out above 4 KiB per
      // spawn (6169 and 4727). On this host the same: +4.9 MiB over the first 1,000, then flat.
      await pool(1_000, 4, cycle);
      const before = snapshot();

      // child_process.spawn all along, in the same process: every one of its 'exit' events fires.
      let nodeSpawned = 0;
      let nodeExited = 0;
      let running = true;
      const nodeChildren = (async () => {
        while (running) {
          nodeSpawned++;
          await new Promise<void>((resolve, reject) => {
            const child = spawn('/bin/true', { stdio: 'ignore' });
            child.once('error', reject);
            child.once('exit', (code) => {
              nodeExited++;
              if (code === 0) resolve();
              else reject(new Error(`child_process exit ${code}`));
            });
          });
        }
      })();

      // In two halves: memory is judged on the second, after the first has filled what fills
      // once (malloc arenas, thread stacks, caches); a leak grows in both alike.
      const half = Math.ceil(CYCLES / 2);
      await pool(half, 6, cycle);
      const mid = snapshot();
      await pool(CYCLES - half, 6, cycle);
      running = false;
      await nodeChildren;
      // Let the last streams and handles close.
      await new Promise((resolve) => setTimeout(resolve, 200));
      const after = snapshot();

      const rssGrowth = after.rss - before.rss;
      // RSS less the V8 heap's pages in memory: memory outside V8 (the addon's, libuv's, malloc's).
      // V8 grows its heap in steps (the young generation doubles once or twice under load), which
      // on a run of 1,000 cycles (the test VM) is several KiB per spawn and says nothing of a leak.
      // A heap that shrinks is not subtracted: V8 keeps the pages it frees in a pool before it
      // gives them back, so its physical size drops while RSS does not (seen in the emulated arm64
      // machine: heap in memory -2044 bytes per spawn, RSS +3125, which would read as 5169 outside).
      type Snapshot = ReturnType<typeof snapshot>;
      const outside = (from: Snapshot, to: Snapshot) => to.rss - from.rss - Math.max(0, to.heapPhysical - from.heapPhysical);
      const outsideHeapGrowth = outside(before, after);
      const firstHalf = outside(before, mid) / half;
      const secondHalf = outside(mid, after) / (CYCLES - half);
      const heapUsedGrowth = after.heapUsed - before.heapUsed;
      const perSpawn = (bytes: number) => `${(bytes / CYCLES).toFixed(0)} bytes per spawn`;
      console.log(
        `load: ${CYCLES} cycles; fds ${before.fds.length} -> ${after.fds.length}; active resources ${before.resources} -> ${after.resources}; ` +
          `children ${before.children.length} -> ${after.children.length}; mappings ${before.mappings} -> ${after.mappings}; ` +
          `RSS ${(before.rss / 2 ** 20).toFixed(1)} -> ${(after.rss / 2 ** 20).toFixed(1)} MiB (${perSpawn(rssGrowth)}); ` +
          `outside the V8 heap ${perSpawn(outsideHeapGrowth)}, in the halves ${firstHalf.toFixed(0)} and ${secondHalf.toFixed(0)} bytes per spawn (V8 heap in memory ${perSpawn(after.heapPhysical - before.heapPhysical)}, ` +
          `committed ${perSpawn(after.heapTotal - before.heapTotal)}); V8 heap used after full GC ${perSpawn(heapUsedGrowth)}; ` +
          `child_process beside: ${nodeSpawned} spawned, ${nodeExited} exit events`,
      );
      expect(after.fds).toEqual(before.fds);
      expect(after.resources).toBe(before.resources);
      expect(after.children).toEqual([]);
      expect(nodeExited).toBe(nodeSpawned);
      expect(nodeSpawned).toBeGreaterThan(100);
      // A leaked child stack or shared page per launch would add a mapping (or two) each time.
      expect(after.mappings - before.mappings).toBeLessThan(CYCLES / 10);
      // Leaking even a 4 KiB page per launch outside the V8 heap would show here. Under
      // AddressSanitizer (npm run test:sanitize) freed memory sits in ASan's quarantine, so RSS
      // says nothing there; the mappings above still do.
      // A leak grows in both halves alike; what fills once (malloc arenas for threads that ran
      // at the same time for the first time, say) grows in one. The emulated arm64 machine showed
      // 5104 bytes per spawn over all 1,000 cycles with the V8 heap unchanged; the VM on a host
      // busy with two other VMs -704 in the first half and 6308 in the second (2802 overall).
      if (!underAddressSanitizer()) expect(Math.min(firstHalf, secondHalf)).toBeLessThan(4096);
      // And JavaScript objects kept per launch would show in the heap that survives a full
      // collection: a Guest kept after its exit is about 880 bytes (with stdio 'ignore'). The
      // allowance is for what V8 keeps once (compiled code, feedback), about 200 KiB measured.
      expect(heapUsedGrowth).toBeLessThan(256 * 1024 + 512 * CYCLES);
    },
  );

  it(
    `${CYCLES / 10} spawn-and-exit cycles on a terminal of the guest's own: no pty, fd or child left behind`,
    { timeout: 240_000 * SCALE },
    async () => {
      const user = FIXTURE_USERS.guest.name;
      const ptys = () => readdirSync('/dev/pts').filter((n) => /^\d+$/.test(n)).length;
      const cycle = async () => {
        const guest = await spawnGuest('/bin/sh', ['-c', 'echo ok'], { user, terminal: { cols: 80, rows: 24 } });
        let out = '';
        guest.terminal?.on('data', (d: Buffer) => (out += d.toString()));
        const closed = new Promise((resolve) => guest.terminal?.once('close', resolve));
        const exit = await guest.exited;
        await closed;
        if (exit.code !== 0 || !out.includes('ok'))
          throw new Error(`terminal guest exited ${exit.code ?? exit.signal}, wrote ${JSON.stringify(out)}`);
      };
      await pool(20, 4, cycle);
      const before = { fds: openFds(), ptys: ptys(), children: childrenOf() };
      await pool(CYCLES / 10, 4, cycle);
      await new Promise((resolve) => setTimeout(resolve, 200));
      const after = { fds: openFds(), ptys: ptys(), children: childrenOf() };
      console.log(
        `load, terminal: ${CYCLES / 10} cycles; fds ${before.fds.length} -> ${after.fds.length}; ptys ${before.ptys} -> ${after.ptys}`,
      );
      expect(after.fds).toEqual(before.fds);
      expect(after.children).toEqual([]);
      // Other sessions on the machine may open or close ptys meanwhile; ours would add one each.
      expect(after.ptys - before.ptys).toBeLessThan(CYCLES / 100);
    },
  );

  it(
    `${CONCURRENT} concurrent launches alternating two users and two capability sets: each child has exactly its own`,
    { timeout: 240_000 * SCALE },
    async () => {
      const variants: {
        user: string;
        primaryGroup: string;
        supplementaryGroups: (string | number)[];
        caps: CapabilitySpec[];
        amb: string;
      }[] = [
        {
          user: FIXTURE_USERS.guest.name,
          primaryGroup: FIXTURE_GROUPS.primary,
          supplementaryGroups: [FIXTURE_GROUPS.extra],
          caps: ['net_admin'],
          amb: '0000000000001000',
        },
        {
          user: FIXTURE_USERS.second.name,
          primaryGroup: FIXTURE_GROUPS.other,
          supplementaryGroups: [FIXTURE_GROUPS.net, 4242],
          caps: ['net_raw', 'syslog'],
          amb: '0000000400002000',
        },
      ];
      const fdsBefore = openFds();
      const seen = await Promise.all(
        Array.from({ length: CONCURRENT }, async (_, i) => {
          const v = variants[i % 2]!;
          const out = await runGuest(inspectPath(), [], {
            user: v.user,
            primaryGroup: v.primaryGroup,
            supplementaryGroups: v.supplementaryGroups,
            caps: v.caps,
            env: { INDEX: String(i) },
          });
          if (out.code !== 0) throw new Error(`inspector ${i} exited ${out.code ?? out.signal}: ${out.stderr}`);
          return { i, v, status: parseInspection(out.stdout).status, environ: parseInspection(out.stdout).environ };
        }),
      );
      // Each variant's ids looked up once: a getent per child (spawnSync) would hold this worker's
      // event loop for seconds, and under the test VM's emulation past vitest's 60 s RPC timeout.
      const expected = new Map(
        variants.map((v) => [
          v,
          {
            uid: uidOf(v.user),
            gid: gidOf(v.primaryGroup),
            groups: v.supplementaryGroups.map((g) => (typeof g === 'number' ? g : gidOf(g))).sort((a, b) => a - b),
          },
        ]),
      );
      for (const { i, v, status, environ } of seen) {
        const { uid, gid, groups } = expected.get(v)!;
        expect(environ).toContain(`INDEX=${i}`);
        expect(status.Uid).toBe(`${uid}\t${uid}\t${uid}\t${uid}`);
        expect(status.Gid).toBe(`${gid}\t${gid}\t${gid}\t${gid}`);
        expect(status.Groups?.trim()).toBe(groups.join(' '));
        for (const set of ['CapInh', 'CapPrm', 'CapEff', 'CapAmb']) expect(status[set], `${i} ${set}`).toBe(v.amb);
      }
      expect(childrenOf()).toEqual([]);
      await new Promise((resolve) => setTimeout(resolve, 100));
      expect(openFds()).toEqual(fdsBefore);
    },
  );
});
