import { defineConfig } from 'vitest/config';

const requirePrivileged = process.env.CAPSPAWN_REQUIRE_PRIVILEGED === '1';
// Inside the test VM (npm run test:vm) nothing boots another VM. The tests that fail on purpose
// (test/failing-fixtures/) run only when a test of the test machinery asks for them.
const inVm = process.env.CAPSPAWN_IN_VM === '1';
const failingFixtures = process.env.CAPSPAWN_FAILING_FIXTURES === '1';

export default defineConfig({
  test: {
    include: failingFixtures ? ['test/failing-fixtures/*.test.ts'] : ['test/**/*.test.ts'],
    exclude: [
      '**/node_modules/**',
      ...(failingFixtures ? [] : ['test/failing-fixtures/**']),
      // The bench smoke test measures this host's launchers; under emulation it only times out.
      // The docs and property tests are pure computation that the host run covers; under
      // emulation their synchronous stretches (45 s for 5,000 option normalisations) come near
      // vitest's fixed 60 s worker RPC timeout, which fails a run whose tests all passed.
      ...(inVm
        ? [
            'test/memory-limit.privileged.test.ts',
            'test/cgroup-limits-vm.privileged.test.ts',
            'test/vm-runner.privileged.test.ts',
            'test/guest-boot.privileged.test.ts',
            'test/bench.privileged.test.ts',
            'test/docs.test.ts',
            'test/hardening/properties.test.ts',
            'test/stall-guard.test.ts',
            // Packing and installing the tarball depends on no kernel, and the host run covers
            // x64 (its npm pack, which compiles the addon, took 20 minutes in the VM on a busy
            // host); the arm64 machine is the one place an arm64 install is tried.
            ...(process.arch === 'x64' ? ['test/package.privileged.test.ts'] : []),
          ]
        : []),
    ],
    globalSetup: ['test/support/global-setup.ts'],
    // A test that blocks its worker's event loop too long fails, named (test/support/stall-guard.ts).
    setupFiles: ['test/support/stall-guard.ts'],
    // Guests are real processes: one test file at a time keeps fd and child counts exact.
    pool: 'forks',
    // global.gc for tests that read memory after a full collection (test/hardening/load.privileged.test.ts).
    poolOptions: { forks: { execArgv: ['--expose-gc'] } },
    fileParallelism: false,
    // Software emulation in the test VM runs everything many times slower.
    testTimeout: inVm ? 600_000 : 30_000,
    hookTimeout: inVm ? 600_000 : 10_000,
    // The skip summary closes the run: one line per skipped group with its reason.
    reporters: requirePrivileged
      ? ['default', 'json', './test/support/skip-summary-reporter.ts']
      : ['default', './test/support/skip-summary-reporter.ts'],
    outputFile: requirePrivileged ? { json: 'test-results.json' } : undefined,
  },
});
