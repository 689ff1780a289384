import { describe, expect, it } from 'vitest';
import { loadNative } from '../lib/native.js';
import { STEP_NAMES, STEP_SYSCALLS, VERIFY_ITEMS } from '../lib/steps.js';

describe('step names', () => {
  it('are the same strings, in the same order, in native/steps.h and lib/steps.ts', () => {
    const native = loadNative();
    expect(native.steps).toEqual([...STEP_NAMES]);
    expect(native.verifyItems).toEqual([...VERIFY_ITEMS]);
  });

  it('each have a system call', () => {
    for (const step of STEP_NAMES) expect(STEP_SYSCALLS[step]).toMatch(/^[a-z_0-9]+$/);
  });
});

describe('loadNative', () => {
  it('refuses other platforms with a clear error', () => {
    expect(() => loadNative('darwin')).toThrow(expect.objectContaining({ code: 'ERR_CAPSPAWN_UNSUPPORTED_PLATFORM', platform: 'darwin' }));
  });
});
