// Run only by test/vm-runner.privileged.test.ts through npm run test:vm (CAPSPAWN_FAILING_FIXTURES=1):
// a test that fails, so the runner must exit non-zero.
import { expect, it } from 'vitest';

it('fails on purpose inside the VM', () => {
  expect(process.env.CAPSPAWN_IN_VM).toBe('1');
  expect('this test').toBe('failing on purpose');
});
