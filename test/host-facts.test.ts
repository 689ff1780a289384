import { describe, expect, it, vi } from 'vitest';

// A daemon with no descriptor free: opening /proc/self/limits fails with EMFILE.
const fs = vi.hoisted(() => ({ failLimits: false }));
vi.mock('node:fs', async (importOriginal) => {
  const real = await importOriginal<typeof import('node:fs')>();
  const readFileSync = (path: unknown, ...rest: unknown[]): unknown => {
    if (fs.failLimits && path === '/proc/self/limits') {
      throw Object.assign(new Error("EMFILE: too many open files, open '/proc/self/limits'"), {
        errno: -24,
        code: 'EMFILE',
        syscall: 'open',
        path,
      });
    }
    return (real.readFileSync as (...args: unknown[]) => unknown)(path, ...rest);
  };
  return { ...real, default: { ...real, readFileSync }, readFileSync };
});

const { readHostFacts } = await import('../lib/host-facts.js');
const { SpawnGuestError } = await import('../lib/errors.js');
const { capLastCap } = await import('../lib/capabilities.js');

describe('readHostFacts', () => {
  it("reads the kernel's limits, and this process's own limits and mounts only when asked", () => {
    const facts = readHostFacts({ ownLimits: false, cgroup2Mounts: false }, []);
    expect(facts.capLastCap).toBe(capLastCap());
    expect(facts.ngroupsMax).toBeGreaterThanOrEqual(32);
    expect(facts.argumentSpace).toBeGreaterThanOrEqual(128 * 1024);
    expect(facts.own).toBeUndefined();
    expect(facts.cgroup2Mounts).toBeUndefined();
    const all = readHostFacts({ ownLimits: true, cgroup2Mounts: true }, []);
    expect(all.own?.hardLimits).toHaveLength(16);
    expect(all.cgroup2Mounts?.every((m) => m.type === 'cgroup2')).toBe(true);
  });

  it('turns EMFILE into a SpawnGuestError at step resolve, as every later parent step would', () => {
    readHostFacts({ ownLimits: false, cgroup2Mounts: false }, []); // the read-once facts, as at import
    fs.failLimits = true;
    let failure: unknown;
    try {
      readHostFacts({ ownLimits: true, cgroup2Mounts: false }, ['/bin/true', 'a']);
    } catch (error) {
      failure = error;
    } finally {
      fs.failLimits = false;
    }
    expect(failure).toBeInstanceOf(SpawnGuestError);
    expect(failure).toMatchObject({
      code: 'EMFILE',
      errno: -24,
      step: 'resolve',
      syscall: 'open',
      path: '/proc/self/limits',
      spawnargs: ['/bin/true', 'a'],
      message:
        'spawnGuest: open /proc/self/limits failed: EMFILE (too many open files): this process is out of file descriptors: raise RLIMIT_NOFILE or close descriptors',
    });
  });
});
