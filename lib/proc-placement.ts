import { RLIMIT_RESOURCES, type RlimitName } from './placement.js';

/** One resource limit as /proc/<pid>/limits shows it. */
export interface LimitPair {
  /** The soft limit, or `'unlimited'`. */
  soft: number | 'unlimited';
  /** The hard limit, or `'unlimited'`. */
  hard: number | 'unlimited';
}

/** Where a process runs: its cgroup, limits, namespaces and scheduling, from /proc/<pid>. */
export interface ProcPlacement {
  /** The cgroup v2 path, from the `0::` line of /proc/<pid>/cgroup (relative to the cgroup2 mount). */
  cgroup: string;
  /** Every resource limit, by prlimit(1) name. */
  limits: Record<RlimitName, LimitPair>;
  /** Namespace ids by kind, as /proc/<pid>/ns links show them: `{ net: 'net:[4026531840]', ... }`. */
  namespaces: Record<string, string>;
  /** /proc/<pid>/oom_score_adj */
  oomScoreAdj: number;
  /** The nice value (field 19 of /proc/<pid>/stat). */
  nice: number;
}

/** The namespace kinds reported, as named under /proc/<pid>/ns. */
export const NAMESPACE_KINDS = ['cgroup', 'ipc', 'mnt', 'net', 'pid', 'time', 'user', 'uts'] as const;

const limitNames = Object.keys(RLIMIT_RESOURCES) as RlimitName[];

function limit(text: string): number | 'unlimited' {
  return text === 'unlimited' ? 'unlimited' : Number(text);
}

/** Parses the texts of /proc/<pid>/{cgroup,limits,oom_score_adj,stat} and the ns links. */
export function parsePlacement(files: {
  cgroup: string;
  limits: string;
  oomScoreAdj: string;
  stat: string;
  namespaces: Record<string, string>;
}): ProcPlacement {
  const cgroup = /^0::(.*)$/m.exec(files.cgroup)?.[1] ?? '';
  const rows = files.limits
    .split('\n')
    .slice(1)
    .filter((line) => line.trim() !== '');
  const limits = {} as Record<RlimitName, LimitPair>;
  rows.forEach((line, resource) => {
    const [soft, hard] = line.slice(26).trim().split(/\s+/);
    const name = limitNames[resource];
    if (name && soft !== undefined && hard !== undefined) limits[name] = { soft: limit(soft), hard: limit(hard) };
  });
  // Fields after the command name, which is in parentheses and may hold spaces.
  const stat = files.stat.slice(files.stat.lastIndexOf(')') + 2).split(' ');
  return {
    cgroup,
    limits,
    namespaces: files.namespaces,
    oomScoreAdj: Number(files.oomScoreAdj.trim()),
    nice: Number(stat[16]),
  };
}
