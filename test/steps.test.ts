import { describe, expect, it } from 'vitest';
import { loadNative } from '../lib/native.js';
import { STDIO_KINDS } from '../lib/launch-plan.js';
import { STEP_NAMES, stepName, VERIFY_ITEMS } from '../lib/steps.js';
import { TAP_OPS } from '../lib/tap.js';

describe('tables shared with native/', () => {
  it('step names: the same strings, in the same order, in native/steps.h and lib/steps.ts', () => {
    const native = loadNative();
    expect(native.steps).toEqual([...STEP_NAMES]);
    expect(native.verifyItems).toEqual([...VERIFY_ITEMS]);
  });

  it("stdio kinds: lib/launch-plan.ts's numbers are native/launch.h's StdioKind", () => {
    expect(loadNative().stdioKinds).toEqual(STDIO_KINDS);
  });

  it("TAP operations: lib/tap.ts's numbers are native/tap.h's TapOp", () => {
    expect(loadNative().tapOps).toEqual(TAP_OPS);
  });
});

describe('stepName', () => {
  it("names each step number as native/steps.h's list does", () => {
    loadNative().steps.forEach((name, index) => expect(stepName(index)).toBe(name));
  });

  it('refuses a step number lib/steps.ts does not name, rather than blame another step', () => {
    const unknown = STEP_NAMES.length;
    expect(() => stepName(unknown)).toThrow(
      expect.objectContaining({
        code: 'ERR_CAPSPAWN_NATIVE_MISMATCH',
        message: expect.stringMatching(
          new RegExp(`at step ${unknown}, a step its JavaScript does not name \\(the program was not run\\).*npm rebuild capspawn`),
        ),
      }),
    );
    expect(() => stepName(-1)).toThrow(expect.objectContaining({ code: 'ERR_CAPSPAWN_NATIVE_MISMATCH' }));
  });
});

describe('loadNative', () => {
  it('refuses other platforms with a clear error', () => {
    expect(() => loadNative('darwin')).toThrow(expect.objectContaining({ code: 'ERR_CAPSPAWN_UNSUPPORTED_PLATFORM', platform: 'darwin' }));
  });
});
