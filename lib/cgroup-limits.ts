import { invalidType, invalidValue, outOfRange } from './errors.js';

/** What a guest's own cgroup is asked to be: `cgroup: { parent, name?, limits?, keep? }`. */
export interface OwnCgroupSpec {
  /** The cgroup v2 directory the guest's cgroup is made in. */
  parent: string;
  /** The new directory's name. Default: `capspawn-<pid of this process>-<n>`, the first n free. */
  name?: string;
  /**
   * cgroup v2 interface files written before the guest starts, by name:
   * `{ 'memory.max': 512 << 20, 'pids.max': 256, 'cpu.max': '50000 100000' }`.
   */
  limits?: Readonly<Record<string, string | number>>;
  /** Leave the directory in place once the guest's whole tree has exited. Default: false. */
  keep?: boolean;
}

/** A checked limit: the interface file, its controller, and the text written to it. */
export interface CgroupLimit {
  /** The interface file: `memory.max`. */
  file: string;
  /** The controller it belongs to: `memory`. */
  controller: string;
  /** The text written to it. */
  text: string;
}

const U64_MAX = 2n ** 64n - 1n;

/** A non-negative integer (a number or its decimal text) up to 2^64-1, or `max` when allowed. */
function amount(value: string | number, option: string, { max = true, min = 0n, upper = U64_MAX } = {}): string {
  const text = typeof value === 'number' ? (Number.isSafeInteger(value) ? String(value) : '') : value;
  if (max && text === 'max') return text;
  const what = `an integer from ${min} to ${upper}${max ? " or 'max'" : ''}`;
  if (!/^-?\d+$/.test(text))
    throw typeof value === 'number' ? outOfRange(option, what, value) : invalidValue(option, `must be ${what}`, value);
  const n = BigInt(text);
  if (n < min || n > upper) throw outOfRange(option, what, value);
  return String(n);
}

const bytes = (value: string | number, option: string) => amount(value, option);
const flag = (value: string | number, option: string) => amount(value, option, { max: false, upper: 1n });
const weight = (value: string | number, option: string) => amount(value, option, { max: false, min: 1n, upper: 10000n });

/** cpu.max: `QUOTA PERIOD`, `QUOTA` or `max [PERIOD]`, in microseconds (quota ≥ 1000, period 1000 to 1000000). */
function cpuMax(value: string | number, option: string): string {
  const text = String(value);
  const [, quota, period] = /^(max|\d+)(?: (\d+))?$/.exec(text) ?? [];
  if (quota === undefined) throw invalidValue(option, "must be 'QUOTA PERIOD' in microseconds, such as '50000 100000', or 'max'", value);
  if (quota !== 'max') amount(quota, option, { max: false, min: 1000n });
  if (period !== undefined) amount(period, option, { max: false, min: 1000n, upper: 1000000n });
  return text;
}

/** io.weight: a weight from 1 to 10000, or `default N` / `MAJ:MIN N` lines as the file takes them. */
function ioWeight(value: string | number, option: string): string {
  if (typeof value === 'number') return weight(value, option);
  if (!/^((default|\d+:\d+) )?\d+$/.test(value))
    throw invalidValue(option, "must be a weight from 1 to 10000, 'default N' or 'MAJ:MIN N'", value);
  weight(value.split(' ').pop()!, option);
  return value;
}

/** io.max: `MAJ:MIN` then rbps=, wbps=, riops=, wiops= with a number or max. */
function ioMax(value: string | number, option: string): string {
  if (typeof value !== 'string' || !/^\d+:\d+( (rbps|wbps|riops|wiops)=(\d+|max))+$/.test(value)) {
    throw invalidValue(option, "must be 'MAJ:MIN KEY=VALUE...' with rbps, wbps, riops or wiops, such as '8:0 wbps=1048576'", value);
  }
  return value;
}

/** cpuset.cpus, cpuset.mems: a list such as `0-3,6`. */
function cpuList(value: string | number, option: string): string {
  const text = String(value);
  if (!/^\d+(-\d+)?(,\d+(-\d+)?)*$/.test(text)) throw invalidValue(option, "must be a list such as '0-3,6'", value);
  return text;
}

/** Checks one limit value for `option`, giving back the text written to the file. */
export type LimitCheck = (value: string | number, option: string) => string;

/** The cgroup v2 interface files `limits` may write, with what each takes (Documentation/admin-guide/cgroup-v2.rst). */
export const CGROUP_LIMIT_FILES: Readonly<Record<string, LimitCheck>> = {
  'memory.min': bytes,
  'memory.low': bytes,
  'memory.high': bytes,
  'memory.max': bytes,
  'memory.swap.high': bytes,
  'memory.swap.max': bytes,
  'memory.zswap.max': bytes,
  'memory.oom.group': flag,
  'pids.max': bytes,
  'cpu.max': cpuMax,
  'cpu.weight': weight,
  'cpu.weight.nice': (value, option) => {
    const text = typeof value === 'number' ? String(value) : value;
    if (!/^-?\d+$/.test(text) || Number(text) < -20 || Number(text) > 19) throw outOfRange(option, 'an integer from -20 to 19', value);
    return text;
  },
  'cpu.idle': flag,
  'io.weight': ioWeight,
  'io.max': ioMax,
  'cpuset.cpus': cpuList,
  'cpuset.mems': cpuList,
};

/** hugetlb.<size>.max, such as hugetlb.2MB.max: bytes of huge pages of that size. */
const HUGETLB_LIMIT = /^hugetlb\.\d+[KMG]B\.(max|rsvd\.max)$/;

/** The controller an interface file belongs to: the part of its name before the first dot. */
export function limitController(file: string): string {
  return file.slice(0, file.indexOf('.'));
}

/** Checks `cgroup.limits`: known interface files, values each accepts. Pure: reads nothing. */
export function checkCgroupLimits(limits: unknown): CgroupLimit[] {
  if (limits === undefined) return [];
  if (limits === null || typeof limits !== 'object' || Array.isArray(limits)) {
    throw invalidType('cgroup.limits', "an object such as { 'memory.max': 536870912 }", limits);
  }
  return Object.entries(limits).map(([file, value]) => {
    const option = `cgroup.limits.${file}`;
    const check = Object.hasOwn(CGROUP_LIMIT_FILES, file) ? CGROUP_LIMIT_FILES[file] : HUGETLB_LIMIT.test(file) ? bytes : undefined;
    if (check === undefined) {
      throw invalidValue(
        option,
        `names no cgroup v2 limit capspawn writes; names are ${Object.keys(CGROUP_LIMIT_FILES).join(', ')}, hugetlb.<size>.max`,
        file,
      );
    }
    if (typeof value !== 'number' && typeof value !== 'string') throw invalidType(option, 'a number or a string', value);
    if (typeof value === 'string' && /[\0\n]/.test(value)) throw invalidValue(option, 'must be one line without NUL', value);
    return { file, controller: limitController(file), text: check(value, option) };
  });
}

/** A cgroup directory name: one path component, not an interface file's name. */
export function checkCgroupName(name: unknown): string | undefined {
  if (name === undefined) return undefined;
  if (typeof name !== 'string') throw invalidType('cgroup.name', 'a directory name', name);
  if (!/^[A-Za-z0-9_@:+-][A-Za-z0-9_.@:+-]{0,254}$/.test(name) || name.startsWith('cgroup.')) {
    throw invalidValue(
      'cgroup.name',
      'must be one directory name of letters, digits and _ . @ : + - (at most 255, not starting with "." or "cgroup.")',
      name,
    );
  }
  return name;
}
