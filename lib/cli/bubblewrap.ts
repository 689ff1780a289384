import { closeSync, openSync, readSync, realpathSync, statSync } from 'node:fs';
import { basename, join } from 'node:path';
import type { Check } from './checks/report.js';

/** A program that runs bubblewrap: the bwrap file, whether it is set-uid root, and the files on the way. */
export interface BubblewrapFound {
  bwrap: string;
  setuid: boolean;
  /** Built to refuse set-uid use (Debian's bubblewrap from trixie on): it carries SETUID_REFUSAL. */
  refusesSetuid: boolean;
  /** The program, then each wrapper followed, ending with bwrap. */
  chain: string[];
}

const MAX_WRAPPERS = 4;
/** What a bubblewrap built without set-uid support prints when it runs set-uid, and exits. */
const SETUID_REFUSAL = 'setuid use of bubblewrap is not supported';
const READ_BYTES = 256 * 1024;

function head(path: string, bytes = READ_BYTES): Buffer {
  const fd = openSync(path, 'r');
  try {
    const buffer = Buffer.alloc(bytes);
    return buffer.subarray(0, readSync(fd, buffer, 0, bytes, 0));
  } finally {
    closeSync(fd);
  }
}

function isBwrap(path: string): boolean {
  return basename(path) === 'bwrap';
}

/** A word naming bwrap in a script: `/nix/store/…-bubblewrap-0.8.0/bin/bwrap`, `"$bwrap"` excluded, bare `bwrap`. */
const BWRAP_WORD = /(?:^|[\s;&|('"=])((?:\/[^\s'"();&|]*)?\/bwrap|bwrap)(?=[\s'")]|$)/m;
/** What a shell wrapper execs (Nix's makeWrapper: `exec -a "$0" "/nix/store/…/.foo-wrapped" "$@"`). */
const EXEC_TARGET = /^\s*exec\s+(?:-a\s+\S+\s+)?["']?(\/[^\s"']+)["']?/m;
/** Nix's binary wrappers (makeBinaryWrapper) embed the command that made them. */
const C_WRAPPER_TARGET = /makeCWrapper\s+'?(\/[^\s']+)'?/;

/**
 * Whether running `program` ends in bubblewrap: the program is bwrap, or a `#!` script that
 * names bwrap (buildFHSEnvBubblewrap's wrapper) or execs another wrapper (makeWrapper shell
 * scripts, makeBinaryWrapper ELF files), followed up to four deep.
 */
export function findBubblewrap(program: string, path = process.env.PATH ?? '/usr/bin:/bin'): BubblewrapFound | undefined {
  const chain: string[] = [];
  let file = program;
  for (let depth = 0; depth <= MAX_WRAPPERS; depth++) {
    let real: string;
    let text: string;
    try {
      real = realpathSync(file);
      chain.push(file);
      if (isBwrap(real) || isBwrap(file)) return found(real, chain);
      text = head(real).toString('latin1');
    } catch {
      return undefined;
    }
    let next: string | undefined;
    if (text.startsWith('#!')) {
      const word = BWRAP_WORD.exec(text)?.[1];
      if (word !== undefined) {
        const bwrap = word.startsWith('/')
          ? word
          : path
              .split(':')
              .map((dir) => join(dir, 'bwrap'))
              .find((candidate) => exists(candidate));
        if (bwrap !== undefined) return found(bwrap, [...chain, bwrap]);
      }
      next = EXEC_TARGET.exec(text)?.[1];
    } else if (text.startsWith('\x7fELF')) {
      next = C_WRAPPER_TARGET.exec(text)?.[1];
    }
    if (next === undefined) return undefined;
    file = next;
  }
  return undefined;
}

function exists(path: string): boolean {
  try {
    return statSync(path).isFile();
  } catch {
    return false;
  }
}

function found(bwrap: string, chain: string[]): BubblewrapFound | undefined {
  try {
    const stats = statSync(bwrap);
    const setuid = (stats.mode & 0o4000) !== 0 && stats.uid === 0;
    // The message is in the file of a build that has the refusal compiled in.
    const refusesSetuid = setuid && head(bwrap, stats.size).includes(SETUID_REFUSAL, 0, 'latin1');
    return { bwrap, setuid, refusesSetuid, chain };
  } catch {
    return undefined;
  }
}

/**
 * What bubblewrap will do to the guest. Unprivileged bwrap makes a user namespace that maps
 * only the caller's uid and primary gid, and aborts when its caller holds any capability;
 * set-uid bwrap starts, but drops every capability before it runs the program, unless it was
 * built to refuse set-uid use, and then it does not start at all.
 */
export function bubblewrapCheck(found: BubblewrapFound, caps: readonly number[], primaryGroup: string): Check {
  const via = found.chain.length > 1 ? ` (${found.chain.join(' → ')})` : '';
  const name = 'bubblewrap';
  const groupWay =
    'start it with no capabilities and let QEMU attach to a TAP made for a group (capspawn tap add NAME --group cvdnetwork, or createTap), ' +
    "with that group among the guest's groups (and as primaryGroup if files must be chgrp'ed to it)";
  if (found.refusesSetuid) {
    return {
      name,
      ok: false,
      path: found.bwrap,
      detail: `the program runs set-uid bubblewrap${via}, built to refuse set-uid use: it exits before it runs the program, with "bwrap: ${SETUID_REFUSAL}"`,
      fix: `remove the set-uid bit (chmod u-s ${found.bwrap}); then ${caps.length > 0 ? groupWay : 'it runs in a user namespace of its own'}`,
    };
  }
  if (caps.length > 0 && !found.setuid) {
    return {
      name,
      ok: false,
      path: found.bwrap,
      detail: `the program runs bubblewrap${via}, which refuses to start when its caller holds any capability: "bwrap: Unexpected capabilities but not setuid, old file caps config?"`,
      fix: groupWay,
    };
  }
  if (caps.length > 0) {
    return {
      name,
      ok: false,
      path: found.bwrap,
      story: 'ambient raise lost',
      detail: `the program runs set-uid bubblewrap${via}, which drops every capability before it runs the program: the guest would start with CapAmb: 0000000000000000`,
      fix: groupWay,
    };
  }
  const userns = found.setuid ? 'when it makes a user namespace (--unshare-user)' : 'in the user namespace it always makes (not set-uid)';
  return {
    name,
    ok: true,
    path: found.bwrap,
    story: 'group dropped',
    detail:
      `the program runs bubblewrap${via}: ${userns} only the uid and the primary group ${primaryGroup} are mapped, so every other group shows as 65534 (nogroup) to id ` +
      'but still counts for permission checks (attaching to a group-owned TAP works), and chown/chgrp to any group but the primary one fails with EINVAL: ' +
      'make the group files must get the primary group (--group, primaryGroup)',
  };
}
