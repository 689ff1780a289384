import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { ensureCliBuilt, packageRoot, runCli } from './support/cli.js';

const docs = () => readFileSync(join(packageRoot, 'docs/cli.md'), 'utf8');

beforeAll(ensureCliBuilt);

describe('capspawn --help', () => {
  it.each([[['--help']], [['-h']], [['run', '--help']], [['explain', '--help']], [['doctor', '--help']], [['--user', 'x', '--help']]])(
    'capspawn %j prints usage and examples on stdout, exit 0',
    async (args) => {
      const out = await runCli(args);
      expect(out).toMatchObject({ status: 0, stderr: '' });
      expect(out.stdout).toMatch(/^Usage:\n {2}capspawn /);
      expect(out.stdout).toContain('\nExamples:\n  capspawn ');
    },
  );

  it('lists every command and every guest option', async () => {
    const out = await runCli(['--help']);
    for (const word of [
      'run',
      'explain',
      'doctor',
      '--user',
      '--group',
      '--groups',
      '--init-groups',
      '--clear-groups',
      '--caps',
      '--env',
      '--pass-env',
      '--cwd',
      '--umask',
      '--no-new-privs',
      '--limit-bounding-set',
      '--pdeathsig',
      '--allow-root',
      '--config',
    ]) {
      expect(out.stdout).toContain(word);
    }
  });

  it.each([[['--help']], [['run', '--help']], [['explain', '--help']], [['doctor', '--help']], [['tap', '--help']]])(
    'docs/cli.md shows the current output of capspawn %j verbatim',
    async (args) => {
      const out = await runCli(args);
      expect(docs()).toContain(`\`\`\`text\n$ capspawn ${args.join(' ')}\n${out.stdout}\`\`\``);
    },
  );

  it('--version prints the package version', async () => {
    const { version } = JSON.parse(readFileSync(join(packageRoot, 'package.json'), 'utf8')) as { version: string };
    expect(await runCli(['--version'])).toMatchObject({ status: 0, stdout: `capspawn ${version}\n` });
  });
});
