// cgroup: { parent, name?, limits?, keep? }: names and values of limits checked in TypeScript,
// and the controller rule, as pure functions of the parent's files.
import { describe, expect, it } from 'vitest';
import { checkCgroupLimits, checkCgroupName } from '../lib/cgroup-limits.js';
import { controllerProblem } from '../lib/own-cgroup.js';

describe('cgroup.limits', () => {
  it('takes the v2 interface files with numbers, decimal text or max, and gives the text written', () => {
    expect(
      checkCgroupLimits({
        'memory.max': 512 << 20,
        'memory.high': 'max',
        'pids.max': '64',
        'cpu.max': '50000 100000',
        'cpu.weight': 200,
        'io.weight': 'default 50',
        'hugetlb.2MB.max': 0,
      }),
    ).toEqual([
      { file: 'memory.max', controller: 'memory', text: String(512 << 20) },
      { file: 'memory.high', controller: 'memory', text: 'max' },
      { file: 'pids.max', controller: 'pids', text: '64' },
      { file: 'cpu.max', controller: 'cpu', text: '50000 100000' },
      { file: 'cpu.weight', controller: 'cpu', text: '200' },
      { file: 'io.weight', controller: 'io', text: 'default 50' },
      { file: 'hugetlb.2MB.max', controller: 'hugetlb', text: '0' },
    ]);
  });

  it.each([
    [{ 'memory.maxx': 1 }, 'ERR_INVALID_ARG_VALUE', 'cgroup.limits.memory.maxx'],
    [{ 'cgroup.procs': '0' }, 'ERR_INVALID_ARG_VALUE', 'cgroup.limits.cgroup.procs'],
    [{ 'memory.max': -1 }, 'ERR_OUT_OF_RANGE', 'cgroup.limits.memory.max'],
    [{ 'memory.max': 1.5 }, 'ERR_OUT_OF_RANGE', 'cgroup.limits.memory.max'],
    [{ 'memory.max': '1G' }, 'ERR_INVALID_ARG_VALUE', 'cgroup.limits.memory.max'],
    [{ 'memory.max': '18446744073709551616' }, 'ERR_OUT_OF_RANGE', 'cgroup.limits.memory.max'],
    [{ 'pids.max': '1\n2' }, 'ERR_INVALID_ARG_VALUE', 'cgroup.limits.pids.max'],
    [{ 'pids.max': true }, 'ERR_INVALID_ARG_TYPE', 'cgroup.limits.pids.max'],
    [{ 'cpu.weight': 0 }, 'ERR_OUT_OF_RANGE', 'cgroup.limits.cpu.weight'],
    [{ 'cpu.weight': 10001 }, 'ERR_OUT_OF_RANGE', 'cgroup.limits.cpu.weight'],
    [{ 'cpu.max': '500 100000' }, 'ERR_OUT_OF_RANGE', 'cgroup.limits.cpu.max'],
    [{ 'cpu.max': '50000 10' }, 'ERR_OUT_OF_RANGE', 'cgroup.limits.cpu.max'],
    [{ 'cpu.max': 'half' }, 'ERR_INVALID_ARG_VALUE', 'cgroup.limits.cpu.max'],
    [{ 'memory.oom.group': 2 }, 'ERR_OUT_OF_RANGE', 'cgroup.limits.memory.oom.group'],
    [{ 'io.max': 'wbps=1' }, 'ERR_INVALID_ARG_VALUE', 'cgroup.limits.io.max'],
    [{ 'cpuset.cpus': '0-3,x' }, 'ERR_INVALID_ARG_VALUE', 'cgroup.limits.cpuset.cpus'],
    [[1], 'ERR_INVALID_ARG_TYPE', 'cgroup.limits'],
  ])('refuses %j (%s at %s)', (limits, code, option) => {
    expect(() => checkCgroupLimits(limits)).toThrow(expect.objectContaining({ code, option }));
  });

  it('names: one directory component, not an interface file', () => {
    expect(checkCgroupName('vm-85')).toBe('vm-85');
    for (const bad of ['', '.', '..', 'a/b', 'cgroup.procs', '.hidden', 'a\0b', 'x'.repeat(256), 7]) {
      expect(() => checkCgroupName(bad)).toThrow(expect.objectContaining({ option: 'cgroup.name' }));
    }
  });
});

describe('the controllers a limit needs', () => {
  const request = (files: Record<string, number>) => ({ parent: '/sys/fs/cgroup/vms', limits: checkCgroupLimits(files) });

  it('passes when the parent enables each controller for its children', () => {
    expect(
      controllerProblem(request({ 'memory.max': 1, 'pids.max': 2 }), {
        controllers: ['memory', 'pids'],
        subtreeControl: ['memory', 'pids'],
      }),
    ).toBeUndefined();
  });

  it('a controller the parent has but does not enable: how to enable it, and the no-internal-processes rule', () => {
    const error = controllerProblem(request({ 'pids.max': 2 }), { controllers: ['memory', 'pids'], subtreeControl: ['memory'] });
    expect(error).toMatchObject({ name: 'RangeError', code: 'ERR_CAPSPAWN_CGROUP_CONTROLLER', option: 'cgroup.limits.pids.max' });
    expect(error!.message).toContain('echo +pids > /sys/fs/cgroup/vms/cgroup.subtree_control');
    expect(error!.message).toContain('no internal processes');
  });

  it('a controller the parent does not have: its ancestors, or cgroup v1 on a hybrid host', () => {
    const error = controllerProblem(request({ 'memory.max': 1 }), { controllers: ['hugetlb'], subtreeControl: [] });
    expect(error!.message).toMatch(/does not have \(its cgroup.controllers: hugetlb\).*\/proc\/cgroups.*cgroup_no_v1=memory/s);
  });
});
