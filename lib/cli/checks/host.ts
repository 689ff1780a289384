import { statSync, type Stats } from 'node:fs';
import { capabilityNumber } from '../../capabilities.js';
import { readOwnMounts } from '../../procfs.js';
import { cgroupWords } from '../../own-cgroup.js';
import type { Check } from './report.js';
import { checkAccess, describeMode, READ, WRITE, type AccessIdentity } from './file-access.js';
import { groupNames, userName } from '../id-names.js';

/** Kernel features a launch relies on, and the release that brought each. */
const KERNEL_FEATURES = [
  { feature: 'ambient capabilities', since: [4, 3], required: true, use: 'PR_CAP_AMBIENT keeps capabilities across execve' },
  { feature: 'pidfd', since: [5, 4], required: true, use: 'clone(CLONE_PIDFD) and waitid(P_PIDFD) watch and signal the guest' },
  {
    feature: 'close_range',
    since: [5, 11],
    required: false,
    use: 'CLOSE_RANGE_CLOEXEC keeps descriptors from leaking into the guest; older kernels read /proc/self/fd instead, which must be mounted',
  },
] as const;

/** One line per kernel feature, judged from the release (`uname -r`). */
export function kernelChecks(release: string): Check[] {
  const [major = 0, minor = 0] = (/^(\d+)\.(\d+)/.exec(release) ?? []).slice(1).map(Number);
  return KERNEL_FEATURES.map(({ feature, since, required, use }) => {
    const present = major > since[0] || (major === since[0] && minor >= since[1]);
    const detail = `Linux ${release} ${present ? 'has' : 'predates'} it (since ${since.join('.')}): ${use}`;
    return present || !required
      ? { name: `kernel: ${feature}`, ok: true, detail }
      : { name: `kernel: ${feature}`, ok: false, detail, fix: `run on Linux ${since.join('.')} or later` };
  });
}

export type DeviceTarget = AccessIdentity & { name: string };

function characterDevice(path: string): Stats | undefined {
  try {
    const stats = statSync(path);
    return stats.isCharacterDevice() ? stats : undefined;
  } catch {
    return undefined;
  }
}

async function modeOf(stats: Stats): Promise<string> {
  const [owner, groups] = await Promise.all([userName(stats.uid), groupNames([stats.gid])]);
  return describeMode(stats, owner ?? String(stats.uid), groups.get(stats.gid) ?? String(stats.gid));
}

const NET_ADMIN = capabilityNumber('net_admin');

/**
 * /dev/net/tun: present, and openable by the guest (QEMU opens it for its TAP devices).
 * `netAdminGrantable` is the verdict of the CAP_NET_ADMIN check: a guest that asks for it
 * only holds it if this process can hand it out.
 */
export async function tunCheck(target: DeviceTarget | undefined, netAdminGrantable: boolean): Promise<Check> {
  const name = '/dev/net/tun';
  const stats = characterDevice(name);
  if (!stats)
    return {
      name,
      ok: false,
      detail: 'missing: TAP networking is unavailable',
      fix: 'load the tun module: modprobe tun',
      story: 'TAP EPERM',
    };
  const mode = await modeOf(stats);
  if (!target) return { name, ok: true, detail: `present (${mode}); pass --user to check that the guest can open it` };
  if (!checkAccess(name, target, READ | WRITE).ok) {
    return {
      name,
      ok: false,
      story: 'TAP EPERM',
      detail: `${target.name} cannot open it for reading and writing (${mode})`,
      fix: 'give it its usual mode 0666 (configuring a TAP device still takes CAP_NET_ADMIN), or open it to a group the guest is in',
    };
  }
  if (target.caps.includes(NET_ADMIN) && !netAdminGrantable) {
    return {
      name,
      ok: false,
      story: 'TAP EPERM',
      detail: `${target.name} can open it (${mode}), but cannot be given CAP_NET_ADMIN to configure TAP devices: this process cannot hand it out`,
      fix: 'see the CAP_NET_ADMIN check above',
    };
  }
  return target.caps.includes(NET_ADMIN)
    ? {
        name,
        ok: true,
        story: 'TAP EPERM',
        detail: `${target.name} can open it (${mode}) and holds CAP_NET_ADMIN to configure TAP devices`,
      }
    : {
        name,
        ok: true,
        story: 'TAP EPERM',
        detail: `${target.name} can open it (${mode}); without --caps net_admin it can only attach to a TAP device made for it (TUNSETIFF on others fails with EPERM)`,
      };
}

/** /dev/kvm: present, and open to the guest, usually through membership of its group. */
export async function kvmCheck(target: DeviceTarget | undefined): Promise<Check> {
  const name = '/dev/kvm';
  const stats = characterDevice(name);
  if (!stats) {
    return {
      name,
      ok: false,
      detail: 'missing: no hardware virtualization',
      fix: 'enable virtualization (nested virtualization on a VM) and load kvm_intel or kvm_amd',
    };
  }
  const mode = await modeOf(stats);
  if (!target) return { name, ok: true, detail: `present (${mode}); pass --user to check that the guest can open it` };
  if (checkAccess(name, target, READ | WRITE).ok)
    return { name, ok: true, story: 'group dropped', detail: `${target.name} can open it (${mode})` };
  const group = (await groupNames([stats.gid])).get(stats.gid) ?? String(stats.gid);
  const openToGroup = (stats.mode & 0o060) === 0o060 && stats.gid !== 0;
  return openToGroup
    ? {
        name,
        ok: false,
        story: 'group dropped',
        detail: `${target.name} is not in group ${group}, which /dev/kvm is open to (${mode})`,
        fix: `add the user to it (usermod -aG ${group} ${target.name}), or list ${group} in --groups`,
      }
    : {
        name,
        ok: false,
        story: 'group dropped',
        detail: `${target.name} cannot open it (${mode})`,
        fix: 'open it to a group (udev rule: KERNEL=="kvm", GROUP="kvm", MODE="0660") and add the user to that group',
      };
}

/**
 * Where cgroup v2 is mounted and which controllers it offers, for --cgroup: on a hybrid
 * host (cgroup v1 controllers beside a v2 "unified" mount) limits such as memory.max are not
 * available in v2.
 */
export function cgroupHierarchyCheck(): Check {
  const mounts = readOwnMounts()
    .filter((m) => m.type === 'cgroup2')
    .map((m) => m.point);
  const [mount] = mounts;
  if (mount === undefined) {
    return { name: 'cgroup v2', ok: true, detail: 'not mounted: --cgroup cannot be used here (everything else works)' };
  }
  let controllers: string[] = [];
  try {
    controllers = cgroupWords(mount, 'cgroup.controllers');
  } catch {}
  return { name: 'cgroup v2', ok: true, detail: `mounted at ${mount} with controllers: ${controllers.join(' ') || '(none)'}` };
}
