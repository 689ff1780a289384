// At the end of a run, one line per group of skipped tests with the reason its describe()
// gives in parentheses (not root; no qemu; no KVM), so a contributor without root sees why
// tests did not run, not only how many.
import type { Reporter, RunnerTask, RunnerTestFile } from 'vitest/node';

/** The reason a skipped group states: the last parenthesised part of its name. */
export function skipReason(name: string): string {
  const match = /\(([^()]*(?:\([^()]*\)[^()]*)*)\)\s*$/.exec(name);
  return match?.[1] ?? 'no reason given';
}

/** The outermost skipped suite above a skipped test, or the test itself. */
function skippedGroup(task: RunnerTask): RunnerTask {
  let group = task;
  for (let suite = task.suite; suite && suite.mode === 'skip' && suite.type === 'suite' && suite.name !== ''; suite = suite.suite)
    group = suite;
  return group;
}

export function skipSummary(files: readonly RunnerTestFile[], root: string): string[] {
  const groups = new Map<string, { count: number; reason: string }>();
  const visit = (task: RunnerTask, file: RunnerTestFile) => {
    if (task.type === 'suite') for (const child of task.tasks) visit(child, file);
    else if (task.mode === 'skip' || task.mode === 'todo' || task.result?.state === 'skip') {
      const group = skippedGroup(task);
      const key = `${file.filepath.replace(`${root}/`, '')} › ${group.name}`;
      const entry = groups.get(key) ?? { count: 0, reason: skipReason(group.name) };
      entry.count++;
      groups.set(key, entry);
    }
  };
  for (const file of files) for (const task of file.tasks) visit(task, file);
  return [...groups].map(([where, { count, reason }]) => `skipped ${count} test${count === 1 ? '' : 's'} (${reason}): ${where}`);
}

export default class SkipSummaryReporter implements Reporter {
  onFinished(files: RunnerTestFile[] = []): void {
    const lines = skipSummary(files, process.cwd());
    if (lines.length > 0) process.stdout.write(`\nWhy tests were skipped:\n${lines.map((l) => `  ${l}`).join('\n')}\n`);
  }
}
