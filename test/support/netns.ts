// Running capspawn's API inside a network namespace a test made (ip netns exec), as a daemon
// in that namespace would: a fresh node that prints the result, or the error, as JSON.
import { execFile, spawn } from 'node:child_process';
import { promisify } from 'node:util';
import { packageRoot } from './cli.js';

export type ApiResult = { ok: unknown } | { error: Record<string, unknown> };

const run = promisify(execFile);

/**
 * Runs an async function body with createTap, deleteTap and readTap in scope; `wrapper` runs node
 * under another program. Asynchronous, for the reason test/support/run.ts gives.
 */
export async function apiInNetns(netns: string, body: string, wrapper: string[] = []): Promise<ApiResult> {
  const code = `import { createTap, deleteTap, readTap } from './dist/index.js';
try { console.log(JSON.stringify({ ok: (await (async () => { ${body} })()) ?? null })); }
catch (e) { console.log(JSON.stringify({ error: { name: e.name, message: e.message, ...e } })); }`;
  const { stdout } = await run('ip', ['netns', 'exec', netns, ...wrapper, process.execPath, '--input-type=module', '-e', code], {
    cwd: packageRoot,
    encoding: 'utf8',
  });
  return JSON.parse(stdout.trim().split('\n').at(-1) as string) as ApiResult;
}

/**
 * A process in `netns` attached to the TAP `name` (TUNSETIFF IFF_TAP|IFF_NO_PI), as a running
 * QEMU is: its pid, and `release()`, which detaches it and waits until it has exited.
 */
export async function holdTap(netns: string, name: string): Promise<{ pid: number; release: () => Promise<void> }> {
  const attach = `import fcntl,os,struct,sys\nfd=os.open('/dev/net/tun',os.O_RDWR)\nfcntl.ioctl(fd,0x400454ca,struct.pack('16sH',${JSON.stringify(name)}.encode(),0x1002))\nprint(os.getpid(),flush=True)\nsys.stdin.read()`;
  const holder = spawn('ip', ['netns', 'exec', netns, 'python3', '-c', attach], { stdio: ['pipe', 'pipe', 'inherit'] });
  const closed = new Promise<void>((resolve) => holder.on('close', () => resolve()));
  const pid = await new Promise<number>((resolve, reject) => {
    holder.stdout.once('data', (d: Buffer) => resolve(Number(d.toString().trim())));
    void closed.then(() => reject(new Error(`the process meant to hold TAP ${name} in ${netns} exited`)));
  });
  return {
    pid,
    release: () => {
      holder.stdin.end();
      return closed;
    },
  };
}
