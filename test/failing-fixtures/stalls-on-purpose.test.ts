// Run only by test/stall-guard.test.ts (CAPSPAWN_FAILING_FIXTURES=1, a low
// CAPSPAWN_STALL_LIMIT_MS): a test that blocks its event loop, one that waits as long without, two
// that block shorter one after the other, and a beforeAll hook that blocks.
import { beforeAll, describe, expect, it } from 'vitest';

const HOLD_MS = Number(process.env.CAPSPAWN_STALL_FIXTURE_MS ?? 2000);

it('blocks its event loop on purpose', () => {
  Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, HOLD_MS);
});

it('waits as long asynchronously', async () => {
  await new Promise((resolve) => setTimeout(resolve, HOLD_MS));
});

let turned = false;
it('blocks briefly, the first of two', () => {
  Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, HOLD_MS * 0.3);
  setImmediate(() => (turned = true));
});

it('blocks briefly, the second of two, after the event loop turned', () => {
  expect(turned).toBe(true);
  Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, HOLD_MS * 0.3);
});

describe('a group whose beforeAll blocks', () => {
  beforeAll(() => {
    Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, HOLD_MS);
  });
  it('runs after it', () => {});
});
