import { describe, expect, it } from 'vitest';
import { programCandidates } from '../lib/program.js';

describe('programCandidates', () => {
  it('searches each absolute PATH directory in order', () => {
    expect(programCandidates('qemu', '/srv', '/usr/local/bin:/usr/bin/')).toEqual(['/usr/local/bin/qemu', '/usr/bin/qemu']);
  });

  it('skips empty and relative PATH entries, which would depend on the working directory', () => {
    expect(programCandidates('x', '/srv', ':bin:./tools:/usr/bin')).toEqual(['/usr/bin/x']);
  });

  it('resolves a name with a slash against the guest\'s working directory, without searching', () => {
    expect(programCandidates('./run.sh', '/srv/guest', '/usr/bin')).toEqual(['/srv/guest/run.sh']);
    expect(programCandidates('/bin/true', '/srv', '/usr/bin')).toEqual(['/bin/true']);
  });

  it('has no candidate when PATH has no absolute directory', () => {
    expect(programCandidates('x', '/', '')).toEqual([]);
    expect(programCandidates('x', '/', undefined)).toEqual([]);
  });
});
