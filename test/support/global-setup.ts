// Runs once before the suite. As root it creates the test users and groups (idempotent:
// they stay for later runs) and builds the inspector program the guests run.
import { execFileSync } from 'node:child_process';
import { chmodSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { TestProject } from 'vitest/node';
import { FIXTURE_GROUPS, FIXTURE_USERS } from './fixtures.js';

function exists(db: 'passwd' | 'group', name: string): boolean {
  try {
    execFileSync('getent', [db, name], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

export default function setup(project: TestProject): () => void {
  const isRoot = process.getuid?.() === 0;
  if (process.env.CAPSPAWN_REQUIRE_PRIVILEGED === '1' && !isRoot) {
    throw new Error('CAPSPAWN_REQUIRE_PRIVILEGED=1 but the suite is not running as root: privileged tests would be skipped');
  }
  const dir = mkdtempSync(join(tmpdir(), 'capspawn-test-'));
  chmodSync(dir, 0o755);
  const inspect = join(dir, 'inspect');
  execFileSync('cc', ['-O2', '-Wall', '-o', inspect, new URL('./inspect.c', import.meta.url).pathname]);
  chmodSync(inspect, 0o755);
  project.provide('inspectPath', inspect);
  project.provide('fixtureDir', dir);

  if (isRoot) {
    for (const group of Object.values(FIXTURE_GROUPS)) {
      if (!exists('group', group)) execFileSync('groupadd', ['--system', group]);
    }
    for (const user of Object.values(FIXTURE_USERS)) {
      if (exists('passwd', user.name)) continue;
      execFileSync('useradd', [
        '--system',
        '--no-create-home',
        '--home-dir',
        '/nonexistent',
        '--shell',
        '/usr/sbin/nologin',
        '--gid',
        user.primary,
        ...(user.extra.length ? ['--groups', user.extra.join(',')] : []),
        user.name,
      ]);
    }
  }
  return () => rmSync(dir, { recursive: true, force: true });
}

declare module 'vitest' {
  export interface ProvidedContext {
    inspectPath: string;
    fixtureDir: string;
  }
}
