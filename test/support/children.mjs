// The children of a process (running or zombie), read from /proc: for the tests and for the
// daemon stand-ins they start, which run as plain node scripts.
import { readdirSync, readFileSync } from 'node:fs';

export function childrenOf(pid = process.pid) {
  const out = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    let stat;
    try {
      stat = readFileSync(`/proc/${entry}/stat`, 'latin1');
    } catch {
      continue;
    }
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    if (Number(fields[1]) === pid) out.push({ pid: Number(entry), state: fields[0] });
  }
  return out;
}
