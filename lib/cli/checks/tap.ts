import { statSync } from 'node:fs';
import { capabilityNumber } from '../../capabilities.js';
import { readTap, tapHolders, type TapInfo, TapError } from '../../tap.js';
import type { Check } from './report.js';
import { checkAccess, describeMode, READ, WRITE } from './file-access.js';
import type { DeviceTarget } from './host.js';
import { groupNames, namedId, userName } from '../id-names.js';

const NET_ADMIN = capabilityNumber('net_admin');

/**
 * Whether the guest may attach to `info` (TUNSETIFF on an existing device), as the kernel's
 * tun_not_capable decides: an owner set must be the guest's euid, a group set must be among
 * its gid and groups; or the guest holds CAP_NET_ADMIN. A device with neither needs the
 * capability.
 */
export function mayAttach(
  info: Pick<TapInfo, 'owner' | 'group'>,
  target: Pick<DeviceTarget, 'uid' | 'gid' | 'groups' | 'caps'>,
): { ok: true } | { ok: false; lacks: 'owner' | 'group' | 'either' } {
  if (target.caps.includes(NET_ADMIN)) return { ok: true };
  if (info.owner === null && info.group === null) return { ok: false, lacks: 'either' };
  if (info.owner !== null && info.owner !== target.uid) return { ok: false, lacks: 'owner' };
  if (info.group !== null && info.group !== target.gid && !target.groups.includes(info.group)) return { ok: false, lacks: 'group' };
  return { ok: true };
}

/** doctor --tap NAME: the device, who may attach, and whether a process holds it already. */
export async function tapCheck(name: string, target: DeviceTarget | undefined): Promise<Check> {
  const check = `TAP ${name}`;
  let info: TapInfo;
  try {
    info = readTap(name);
  } catch (error) {
    if (!(error instanceof TapError)) throw error;
    return {
      name: check,
      ok: false,
      story: 'TAP EPERM',
      code: error.code,
      detail: error.message.replace(/^readTap \S+: /, ''),
      fix:
        error.code === 'ENODEV'
          ? `make it before the guest starts: capspawn tap add ${name} --group GROUP --vnet-hdr --up (or createTap); run doctor in the guest's network namespace (ip netns exec NS capspawn doctor ...)`
          : "choose another name for the guest's TAP",
    };
  }
  const owner = info.owner === null ? 'no owner' : `owner ${(await userName(info.owner)) ?? 'uid'} (${info.owner})`;
  const groupLabel = info.group === null ? undefined : namedId(info.group, await groupNames([info.group]));
  const group = groupLabel === undefined ? 'no group' : `group ${groupLabel}`;
  const about = `${info.kind}, ${owner}, ${group}${info.vnetHdr ? ', vnet_hdr' : ''}${info.multiQueue ? ', multi_queue' : ''}, ${info.persistent ? 'persistent' : 'not persistent'}, ${info.up ? 'up' : 'down'}`;
  if (info.kind !== 'tap') {
    return {
      name: check,
      ok: false,
      detail: `${about}: QEMU's -netdev tap needs a TAP device, not a TUN`,
      fix: `capspawn tap del ${name}; capspawn tap add ${name} --group GROUP`,
    };
  }
  const holders = info.multiQueue ? [] : tapHolders(name);
  if (holders.length > 0) {
    return {
      name: check,
      ok: false,
      code: 'EBUSY',
      detail: `${about}; attached by pid ${holders.join(', ')}, so another QEMU gets "Device or resource busy"`,
      fix: 'stop that process (an orphaned QEMU from an earlier launch?); give each guest a cgroup of its own or a parent-death signal so none outlives its launch',
    };
  }
  if (!target) return { name: check, ok: true, detail: `${about}; pass --user to check that the guest may attach` };
  const verdict = mayAttach(info, target);
  if (verdict.ok) {
    const how = target.caps.includes(NET_ADMIN) ? 'holding CAP_NET_ADMIN' : 'without any capability';
    return { name: check, ok: true, story: 'TAP EPERM', detail: `${about}; ${target.name} may attach ${how}` };
  }
  const fix = {
    owner: `make it for this user (capspawn tap add ${name} --user ${target.name}), or for a group the guest is in`,
    group: `put the guest in group ${groupLabel} (--groups / --add-groups, or --group), or make the TAP for a group it is in`,
    either: `make it with an owner or group (capspawn tap add ${name} --group GROUP), or give the guest --caps net_admin`,
  }[verdict.lacks];
  const why = {
    owner: `it belongs to uid ${info.owner}, and the guest is uid ${target.uid}`,
    group: `the guest is not in group ${groupLabel}`,
    either: 'it has no owner or group, so only CAP_NET_ADMIN may attach',
  }[verdict.lacks];
  return {
    name: check,
    ok: false,
    code: 'EPERM',
    story: 'TAP EPERM',
    detail: `${about}; ${target.name} may not attach without CAP_NET_ADMIN: ${why}, so QEMU fails with "could not configure /dev/net/tun (${name}): Operation not permitted"`,
    fix,
  };
}

/**
 * /dev/vhost-net, which QEMU opens for `vhost=on` (packets moved in the kernel). Informative:
 * without it QEMU moves them itself, so a guest that cannot open it still runs.
 */
export async function vhostNetCheck(target: DeviceTarget | undefined): Promise<Check> {
  const name = '/dev/vhost-net';
  let stats;
  try {
    stats = statSync(name);
  } catch {
    return { name, ok: true, detail: 'absent (modprobe vhost_net to add it): QEMU networks without vhost=on' };
  }
  const mode = describeMode(
    stats,
    (await userName(stats.uid)) ?? String(stats.uid),
    (await groupNames([stats.gid])).get(stats.gid) ?? String(stats.gid),
  );
  if (!target) return { name, ok: true, detail: `present (${mode}); pass --user to check that the guest can open it` };
  return checkAccess(name, target, READ | WRITE).ok
    ? { name, ok: true, detail: `${target.name} can open it (${mode}): QEMU's vhost=on works` }
    : {
        name,
        ok: true,
        detail: `${target.name} cannot open it (${mode}): QEMU's vhost=on would fail; leave vhost off, or open the device to a group the guest is in`,
      };
}
