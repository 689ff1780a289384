/** The children of `pid` (default: this process), running or zombie, with their /proc state letter. */
export function childrenOf(pid?: number): { pid: number; state: string }[];
