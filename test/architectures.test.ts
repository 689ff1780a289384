// The child procedure is written for the architectures whose system calls and kernel structs
// were checked (x86_64 and arm64): it must compile for both, and refuse every other one.
import { spawnSync } from 'node:child_process';
import { arch } from 'node:os';
import { describe, expect, it } from 'vitest';

const root = new URL('..', import.meta.url).pathname;
const compileArgs = ['-std=c++17', '-D_GNU_SOURCE', '-Wall', '-Wextra', '-Werror', '-fsyntax-only', 'native/child.cc'];
// On arm64 its own g++; elsewhere Debian's cross compiler (.ci/run installs it).
const aarch64Compiler = arch() === 'arm64' ? 'g++' : 'aarch64-linux-gnu-g++';

function compile(compiler: string, extra: string[] = []) {
  const result = spawnSync(compiler, [...extra, ...compileArgs], { cwd: root, encoding: 'utf8' });
  if (result.error) throw result.error;
  return result;
}

describe('native/child.cc', () => {
  it(`compiles for aarch64 (${aarch64Compiler}), which has dup3 but no dup2 system call`, () => {
    const result = compile(aarch64Compiler);
    expect(result.stderr).toBe('');
    expect(result.status).toBe(0);
  });

  it('is a build error on an architecture whose system calls and sigaction layout were not checked', () => {
    const result = compile('g++', ['-U__x86_64__', '-U__aarch64__']);
    expect(result.status).not.toBe(0);
    expect(result.stderr).toContain('checked for x86_64 and aarch64 only');
  });
});
