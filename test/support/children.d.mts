/** The children of `pid` (default: this process), running or zombie, with their /proc state letter. */
export function childrenOf(pid?: number): { pid: number; state: string }[];
/** The state letter of /proc/<pid>/stat (`S`, `Z` for a zombie, ...), or 'gone' once reaped. */
export function processState(pid: number): string;
/** Those of `pids` that still run: neither reaped nor zombies. */
export function alive(pids: readonly number[]): number[];
