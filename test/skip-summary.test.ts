// A contributor without root (or without qemu) learns why tests were skipped, group by group.
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { RunnerTestFile } from 'vitest/node';
import { describe, expect, it } from 'vitest';
import { skipReason, skipSummary } from './support/skip-summary-reporter.js';

const root = new URL('..', import.meta.url).pathname.replace(/\/$/, '');

function testFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) =>
    e.isDirectory() ? testFiles(join(dir, e.name)) : e.name.endsWith('.test.ts') ? [join(dir, e.name)] : [],
  );
}

describe('the skip summary at the end of npm test', () => {
  it('reads the reason a group gives in parentheses', () => {
    expect(skipReason('capspawn run (privileged: needs root to spawn as other users)')).toBe(
      'privileged: needs root to spawn as other users',
    );
    expect(skipReason('memory.max in a VM (no qemu-system-x86_64 (apt install qemu-system-x86))')).toBe(
      'no qemu-system-x86_64 (apt install qemu-system-x86)',
    );
    expect(skipReason('a test')).toBe('no reason given');
  });

  it('prints one line per skipped group, with its count and reason', () => {
    const test = (name: string, mode: string) => ({ type: 'test', name, mode, result: { state: mode === 'skip' ? 'skip' : 'pass' } });
    const suite = (name: string, mode: string, tasks: object[]) => {
      const s = { type: 'suite', name, mode, tasks };
      for (const t of tasks) Object.assign(t, { suite: s });
      return s;
    };
    const vm = suite('npm run test:vm (no KVM: /dev/kvm is missing)', 'skip', [test('a', 'skip')]);
    const privileged = suite('capspawn run (privileged: needs root to spawn as other users)', 'skip', [
      test('b', 'skip'),
      suite('nested', 'skip', [test('c', 'skip'), test('d', 'skip')]),
    ]);
    const plain = suite('unit', 'run', [test('e', 'run')]);
    const files = [
      { filepath: `${root}/test/vm.test.ts`, tasks: [vm] },
      { filepath: `${root}/test/run.test.ts`, tasks: [privileged, plain] },
    ] as unknown as RunnerTestFile[];
    expect(skipSummary(files, root)).toEqual([
      'skipped 1 test (no KVM: /dev/kvm is missing): test/vm.test.ts › npm run test:vm (no KVM: /dev/kvm is missing)',
      'skipped 3 tests (privileged: needs root to spawn as other users): test/run.test.ts › capspawn run (privileged: needs root to spawn as other users)',
    ]);
  });

  it('every conditional group in the suite states its reason in its name', () => {
    const unnamed: string[] = [];
    for (const file of testFiles(join(root, 'test'))) {
      const text = readFileSync(file, 'utf8');
      for (const m of text.matchAll(/\.(?:runIf|skipIf)\([^\n]*?\)\(\s*(['`"])([^\n]*?)\1/g)) {
        if (!/\)$/.test(m[2] ?? '')) unnamed.push(`${file.slice(root.length + 1)}: ${m[2]}`);
      }
    }
    expect(unnamed).toEqual([]);
  });
});
