// The children of a process (running or zombie) and the state of one, read from /proc: for the
// tests and for the daemon stand-ins and VM jobs they start, which run as plain node scripts.
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

/** The state letter of /proc/<pid>/stat (`S`, `Z` for a zombie, ...), or 'gone' once reaped. */
export function processState(pid) {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'latin1');
    // The command name may hold ") ": the state follows the last ")".
    return stat.slice(stat.lastIndexOf(')') + 2).split(' ')[0];
  } catch {
    return 'gone';
  }
}

/** Those of `pids` that still run: neither reaped nor zombies. */
export function alive(pids) {
  return pids.filter((pid) => !['gone', 'Z'].includes(processState(pid)));
}
