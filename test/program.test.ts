import { describe, expect, it } from 'vitest';
import { joinPath, programCandidates } from '../lib/program.js';

const at = (dir: string) => () => dir;

describe('programCandidates', () => {
  it('searches each absolute PATH directory in order', () => {
    expect(programCandidates('qemu', at('/srv'), '/usr/local/bin:/usr/bin/')).toEqual(['/usr/local/bin/qemu', '/usr/bin/qemu']);
  });

  it('skips empty and relative PATH entries, which would depend on the working directory', () => {
    expect(programCandidates('x', at('/srv'), ':bin:./tools:/usr/bin')).toEqual(['/usr/bin/x']);
  });

  it("joins a name with a slash to the guest's working directory, without searching", () => {
    expect(programCandidates('./run.sh', at('/srv/guest'), '/usr/bin')).toEqual(['/srv/guest/./run.sh']);
    expect(programCandidates('/bin/true', at('/srv'), '/usr/bin')).toEqual(['/bin/true']);
  });

  it('leaves every path as given for the kernel to resolve: no ".." collapsed, in the file, the working directory or PATH', () => {
    expect(programCandidates('/root/../usr/bin/id', at('/srv'), '/usr/bin')).toEqual(['/root/../usr/bin/id']);
    expect(programCandidates('link/../x', at('/srv/a/../b'), '/usr/bin')).toEqual(['/srv/a/../b/link/../x']);
    expect(programCandidates('id', at('/srv'), '/root/../usr/bin:/opt/./bin')).toEqual(['/root/../usr/bin/id', '/opt/./bin/id']);
  });

  it('asks for the working directory only for a relative name with a slash', () => {
    const gone = () => {
      throw new Error('uv_cwd');
    };
    expect(programCandidates('/bin/true', gone, '/usr/bin')).toEqual(['/bin/true']);
    expect(programCandidates('true', gone, '/usr/bin')).toEqual(['/usr/bin/true']);
    expect(() => programCandidates('./true', gone, '/usr/bin')).toThrow('uv_cwd');
  });

  it('has no candidate when PATH has no absolute directory', () => {
    expect(programCandidates('x', at('/'), '')).toEqual([]);
    expect(programCandidates('x', at('/'), undefined)).toEqual([]);
  });
});

describe('joinPath', () => {
  it('keeps an absolute path and joins a relative one with one slash, normalising nothing', () => {
    expect(joinPath('/srv', '/etc/../tmp')).toBe('/etc/../tmp');
    expect(joinPath('/srv/', 'a/../b')).toBe('/srv/a/../b');
    expect(joinPath('/', 'x')).toBe('/x');
  });
});
