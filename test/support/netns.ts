// Running capspawn's API inside a network namespace a test made (ip netns exec), as a daemon
// in that namespace would: a fresh node that prints the result, or the error, as JSON.
import { execFileSync } from 'node:child_process';
import { packageRoot } from './cli.js';

export type ApiResult = { ok: unknown } | { error: Record<string, unknown> };

/** Runs an async function body with createTap, deleteTap and readTap in scope; `wrapper` runs node under another program. */
export function apiInNetns(netns: string, body: string, wrapper: string[] = []): ApiResult {
  const code = `import { createTap, deleteTap, readTap } from './dist/index.js';
try { console.log(JSON.stringify({ ok: (await (async () => { ${body} })()) ?? null })); }
catch (e) { console.log(JSON.stringify({ error: { name: e.name, message: e.message, ...e } })); }`;
  const out = execFileSync('ip', ['netns', 'exec', netns, ...wrapper, process.execPath, '--input-type=module', '-e', code], {
    cwd: packageRoot,
    encoding: 'utf8',
  });
  return JSON.parse(out.trim().split('\n').at(-1) as string) as ApiResult;
}
