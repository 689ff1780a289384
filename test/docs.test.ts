// Every TypeScript example in the README and the guides type-checks against the real API.
import { mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import ts from 'typescript';
import { afterAll, describe, expect, it } from 'vitest';

const root = new URL('..', import.meta.url).pathname;
const documents = ['README.md', ...readdirSync(join(root, 'docs', 'guides')).map((f) => join('docs', 'guides', f))];
const scratch = join(root, 'test', '.doc-examples');

function examples(document: string): string[] {
  const text = readFileSync(join(root, document), 'utf8');
  return [...text.matchAll(/```ts\n([\s\S]*?)```/g)].map((m) => m[1] ?? '');
}

// Each document is a TypeScript program of its own over the whole library: seconds on an idle
// machine, past 30 s with other work on both CPUs. The timeout only guards against a hang.
describe('documentation examples', { timeout: 300_000 }, () => {
  afterAll(() => rmSync(scratch, { recursive: true, force: true }));

  it.each(documents)('%s: every ts block type-checks', (document) => {
    const blocks = examples(document);
    const dir = join(scratch, document.replace(/[/.]/g, '_'));
    mkdirSync(dir, { recursive: true });
    const files = blocks.map((code, i) => {
      const file = join(dir, `example-${i}.ts`);
      // Each block is a module on its own (top-level await, its own imports).
      writeFileSync(file, `${code}\nexport {};\n`);
      return file;
    });
    const program = ts.createProgram(files, {
      strict: true,
      noEmit: true,
      target: ts.ScriptTarget.ES2022,
      lib: ['lib.es2022.d.ts', 'lib.esnext.disposable.d.ts'],
      module: ts.ModuleKind.ESNext,
      moduleResolution: ts.ModuleResolutionKind.Bundler,
      types: ['node'],
      typeRoots: [join(root, 'node_modules', '@types')],
      skipLibCheck: true,
      paths: { capspawn: [join(root, 'lib', 'index.ts')] },
    });
    const problems = ts.getPreEmitDiagnostics(program).map((d) => {
      const where = d.file ? `${d.file.fileName.slice(dir.length + 1)}:${d.file.getLineAndCharacterOfPosition(d.start ?? 0).line + 1}` : '';
      return `${where} ${ts.flattenDiagnosticMessageText(d.messageText, '\n')}`;
    });
    expect(problems).toEqual([]);
  });

  it('covers the guides that show code', () => {
    expect(documents.filter((d) => examples(d).length > 0).length).toBeGreaterThanOrEqual(5);
  });
});

// `8 << 30` is 0 in JavaScript (shifts work on 32-bit integers) and `2 << 30` is negative: a
// memory.max written that way kills the guest at once or is refused.
describe('sizes in the documentation and the API docs', () => {
  const sources = [
    ...documents,
    'docs/cli.md',
    'docs/design.md',
    ...readdirSync(join(root, 'lib'))
      .filter((f) => f.endsWith('.ts'))
      .map((f) => join('lib', f)),
  ];

  it.each(sources)('%s: every `N << M` is the number it means', (source) => {
    const text = readFileSync(join(root, source), 'utf8');
    for (const [shift, n, m] of text.matchAll(/\b(\d+) << (\d+)\b/g)) {
      expect(Number(n) << Number(m), `${source}: ${shift}`).toBe(Number(n) * 2 ** Number(m));
    }
  });
});
