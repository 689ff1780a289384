import { describe, expect, it, vi } from 'vitest';

// A cgroup2 mount whose path holds a space: mountinfo shows it as `\040`.
const mountinfo =
  '27 1 254:0 / / rw,relatime - ext4 /dev/vda rw\n' + '41 27 0:38 / /srv/cg\\040two rw,nosuid,relatime shared:9 - cgroup2 cgroup2 rw\n';

vi.mock('node:fs', async (importOriginal) => {
  const fs = await importOriginal<typeof import('node:fs')>();
  const files: Record<string, string> = {
    '/proc/self/mountinfo': mountinfo,
    '/srv/cg two/cgroup.controllers': 'cpu memory pids\n',
  };
  const readFileSync = (path: unknown, ...rest: unknown[]): unknown => {
    if (typeof path === 'string' && path in files) return files[path];
    if (typeof path === 'string' && path.startsWith('/srv/')) throw Object.assign(new Error(`ENOENT: ${path}`), { code: 'ENOENT' });
    return (fs.readFileSync as (...args: unknown[]) => unknown)(path, ...rest);
  };
  return { ...fs, default: { ...fs, readFileSync }, readFileSync };
});

const { cgroupHierarchyCheck } = await import('../lib/cli/checks/host.js');

describe('capspawn doctor: cgroup v2', () => {
  it('finds a cgroup2 mount at a path with a space, as the library does', () => {
    expect(cgroupHierarchyCheck()).toEqual({
      name: 'cgroup v2',
      ok: true,
      detail: 'mounted at /srv/cg two with controllers: cpu memory pids',
    });
  });
});
