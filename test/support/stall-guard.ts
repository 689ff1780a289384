// Every test file's setup (vitest.config.ts setupFiles): the event loop turns before each test,
// and a test, hook or file that holds it too long at once fails, named. A synchronous wait
// (spawnSync, execFileSync, a long loop) that outlasts vitest's fixed 60 s worker RPC timeout
// fails the whole run with an unnamed "Timeout calling onTaskUpdate", although every test passed;
// under the test VM's emulation one node start takes seconds, so waits that are short here are
// not short there. vitest itself goes from one test to the next without letting the event loop
// turn, so synchronous tests in a row would add up to one stall: the turn before each test keeps
// them apart. The limit is 45 s in the test VM, under vitest's 60 s, and 15 s on the host, where
// the longest test stall is 3.2 s (docs.test.ts type-checking the README); CAPSPAWN_STALL_LIMIT_MS
// sets another.
import { afterAll, afterEach, beforeEach } from 'vitest';

const TICK_MS = 100;
const limitMs = Number(process.env.CAPSPAWN_STALL_LIMIT_MS) || (process.env.CAPSPAWN_IN_VM === '1' ? 45_000 : 15_000);
// Captured now, before any test may replace the timers with fake ones.
const now = performance.now.bind(performance);
const every = setInterval;
const turn = setImmediate;

let lastTick = now();
let running = false;
/** The longest stall of the running test (its beforeEach and afterEach hooks included). */
let inTest = 0;
/** The longest stall outside tests: the file's top level, beforeAll and afterAll hooks. */
let outside = 0;

/** Counts the time since the last tick: to the running test, or to the file outside tests. */
function fold(): void {
  const at = now();
  const stall = at - lastTick - TICK_MS;
  if (running) inTest = Math.max(inTest, stall);
  else outside = Math.max(outside, stall);
  lastTick = at;
}
every(fold, TICK_MS).unref();

function check(stall: number, what: string): void {
  if (stall < limitMs) return;
  throw new Error(
    `${what} held this test worker's event loop for ${(stall / 1000).toFixed(1)} s at once (the limit is ${limitMs / 1000} s): ` +
      'wait for programs asynchronously (test/support/run.ts), or vitest fails the run when its worker cannot answer for 60 s',
  );
}

beforeEach(async () => {
  await new Promise((resolve) => turn(resolve));
  fold();
  running = true;
  inTest = 0;
});
afterEach((context) => {
  fold();
  running = false;
  check(inTest, `the test "${context.task.name}"`);
});
afterAll(() => {
  fold();
  check(outside, 'this file outside its tests (its top level, a beforeAll or afterAll hook)');
});
