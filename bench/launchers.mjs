// The launchers under comparison, each as "start /bin/true (or a given program) as nobody:nogroup
// and wait for it". Every one asks for the same thing; what each child really got is recorded
// by the credentials check (see checkCredentials), since not every launcher delivers it.
import { spawn } from 'node:child_process';
import { accessSync, constants } from 'node:fs';
import { delimiter, join } from 'node:path';

export const TARGET = { user: 'nobody', group: 'nogroup', uid: 65534, gid: 65534, cap: 'net_admin', capNumber: 12 };

/** Launchers in report order. `floor` is bench/floor.c, driven by run.mjs, not from Node. */
export const LAUNCHERS = ['spawnGuest', 'child_process', 'setpriv', 'sudo', 'floor'];

export const LABELS = {
  spawnGuest: 'capspawn spawnGuest',
  child_process: 'child_process.spawn {uid, gid}',
  setpriv: 'spawn setpriv',
  sudo: 'spawn sudo … setpriv',
  floor: 'C floor (clone VM+VFORK)',
};

export function setprivArgs(program, args) {
  const { uid, gid, cap } = TARGET;
  return [`--reuid=${uid}`, `--regid=${gid}`, `--groups=${gid}`, `--inh-caps=+${cap}`, `--ambient-caps=+${cap}`, '--', program, ...args];
}

export function sudoArgs(program, args) {
  const { user, group, cap } = TARGET;
  return ['-u', user, '-g', group, '--', 'setpriv', '--ambient-caps', `+${cap}`, '--', program, ...args];
}

/** The absolute path of `name` on PATH, or null. */
export function which(name, path = process.env.PATH ?? '') {
  for (const dir of path.split(delimiter)) {
    if (!dir) continue;
    try {
      accessSync(join(dir, name), constants.X_OK);
      return join(dir, name);
    } catch {}
  }
  return null;
}

function waitChild(child, what) {
  return new Promise((resolve, reject) => {
    child.once('error', reject);
    child.once('exit', (code, signal) => {
      if (code === 0) resolve();
      else reject(new Error(`${what} ended with code ${code}, signal ${signal}`));
    });
  });
}

/**
 * Returns `run(program, args, stdio)`: starts the program through the launcher and resolves
 * when it has exited with code 0. `stdio` is 'ignore' for timing, 'pipe' for the check.
 */
export async function makeLauncher(name) {
  const { user, group, uid, gid, cap } = TARGET;
  switch (name) {
    case 'spawnGuest': {
      const { spawnGuest } = await import('../dist/index.js');
      const options = { user, primaryGroup: group, supplementaryGroups: [group], caps: [cap] };
      return async (program, args, stdio = 'ignore') => {
        const guest = await spawnGuest(program, args, { ...options, stdio });
        const output = stdio === 'pipe' ? collect(guest.stdout) : undefined;
        const exit = await guest.exited;
        if (exit.code !== 0) throw new Error(`spawnGuest guest ended with ${JSON.stringify(exit)}`);
        return output;
      };
    }
    case 'child_process':
      return (program, args, stdio = 'ignore') => run(program, args, { uid, gid, stdio }, name);
    case 'setpriv':
      return (program, args, stdio = 'ignore') => run('setpriv', setprivArgs(program, args), { stdio }, name);
    case 'sudo':
      return (program, args, stdio = 'ignore') => run('sudo', sudoArgs(program, args), { stdio }, name);
    default:
      throw new Error(`unknown launcher ${name}`);
  }
}

function collect(stream) {
  if (!stream) return Promise.resolve('');
  const chunks = [];
  stream.on('data', (c) => chunks.push(c));
  return new Promise((resolve) => stream.on('close', () => resolve(Buffer.concat(chunks).toString())));
}

async function run(file, args, options, what) {
  const child = spawn(file, args, options);
  const output = options.stdio === 'pipe' ? collect(child.stdout) : undefined;
  await waitChild(child, what);
  return output;
}

/** The credential lines of /proc/self/status as the launched program sees them. */
export const CHECK_PROGRAM = ['/bin/grep', ['-E', '^(Uid|Gid|Groups|CapEff|CapAmb):', '/proc/self/status']];

export function parseCheck(text) {
  const fields = {};
  for (const line of text.split('\n')) {
    const m = /^(\w+):\s*(.*?)\s*$/.exec(line);
    if (m) fields[m[1]] = m[2].replace(/\s+/g, ' ');
  }
  return fields;
}
