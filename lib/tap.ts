import { readFileSync } from 'node:fs';
import { constants as osConstants } from 'node:os';
import { errnoMessage, errnoName, invalidType, invalidValue, OptionRangeError } from './errors.js';
import { loadNative } from './native.js';
import { checkBoolean, checkId, type IdSpec } from './options.js';
import { pidsHoldingFd } from './procfs.js';

/** The tun driver's flags (linux/if_tun.h), as sysfs `tun_flags` shows them. */
export const TUN_FLAGS = {
  /** A TUN device: IP packets. */
  IFF_TUN: 0x0001,
  /** A TAP device: Ethernet frames. */
  IFF_TAP: 0x0002,
  /** Several queues (one fd each). */
  IFF_MULTI_QUEUE: 0x0100,
  /** Outlives the fd that made it. */
  IFF_PERSIST: 0x0800,
  /** No packet-information header before each frame. */
  IFF_NO_PI: 0x1000,
  /** A virtio-net header before each frame. */
  IFF_VNET_HDR: 0x4000,
} as const;

/** IFNAMSIZ - 1: the kernel keeps an interface name in 16 bytes with its NUL. */
export const MAX_TAP_NAME_BYTES = 15;

/** Options of {@link createTap}. */
export interface TapOptions {
  /** The user allowed to attach without CAP_NET_ADMIN (TUNSETOWNER): a name or a uid. */
  user?: IdSpec;
  /** The group allowed to attach without CAP_NET_ADMIN (TUNSETGROUP): a name or a gid. */
  group?: IdSpec;
  /** IFF_VNET_HDR: virtio-net headers, as QEMU's `vnet_hdr=on` and vhost-net use. */
  vnetHdr?: boolean;
  /** IFF_MULTI_QUEUE: one queue per attached fd, as QEMU's `queues=N`. */
  multiQueue?: boolean;
  /** Bring the link up (IFF_UP), as `ip link set NAME up`. */
  up?: boolean;
}

/** A TUN/TAP device as sysfs shows it (/sys/class/net/NAME). */
export interface TapInfo {
  /** The interface name. */
  name: string;
  /** `tap` (Ethernet frames) or `tun` (IP packets). */
  kind: 'tap' | 'tun';
  /** The uid that may attach without CAP_NET_ADMIN, or null when none is set. */
  owner: number | null;
  /** The gid whose members may attach without CAP_NET_ADMIN, or null when none is set. */
  group: number | null;
  /** The raw `tun_flags` ({@link TUN_FLAGS}). */
  flags: number;
  /** IFF_VNET_HDR is set. */
  vnetHdr: boolean;
  /** IFF_MULTI_QUEUE is set. */
  multiQueue: boolean;
  /** Whether the device outlives the fd that made it (TUNSETPERSIST). */
  persistent: boolean;
  /** Whether the link is up (IFF_UP in the interface flags). */
  up: boolean;
}

/** A TAP call failed: the system call, its errno, the device and what to check. */
export class TapError extends Error {
  /** `EPERM`, `EBUSY`, ... or an `ERR_CAPSPAWN_TAP_...` code when no errno applies. */
  readonly code: string;
  /** The negative errno, as in Node's SystemError; undefined when no system call failed. */
  readonly errno?: number;
  /** The call that failed: `TUNSETIFF`, `open`, `SIOCSIFFLAGS`, ... */
  readonly syscall: string;
  /** The device name. */
  readonly device: string;
  /** What to check next; also the end of the message. */
  readonly hint: string;

  constructor(fields: { code: string; errno?: number; syscall: string; device: string; hint: string }, message: string) {
    super(message);
    this.code = fields.code;
    this.syscall = fields.syscall;
    this.device = fields.device;
    this.hint = fields.hint;
    if (fields.errno !== undefined) Object.defineProperty(this, 'errno', { value: fields.errno, enumerable: true });
  }

  /** `'TapError'` */
  override get name(): string {
    return 'TapError';
  }
}

/**
 * An interface name the kernel accepts as it is (dev_valid_name): 1 to 15 bytes, not `.` or
 * `..`, no `/`, `:` or white space; and no `%`, which the kernel would take as a template.
 */
export function checkTapName(value: unknown, option = 'name'): string {
  if (typeof value !== 'string') throw invalidType(option, 'a string', value);
  const bytes = Buffer.byteLength(value);
  if (bytes === 0) throw invalidValue(option, 'must not be empty', value);
  if (bytes > MAX_TAP_NAME_BYTES) {
    throw new OptionRangeError(
      'ERR_OUT_OF_RANGE',
      option,
      `The "${option}" option is ${bytes} bytes, longer than ${MAX_TAP_NAME_BYTES} bytes (IFNAMSIZ): an interface name must fit 15 bytes. Received "${value}"`,
    );
  }
  if (value === '.' || value === '..' || /[\0/:%\s]/.test(value)) {
    throw invalidValue(option, 'must be an interface name without "/", ":", "%", NUL or white space, and not "." or ".."', value);
  }
  return value;
}

const KNOWN_TAP_OPTIONS = new Set(['user', 'group', 'vnetHdr', 'multiQueue', 'up']);

/** Checks createTap's options; looks nothing up. */
export function checkTapOptions(
  options: unknown,
): Required<Pick<TapOptions, 'vnetHdr' | 'multiQueue' | 'up'>> & Pick<TapOptions, 'user' | 'group'> {
  if (options === undefined) return { vnetHdr: false, multiQueue: false, up: false };
  if (options === null || typeof options !== 'object') throw invalidType('options', 'an object', options);
  const o = options as Record<string, unknown>;
  for (const key of Object.keys(o)) if (!KNOWN_TAP_OPTIONS.has(key)) throw invalidValue(key, 'is not an option of createTap', o[key]);
  return {
    user: o.user === undefined ? undefined : checkId(o.user, 'user'),
    group: o.group === undefined ? undefined : checkId(o.group, 'group'),
    vnetHdr: checkBoolean(o.vnetHdr, 'vnetHdr'),
    multiQueue: checkBoolean(o.multiQueue, 'multiQueue'),
    up: checkBoolean(o.up, 'up'),
  };
}

/** native/tap.h's TapOp values; the addon gives them as `tapOps` (test/steps.test.ts compares the two). */
export const TAP_OPS = { create: 0, remove: 1, up: 2 } as const;

/** The hint for a failed call, from the errno and the call. */
export function tapHint(code: string, syscall: string, device: string, holders: readonly number[] = []): string {
  if (code === 'ENODEV') return `no network interface named ${device} in this network namespace`;
  if (syscall === 'open' && code === 'ENOENT') return '/dev/net/tun is missing: load the tun module (modprobe tun)';
  if (syscall === 'open') return 'this process cannot open /dev/net/tun read-write (it is usually 0666)';
  if (code === 'EPERM')
    return 'needs CAP_NET_ADMIN (in the user namespace that owns this network namespace): run as root or grant the capability';
  if (code === 'EBUSY') {
    const who = holders.length > 0 ? `: held by pid ${holders.join(', ')}` : '';
    return `a process still has ${device} attached (an orphaned QEMU?)${who}; stop it first (a guest started with a cgroup or --pdeathsig leaves none behind)`;
  }
  return 'see tuntap(4) and netdevice(7)';
}

/** The pids whose open tun fds are attached to `device` (/proc/PID/fdinfo shows `iff:`). */
export function tapHolders(device: string): number[] {
  return pidsHoldingFd((fdinfo) => fdinfo.iff === device);
}

function tapFailure(call: string, device: string, errno: number, syscall: string): TapError {
  const code = errnoName(errno);
  const hint = tapHint(code, syscall, device, code === 'EBUSY' ? tapHolders(device) : []);
  return new TapError(
    { code, errno: -errno, syscall, device, hint },
    `${call} ${device}: ${syscall} failed: ${code} (${errnoMessage(errno)}): ${hint}`,
  );
}

function refusal(call: string, device: string, code: string, hint: string): TapError {
  return new TapError({ code, syscall: 'TUNSETIFF', device, hint }, `${call} ${device}: ${hint}`);
}

function sysfs(device: string, file: string): string | undefined {
  try {
    return readFileSync(`/sys/class/net/${device}/${file}`, 'latin1').trim();
  } catch {
    return undefined;
  }
}

/** The sysfs `owner`/`group` value: -1 (unset) as null. */
function sysfsId(text: string | undefined): number | null {
  const n = Number(text);
  return text === undefined || !Number.isInteger(n) || n < 0 ? null : n;
}

/** Reads what /sys/class/net/NAME holds, or undefined when there is no such interface; not-a-tun as `tun_flags` absent. */
function readSysfs(name: string): TapInfo | 'not tun' | undefined {
  const ifFlags = sysfs(name, 'flags');
  if (ifFlags === undefined) return undefined;
  const tunFlags = sysfs(name, 'tun_flags');
  if (tunFlags === undefined) return 'not tun';
  const flags = Number(tunFlags);
  return {
    name,
    kind: flags & TUN_FLAGS.IFF_TAP ? 'tap' : 'tun',
    owner: sysfsId(sysfs(name, 'owner')),
    group: sysfsId(sysfs(name, 'group')),
    flags,
    vnetHdr: (flags & TUN_FLAGS.IFF_VNET_HDR) !== 0,
    multiQueue: (flags & TUN_FLAGS.IFF_MULTI_QUEUE) !== 0,
    persistent: (flags & TUN_FLAGS.IFF_PERSIST) !== 0,
    up: (Number(ifFlags) & 0x1) !== 0,
  };
}

/**
 * The TUN/TAP device `name` as /sys/class/net shows it (the sysfs of this mount namespace:
 * in `ip netns exec`, that of the namespace). Throws a TapError ENODEV when there is none,
 * ERR_CAPSPAWN_NOT_TUN when the interface is of another kind.
 */
export function readTap(name: string): TapInfo {
  const device = checkTapName(name);
  const info = readSysfs(device);
  if (info === undefined) {
    const hint = tapHint('ENODEV', 'open', device);
    throw new TapError({ code: 'ENODEV', errno: -osConstants.errno.ENODEV, syscall: 'open', device, hint }, `readTap ${device}: ${hint}`);
  }
  if (info === 'not tun') throw refusal('readTap', device, 'ERR_CAPSPAWN_NOT_TUN', `${device} exists and is not a TUN/TAP device`);
  return info;
}

/** Resolves the owner and group like spawnGuest's: names through NSS, ids as given. */
async function resolveOwner(
  user: IdSpec | undefined,
  group: IdSpec | undefined,
  device: string,
): Promise<{ owner: number; group: number }> {
  const named = typeof user === 'string' || typeof group === 'string';
  if (!named) return { owner: user ?? -1, group: group ?? -1 };
  const answer = await loadNative().resolve({
    user: typeof user === 'string' ? user : undefined,
    groups: typeof group === 'string' ? [group] : [],
    userGroups: false,
  });
  if (answer.errno !== undefined) throw tapFailure('createTap', device, answer.errno, answer.syscall ?? 'getpwnam_r');
  const unknown = (what: 'user' | 'group', name: string) => {
    const hint = `no ${what} named "${name}": check the name, or pass a ${what === 'user' ? 'uid' : 'gid'} as a number`;
    const fields = {
      code: `ERR_CAPSPAWN_UNKNOWN_${what.toUpperCase()}`,
      syscall: what === 'user' ? 'getpwnam_r' : 'getgrnam_r',
      device,
      hint,
    };
    return new TapError(fields, `createTap ${device}: ${hint}`);
  };
  if (typeof user === 'string' && !answer.user) throw unknown('user', user);
  if (typeof group === 'string' && !answer.groups?.[0]) throw unknown('group', group);
  return {
    owner: typeof user === 'string' ? (answer.user as { uid: number }).uid : (user ?? -1),
    group: typeof group === 'string' ? (answer.groups?.[0] as { gid: number }).gid : (group ?? -1),
  };
}

/** Why an existing device is not the one asked for, or undefined when it is. */
function difference(found: TapInfo, wanted: { owner: number; group: number; vnetHdr: boolean; multiQueue: boolean }): string | undefined {
  const id = (n: number | null) => (n === null ? 'none' : String(n));
  if (found.kind !== 'tap') return 'it is a TUN device, not a TAP';
  if (!found.persistent) return 'it is not persistent (a process made it and holds it)';
  if (found.owner !== (wanted.owner < 0 ? null : wanted.owner))
    return `its owner is ${id(found.owner)}, not ${id(wanted.owner < 0 ? null : wanted.owner)}`;
  if (found.group !== (wanted.group < 0 ? null : wanted.group))
    return `its group is ${id(found.group)}, not ${id(wanted.group < 0 ? null : wanted.group)}`;
  if (found.vnetHdr !== wanted.vnetHdr) return `it has vnet_hdr ${found.vnetHdr ? 'on' : 'off'}`;
  if (found.multiQueue !== wanted.multiQueue) return `it has multi_queue ${found.multiQueue ? 'on' : 'off'}`;
  return undefined;
}

/**
 * Makes a persistent TAP device (IFF_TAP | IFF_NO_PI, and IFF_VNET_HDR / IFF_MULTI_QUEUE when
 * asked) that `user` and members of `group` may attach to without CAP_NET_ADMIN, as
 * `ip tuntap add dev NAME mode tap user U group G` does. An existing device with exactly
 * these settings is taken as it is (brought up when asked); one of another kind, owner, group
 * or flags is an error, never changed. Needs CAP_NET_ADMIN. Addresses, bridges and routes are
 * for iproute2 or a netlink library.
 */
export async function createTap(name: string, options?: TapOptions): Promise<TapInfo> {
  const device = checkTapName(name);
  const o = checkTapOptions(options);
  const { owner, group } = await resolveOwner(o.user, o.group, device);
  const flags =
    TUN_FLAGS.IFF_TAP | TUN_FLAGS.IFF_NO_PI | (o.vnetHdr ? TUN_FLAGS.IFF_VNET_HDR : 0) | (o.multiQueue ? TUN_FLAGS.IFF_MULTI_QUEUE : 0);
  const native = loadNative();
  const answer = await native.tap({ op: TAP_OPS.create, name: device, flags, owner, group, up: o.up });
  if (answer.errno !== undefined) {
    if (answer.errno !== osConstants.errno.EBUSY || answer.syscall !== 'TUNSETIFF') {
      // EBUSY from TUNSETIFF with IFF_TUN_EXCL: an interface of that name exists.
      throw tapFailure('createTap', device, answer.errno, answer.syscall ?? 'TUNSETIFF');
    }
    const found = readSysfs(device);
    if (found === 'not tun')
      throw refusal('createTap', device, 'ERR_CAPSPAWN_TAP_EXISTS', `${device} exists and is not a TUN/TAP device: choose another name`);
    if (found !== undefined) {
      const why = difference(found, { owner, group, vnetHdr: o.vnetHdr, multiQueue: o.multiQueue });
      if (why !== undefined) {
        throw refusal(
          'createTap',
          device,
          'ERR_CAPSPAWN_TAP_EXISTS',
          `${device} exists and ${why}: it is left as it is; delete it (capspawn tap del ${device}) or choose another name`,
        );
      }
      if (o.up && !found.up) {
        const up = await native.tap({ op: TAP_OPS.up, name: device, flags, owner, group, up: true });
        if (up.errno !== undefined) throw tapFailure('createTap', device, up.errno, up.syscall ?? 'SIOCSIFFLAGS');
      }
    }
  }
  return readTap(device);
}

/**
 * Removes a persistent TUN/TAP device (TUNSETPERSIST 0), as `ip tuntap del` does. Fails with
 * EBUSY while a process has it attached, naming that process. Needs CAP_NET_ADMIN, or to be
 * its owner or in its group.
 */
export async function deleteTap(name: string): Promise<void> {
  const device = checkTapName(name);
  const found = readTap(device);
  const kindFlags =
    found.flags & (TUN_FLAGS.IFF_TUN | TUN_FLAGS.IFF_TAP | TUN_FLAGS.IFF_NO_PI | TUN_FLAGS.IFF_VNET_HDR | TUN_FLAGS.IFF_MULTI_QUEUE);
  const answer = await loadNative().tap({ op: TAP_OPS.remove, name: device, flags: kindFlags, owner: -1, group: -1, up: false });
  if (answer.errno !== undefined) throw tapFailure('deleteTap', device, answer.errno, answer.syscall ?? 'TUNSETIFF');
}
