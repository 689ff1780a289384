// The stall guard (test/support/stall-guard.ts, in every test file's setup): a test or hook that
// blocks its worker's event loop past the limit fails, named; one that waits as long without
// blocking passes, and so do two shorter blocks in a row, as the event loop turns between tests.
// Checked on a fixture (test/failing-fixtures/) run by a vitest of its own with a limit of 1 s.
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { packageRoot } from './support/cli.js';
import { runProgram } from './support/run.js';

interface Report {
  testResults: { status: string; message: string; assertionResults: { title: string; status: string; failureMessages: string[] }[] }[];
}

describe('the stall guard', () => {
  const dir = mkdtempSync(join(tmpdir(), 'capspawn-stall-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('fails a test and a beforeAll hook that hold the event loop 2 s, past a limit of 1 s; passes a 2 s wait and two 0.6 s blocks', async () => {
    const report = join(dir, 'report.json');
    // Its own report, not the outer run's test-results.json: no CAPSPAWN_REQUIRE_PRIVILEGED.
    const { CAPSPAWN_REQUIRE_PRIVILEGED: _, ...outer } = process.env;
    const env = { ...outer, CAPSPAWN_FAILING_FIXTURES: '1', CAPSPAWN_STALL_LIMIT_MS: '1000', CAPSPAWN_STALL_FIXTURE_MS: '2000' };
    const run = await runProgram(
      process.execPath,
      [
        'node_modules/vitest/vitest.mjs',
        'run',
        'test/failing-fixtures/stalls-on-purpose.test.ts',
        '--reporter=json',
        `--outputFile=${report}`,
      ],
      { cwd: packageRoot, env },
    );
    expect(run.status, run.stderr).toBe(1);
    const [file] = (JSON.parse(readFileSync(report, 'utf8')) as Report).testResults;
    const held = (what: string) =>
      new RegExp(`^${what} held this test worker's event loop for [12]\\.\\d s at once \\(the limit is 1 s\\)`);
    expect(file?.message).toMatch(held('this file outside its tests \\(its top level, a beforeAll or afterAll hook\\)'));
    const results = Object.fromEntries(file!.assertionResults.map((a) => [a.title, a]));
    expect(results['blocks its event loop on purpose']?.status).toBe('failed');
    expect(results['blocks its event loop on purpose']?.failureMessages[0]).toMatch(
      held('Error: the test "blocks its event loop on purpose"'),
    );
    expect(results['waits as long asynchronously']).toMatchObject({ status: 'passed', failureMessages: [] });
    expect(results['blocks briefly, the first of two']).toMatchObject({ status: 'passed', failureMessages: [] });
    expect(results['blocks briefly, the second of two, after the event loop turned']).toMatchObject({
      status: 'passed',
      failureMessages: [],
    });
    expect(results['runs after it']).toMatchObject({ status: 'passed', failureMessages: [] });
  });
});
