// The arm64 test VM (npm run test:vm -- --arch arm64): the machines it knows, and the binary it
// runs, checked before anything boots. CI runs the arm64 suite itself (.ci/run).
import { describe, expect, it } from 'vitest';
import { runProgram } from './support/run.js';

const runner = new URL('../scripts/vm/test-vm.mjs', import.meta.url).pathname;

describe('npm run test:vm -- --arch', () => {
  it('refuses a machine it has no test VM for, before booting anything', async () => {
    const run = await runProgram(process.execPath, [runner, '--arch', 'riscv64']);
    expect(run.status).toBe(2);
    expect(run.stderr).toBe('test:vm: cannot boot a VM here: no test VM for riscv64; choose one of x64, arm64\n');
  });
});
