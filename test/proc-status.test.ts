import { describe, expect, it } from 'vitest';
import { parseProcStatus, readProcStatus } from '../lib/proc-status.js';

const sample = `Name:\tqemu
State:\tS (sleeping)
Pid:\t42
PPid:\t1
Uid:\t1000\t1001\t1002\t1003
Gid:\t2000\t2001\t2002\t2003
Groups:\t27 104 
NoNewPrivs:\t1
Seccomp:\t2
SigBlk:\t0000000000000000
SigIgn:\t0000000000001000
SigCgt:\t0000000000000002
CapInh:\t0000000000001000
CapPrm:\t0000000000003000
CapEff:\t0000000000000000
CapBnd:\t000001ffffffffff
CapAmb:\t0000000400001000
`;

describe('parseProcStatus', () => {
  it('reads the four ids, groups and the five capability sets', () => {
    const s = parseProcStatus(sample);
    expect(s.uid).toEqual({ real: 1000, effective: 1001, saved: 1002, filesystem: 1003 });
    expect(s.gid).toEqual({ real: 2000, effective: 2001, saved: 2002, filesystem: 2003 });
    expect(s.groups).toEqual([27, 104]);
    expect(s.capabilities.inheritable.names).toEqual(['CAP_NET_ADMIN']);
    expect(s.capabilities.permitted.names).toEqual(['CAP_NET_ADMIN', 'CAP_NET_RAW']);
    expect(s.capabilities.effective.mask).toBe(0n);
    expect(s.capabilities.ambient.names).toEqual(['CAP_NET_ADMIN', 'CAP_SYSLOG']);
    expect(s.capabilities.ambient.hex).toBe('0000000400001000');
    expect(s.capabilities.bounding.names).toHaveLength(41);
    expect(s.noNewPrivileges).toBe(true);
    expect(s.seccomp).toBe(2);
    expect(s.signals.ignored).toBe(0x1000n);
    expect(s.pid).toBe(42);
  });

  it('reads an empty Groups line as no groups', () => {
    expect(parseProcStatus('Groups:\t\n').groups).toEqual([]);
  });

  it('reads this process', async () => {
    const self = await readProcStatus('self');
    expect(self.pid).toBe(process.pid);
    expect(self.uid.real).toBe(process.getuid?.());
  });
});
