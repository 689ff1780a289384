// The machine a run describes: CPU, kernel, Node, memory, date.
import { readFileSync } from 'node:fs';
import { cpus, release, totalmem } from 'node:os';

export function describeMachine() {
  let cpu = cpus()[0]?.model ?? 'unknown';
  try {
    cpu = /^model name\s*:\s*(.*)$/m.exec(readFileSync('/proc/cpuinfo', 'latin1'))?.[1] ?? cpu;
  } catch {}
  let thp = 'unknown';
  try {
    thp = /\[(\w+)\]/.exec(readFileSync('/sys/kernel/mm/transparent_hugepage/enabled', 'latin1'))?.[1] ?? thp;
  } catch {}
  return {
    cpu,
    cpus: cpus().length,
    kernel: release(),
    node: process.version,
    memoryGiB: Math.round(totalmem() / 2 ** 30),
    transparentHugepages: thp,
    date: new Date().toISOString().replace(/\.\d+Z$/, 'Z'),
  };
}
