import { defineConfig } from 'vitest/config';

const requirePrivileged = process.env.CAPSPAWN_REQUIRE_PRIVILEGED === '1';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    globalSetup: ['test/support/global-setup.ts'],
    // Guests are real processes: one test file at a time keeps fd and child counts exact.
    pool: 'forks',
    fileParallelism: false,
    testTimeout: 30_000,
    reporters: requirePrivileged ? ['default', 'json'] : ['default'],
    outputFile: requirePrivileged ? { json: 'test-results.json' } : undefined,
  },
});
