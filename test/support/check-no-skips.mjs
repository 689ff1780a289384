// CI gate: reads vitest's JSON report and fails when any test failed or was skipped, so a
// privileged test that silently skipped can never pass CI. Prints the closing count line.
import { readFileSync } from 'node:fs';

const report = JSON.parse(readFileSync(process.argv[2] ?? 'test-results.json', 'utf8'));
const counts = { passed: 0, failed: 0, skipped: 0 };
const skipped = [];
for (const file of report.testResults) {
  for (const test of file.assertionResults) {
    if (test.status === 'passed') counts.passed++;
    else if (test.status === 'failed') counts.failed++;
    else {
      counts.skipped++;
      skipped.push(`${file.name.replace(process.cwd() + '/', '')}: ${test.fullName} (${test.status})`);
    }
  }
}
for (const line of skipped) console.error(`skipped: ${line}`);
if (counts.passed + counts.failed === 0) console.error('no test ran');
console.log(`vitest: ${counts.passed} passed, ${counts.failed} failed, ${counts.skipped} skipped`);
process.exit(counts.failed === 0 && counts.skipped === 0 && counts.passed > 0 ? 0 : 1);
