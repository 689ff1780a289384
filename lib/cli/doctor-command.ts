import { release } from 'node:os';
import { capabilityName, capabilityNumber, parseCapability } from '../capabilities.js';
import { SpawnGuestError } from '../errors.js';
import { checkCgroup, placeCgroup } from '../placement.js';
import { readOwnMounts } from '../procfs.js';
import { planGuest, type GuestPlan } from '../guest-plan.js';
import { type Check, formatCheck } from './checks/report.js';
import { type FlagSpec, JSON_FLAG } from './command-line.js';
import { CONFIG_FLAG } from './config-file.js';
import { GUEST_FLAGS } from './guest-flags.js';
import type { GuestCommand } from './guest-command-line.js';
import type { GuestProfile } from './guest-profile.js';
import { renderHelp } from './help.js';
import { cgroupHierarchyCheck, type DeviceTarget, kernelChecks, kvmCheck, tunCheck } from './checks/host.js';
import { groupNames, namedId, userName } from './id-names.js';
import { type LauncherCredentials, readLauncherCredentials } from './checks/launcher-credentials.js';
import { launchChecks } from './checks/preflight.js';
import { withOptionSources } from './report-error.js';
import { tapCheck, vhostNetCheck } from './checks/tap.js';

const TAP_FLAG: FlagSpec = {
  flag: 'tap',
  valueName: 'NAME',
  repeatable: true,
  help: 'check that the guest may attach to this TAP without capabilities',
};

/** The options doctor checks: who the guest is, what it holds, and where it runs. */
const CHECKED_OPTIONS: ReadonlySet<string> = new Set([
  'user',
  'primaryGroup',
  'supplementaryGroups',
  'extraGroups',
  'caps',
  'limitBoundingSet',
  'cwd',
  'allowRoot',
  'cgroup',
  'netns',
  'oomScoreAdj',
  'nice',
]);
const DOCTOR_FLAGS = [...GUEST_FLAGS.filter((f) => CHECKED_OPTIONS.has(f.option)), CONFIG_FLAG];

const DOCTOR_HELP = renderHelp({
  usage: ['capspawn doctor [--user USER] [--caps CAPS] [OPTIONS] [--json]'],
  description:
    'Checks the kernel, this process (uid; effective, permitted and bounding capabilities; ' +
    'NoNewPrivs; securebits), the user and groups, /dev/net/tun, /dev/vhost-net and /dev/kvm, and each --tap ' +
    'device (may the guest attach without capabilities; does a process hold it): one line each with ✓ or ✗ ' +
    'and a fix. Checks that guard against a known failure (ambient raise lost, group dropped, TAP EPERM) ' +
    'name it. Exits 1 when any check fails. Run it the way the daemon runs (same unit, same wrapper).',
  flags: [{ title: 'Options', flags: [...DOCTOR_FLAGS, TAP_FLAG, JSON_FLAG] }],
  examples: [
    'capspawn doctor --user justin --caps net_admin',
    'setpriv --bounding-set -net_admin -- capspawn doctor --caps net_admin',
    'capspawn doctor --user justin --groups cvdnetwork,kvm --tap cvd-mtap-01 --tap cvd-etap-01',
    'capspawn doctor --config guest.json --json',
  ],
  footer: 'Exit status:\n  0 when every check passes, 1 when any fails, 125 for a bad option.',
});

const NET_ADMIN = capabilityNumber('net_admin');

/** Any program will do: the plan's ids, groups and capabilities do not depend on it. */
const PLACEHOLDER_PROGRAM = process.execPath;

async function processCheck(creds: LauncherCredentials): Promise<Check> {
  const name = (await userName(creds.uid)) ?? 'no passwd entry';
  const nnp = creds.noNewPrivileges
    ? '; NoNewPrivs is set and every guest inherits it (setuid programs and file capabilities grant nothing in it)'
    : '; NoNewPrivs is not set';
  return { name: 'this process', ok: true, detail: `uid ${creds.uid} (${name})${nnp}` };
}

/** The guest's identity as spawnGuest would resolve it, or the check that says why it cannot be. */
async function identityChecks(profile: GuestProfile): Promise<{ checks: Check[]; plan?: GuestPlan }> {
  let plan: GuestPlan;
  try {
    // The cgroup is doctor's to check below, as a finding; the ids do not depend on it.
    plan = await withOptionSources(profile, () => planGuest(PLACEHOLDER_PROGRAM, [], { ...profile.options, cgroup: undefined }));
  } catch (error) {
    if (!(error instanceof SpawnGuestError && error.step === 'resolve')) throw error;
    const fix = 'check the name with `getent passwd` / `getent group`, or pass numeric ids';
    return { checks: [{ name: 'user and groups', ok: false, detail: error.message, fix, step: 'resolve', code: error.code }] };
  }
  const names = await groupNames([plan.gid, ...plan.groups]);
  const user = plan.user ? `${plan.user.name} (${plan.uid})` : `uid ${plan.uid} (no passwd entry)`;
  const groups = plan.groups.map((gid) => namedId(gid, names)).join(', ') || 'none';
  const base = profile.options.supplementaryGroups === undefined ? "the user's groups from NSS" : 'as listed';
  const source = profile.options.extraGroups?.length ? `${base}, with --add-groups` : base;
  return {
    plan,
    checks: [
      { name: 'user', ok: true, detail: `${user}, primary group ${namedId(plan.gid, names)}` },
      {
        name: 'groups',
        ok: true,
        story: 'group dropped',
        detail: `the guest gets exactly ${groups} (${source}), verified in the child before execve`,
      },
    ],
  };
}

async function doctor({ profile, values }: Parameters<GuestCommand['execute']>[0]): Promise<number> {
  const creds = await readLauncherCredentials();
  const checks: Check[] = [...kernelChecks(release()), await processCheck(creds)];

  let target: DeviceTarget | undefined;
  let caps: number[];
  if (profile.options.user !== undefined) {
    const identity = await identityChecks(profile);
    checks.push(...identity.checks);
    const plan = identity.plan;
    caps = plan ? plan.capabilities.map((c) => c.bit) : [];
    if (plan) target = { uid: plan.uid, gid: plan.gid, groups: plan.groups, caps, name: plan.user?.name ?? `uid ${plan.uid}` };
  } else {
    // No user to plan for: the capabilities alone still tell what this process must hold.
    const requested = profile.options.caps ?? [];
    caps = await withOptionSources(profile, () => requested.map((spec, i) => parseCapability(spec, `caps[${i}]`)));
  }
  const limitBoundingSet = profile.options.limitBoundingSet === true;
  const { netns, oomScoreAdj, nice } = profile.options;
  const checked = await withOptionSources(profile, () => {
    const request = checkCgroup(profile.options.cgroup);
    try {
      return request && placeCgroup(request, readOwnMounts());
    } catch (error) {
      // A directory that is not cgroup v2 is a finding of doctor's, as the parts of the host are.
      if ((error as { code?: unknown }).code !== 'ERR_CAPSPAWN_NOT_CGROUP2') throw error;
      const dir = request && ('parent' in request ? request.parent : request.join);
      checks.push({
        name: 'cgroup',
        ok: false,
        step: 'cgroup',
        code: 'ERR_CAPSPAWN_NOT_CGROUP2',
        detail: `${dir} is not a directory of a cgroup v2 file system`,
        fix: 'give a directory under the cgroup2 mount (findmnt -t cgroup2)',
      });
      return undefined;
    }
  });
  const cgroup = checked && 'dir' in checked ? checked.dir : undefined;
  const ownCgroup = checked && 'parent' in checked ? checked : undefined;
  checks.push(
    ...launchChecks(
      { caps, limitBoundingSet, target, cwd: target && profile.options.cwd, placement: { cgroup, ownCgroup, netns, oomScoreAdj, nice } },
      creds,
    ),
  );
  const netAdminGrantable = checks.find((c) => c.name === capabilityName(NET_ADMIN))?.ok === true;
  checks.push(await tunCheck(target, netAdminGrantable), await vhostNetCheck(target), await kvmCheck(target), cgroupHierarchyCheck());
  for (const tap of profile.taps) checks.push(await tapCheck(tap, target));

  const failed = checks.filter((c) => !c.ok).length;
  if (values.json) {
    process.stdout.write(`${JSON.stringify({ ok: failed === 0, checks }, null, 2)}\n`);
  } else {
    const summary = failed === 0 ? 'no problems found' : `${failed} problem${failed === 1 ? '' : 's'} found`;
    process.stdout.write(`${checks.map(formatCheck).join('\n')}\n\n${summary}\n`);
  }
  return failed === 0 ? 0 : 1;
}

export const DOCTOR_COMMAND: GuestCommand = {
  name: 'doctor',
  summary: 'check this host and this process for what a launch needs',
  help: DOCTOR_HELP,
  guestFlags: DOCTOR_FLAGS,
  ownFlags: [TAP_FLAG, JSON_FLAG],
  takesProgram: false,
  userRequired: false,
  execute: doctor,
};
