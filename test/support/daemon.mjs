// A stand-in for a daemon that embeds capspawn, run by the privileged tests under setpriv
// (reduced bounding set, non-root uid with a few capabilities, fork fallback, ...).
// argv[2]: JSON { file, args, options, removeCwd? }; removeCwd: the daemon's working
// directory is deleted before the launch. Prints one JSON result line.
import { mkdtempSync, readdirSync, rmdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { spawnGuest } from '../../dist/index.js';
import { childrenOf } from './children.mjs';
import { loadNative } from '../../dist/native.js';

const job = JSON.parse(process.argv[2]);
if (job.removeCwd) {
  const dir = mkdtempSync(join(tmpdir(), 'capspawn-gone-'));
  process.chdir(dir);
  rmdirSync(dir);
}
try {
  const guest = await spawnGuest(job.file, job.args ?? [], { stdio: ['ignore', 'pipe', 'inherit'], ...job.options });
  let stdout = '';
  guest.stdout.setEncoding('utf8').on('data', (d) => (stdout += d));
  const exit = await guest.exited;
  await new Promise((resolve) => (guest.stdout.readableEnded ? resolve() : guest.stdout.once('close', resolve)));
  const parentFds = readdirSync('/proc/self/fd').map(Number);
  console.log(
    JSON.stringify({
      ok: true,
      ...exit,
      stdout,
      children: childrenOf().length,
      cloneSharesMemory: loadNative().cloneSharesMemory(),
      parentFds,
    }),
  );
} catch (error) {
  const { name, code, step, errno, syscall, capability, message } = error;
  console.log(
    JSON.stringify({ ok: false, error: { name, code, step, errno, syscall, capability, message }, children: childrenOf().length }),
  );
}
