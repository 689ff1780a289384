import { signalName } from '../options.js';
import { programRefusals } from '../launch-plan.js';
import { planGuest, type GuestPlan } from '../guest-plan.js';
import { firstFailure, formatCheck, type Check } from './checks/report.js';
import { type FlagSpec, JSON_FLAG } from './command-line.js';
import { exitStatusForFailure } from './exit-status.js';
import { GUEST_OPTION_FLAGS, type GuestCommand } from './guest-command-line.js';
import { renderHelp } from './help.js';
import { groupNames, namedId } from './id-names.js';
import { readLauncherCredentials } from './checks/launcher-credentials.js';
import { describeSecurebits } from '../securebits.js';
import { launchChecks } from './checks/preflight.js';
import { withOptionSources } from './report-error.js';
import { bubblewrapCheck, findBubblewrap } from './bubblewrap.js';
import { looksSecret, printableEnvironment } from './secrets.js';
import { UsageError } from './usage-error.js';

const SHOW_SECRETS_FLAG: FlagSpec = {
  flag: 'show-secrets',
  help: 'show values of *TOKEN*, *SECRET*, *PASSWORD*, *KEY*',
};

const EXPLAIN_HELP = renderHelp({
  usage: ['capspawn explain [OPTIONS] [--json] [--show-secrets] [--] PROGRAM [ARGS...]'],
  description:
    'Decides everything run would (NSS lookups, groups, capabilities, environment, PATH search) ' +
    'and prints it with the /proc/<pid>/status lines the guest should show, then checks this process ' +
    'and the files involved for each launch step. Spawns nothing. Values of secret-looking variables ' +
    'are masked. Exits 0 when every check passes, else with the status run would fail with.',
  flags: [{ title: 'Options', flags: [...GUEST_OPTION_FLAGS, JSON_FLAG, SHOW_SECRETS_FLAG] }],
  examples: [
    'capspawn explain --user nobody --caps net_admin -- grep CapAmb /proc/self/status',
    'capspawn explain --config guest.json --json -- launch_cvd | jq .expectedStatus',
  ],
  footer: `Exit status:
  0 when every check passes; otherwise the status run would fail with:
  125 for a launch step, 126 when PROGRAM could not be executed, 127 when it
  was not found; 125 for a bad option.`,
});

/** An argument as a shell would need it written. */
function shellWord(word: string): string {
  return /^[\w@%+=:,./-]+$/.test(word) ? word : `'${word.replace(/'/g, `'\\''`)}'`;
}

interface Explanation {
  plan: GuestPlan;
  names: Map<number, string>;
  env: [string, string][];
  checks: Check[];
  programPath: string | undefined;
  exitStatus: number;
}

function explanationJson({ plan, names, env, checks, programPath, exitStatus }: Explanation, showSecrets: boolean): object {
  const group = (gid: number) => ({ gid, name: names.get(gid) ?? null });
  return {
    spawned: false,
    program: { file: plan.file, path: programPath ?? null, candidates: plan.candidates },
    argv: plan.argv,
    user: { uid: plan.uid, name: plan.user?.name ?? null },
    primaryGroup: group(plan.gid),
    groups: plan.groups.map(group),
    capabilities: plan.capabilities,
    env: Object.fromEntries(env),
    maskedVariables: showSecrets ? [] : env.map(([name]) => name).filter(looksSecret),
    cwd: plan.cwd ?? null,
    umask: plan.umask ?? null,
    detached: plan.detached,
    noNewPrivileges: plan.noNewPrivileges,
    limitBoundingSet: plan.limitBoundingSet,
    parentDeathSignal: plan.parentDeathSignal === 0 ? null : (signalName(plan.parentDeathSignal) ?? plan.parentDeathSignal),
    securebits: plan.securebits,
    placement: {
      cgroup: plan.placement.cgroup ?? null,
      ownCgroup: plan.placement.ownCgroup ?? null,
      rlimits: Object.fromEntries(plan.placement.rlimits.map((r) => [r.name, { soft: String(r.soft), hard: String(r.hard) }])),
      netns: plan.placement.netns ?? null,
      oomScoreAdj: plan.placement.oomScoreAdj ?? null,
      nice: plan.placement.nice ?? null,
    },
    expectedStatus: plan.expectedStatus,
    preflight: { ok: exitStatus === 0, failingStep: firstFailure(checks)?.step ?? null, exitStatus, checks },
  };
}

function explanationText({ plan, names, env, checks, programPath, exitStatus }: Explanation): string {
  const rows: [string, string][] = [
    ['program', programPath ?? `${plan.file} (not found)`],
    ['argv', plan.argv.map(shellWord).join(' ')],
    ['user', plan.user ? `${plan.user.name} (${plan.uid})` : `${plan.uid} (no passwd entry)`],
    ['primary group', namedId(plan.gid, names)],
    ['groups', plan.groups.map((gid) => namedId(gid, names)).join(', ') || '(none)'],
    ['capabilities', plan.capabilities.map((c) => `${c.name} (bit ${c.bit})`).join(', ') || '(none)'],
    ['cwd', plan.cwd ?? `${process.cwd()} (inherited)`],
    ['umask', plan.umask === undefined ? 'inherited' : plan.umask.toString(8).padStart(4, '0')],
    ['no_new_privs', plan.noNewPrivileges ? 'set' : 'not set by capspawn'],
    ['bounding set', plan.limitBoundingSet ? 'limited to the capabilities above' : 'inherited from this process'],
    ['pdeathsig', plan.parentDeathSignal === 0 ? 'none' : (signalName(plan.parentDeathSignal) ?? String(plan.parentDeathSignal))],
    ['securebits', describeSecurebits(plan.securebits)],
  ];
  if (plan.detached) rows.push(['session', 'new (setsid)']);
  const { cgroup, rlimits, netns, oomScoreAdj, nice } = plan.placement;
  const own = plan.placement.ownCgroup;
  if (own !== undefined) {
    const limits = own.limits.map((l) => `${l.file}=${l.text}`).join(', ') || 'no limits';
    rows.push(['cgroup', `${cgroup} (made for the guest: ${limits}; ${own.keep ? 'kept' : 'removed'} once its tree has exited)`]);
  } else if (cgroup !== undefined) rows.push(['cgroup', cgroup]);
  if (rlimits.length > 0) rows.push(['rlimits', rlimits.map((r) => `${r.name}=${r.soft}:${r.hard}`).join(', ')]);
  if (netns !== undefined) rows.push(['netns', String(netns)]);
  if (oomScoreAdj !== undefined) rows.push(['oom_score_adj', String(oomScoreAdj)]);
  if (nice !== undefined) rows.push(['nice', String(nice)]);
  const failure = firstFailure(checks);
  const verdict = failure
    ? failure.step === undefined
      ? `result: the launch would succeed, but the program would fail (${failure.name}); explain exits ${exitStatus}`
      : `result: the launch would fail at step ${failure.step} (${failure.name}); run would exit ${exitStatus}`
    : 'result: every check passed';
  return [
    'capspawn explain: nothing was run. The guest would get:',
    ...rows.map(([key, value]) => `  ${key.padEnd(14)}${value}`),
    '',
    `environment (${env.length} variables):`,
    ...env.map(([name, value]) => `  ${name}=${value}`),
    '',
    '/proc/<pid>/status of the guest should show:',
    ...Object.entries(plan.expectedStatus).map(([key, value]) => `  ${key}:\t${value}`),
    '',
    'preflight:',
    ...checks.map((check) => `  ${formatCheck(check)}`),
    '',
    verdict,
    '',
  ].join('\n');
}

async function explain({ profile, program, values }: Parameters<GuestCommand['execute']>[0]): Promise<number> {
  const [file, ...args] = program;
  if (file === undefined) throw new UsageError('no program given');
  const plan = await withOptionSources(profile, () => planGuest(file, args, profile.options));
  const [names, creds] = await Promise.all([groupNames([plan.gid, ...plan.groups]), readLauncherCredentials()]);
  const caps = plan.capabilities.map((c) => c.bit);
  const target = { uid: plan.uid, gid: plan.gid, groups: plan.groups, caps, name: plan.user?.name ?? `uid ${plan.uid}` };
  const checks = launchChecks(
    {
      caps,
      limitBoundingSet: plan.limitBoundingSet,
      target,
      cwd: plan.cwd,
      candidates: plan.candidates,
      refuse: programRefusals(plan),
      placement: plan.placement,
    },
    creds,
  );
  const programPath = checks.find((c) => c.step === 'execve')?.path;
  const bubblewrap = programPath === undefined ? undefined : findBubblewrap(programPath, plan.env.find(([name]) => name === 'PATH')?.[1]);
  if (bubblewrap) checks.push(bubblewrapCheck(bubblewrap, caps, namedId(plan.gid, names)));
  const failure = firstFailure(checks);
  const showSecrets = values['show-secrets'] === true;
  const explanation: Explanation = {
    plan,
    names,
    env: printableEnvironment(plan.env, showSecrets),
    checks,
    programPath,
    exitStatus: failure ? exitStatusForFailure(failure.step, failure.code) : 0,
  };
  process.stdout.write(
    values.json ? `${JSON.stringify(explanationJson(explanation, showSecrets), null, 2)}\n` : explanationText(explanation),
  );
  return explanation.exitStatus;
}

export const EXPLAIN_COMMAND: GuestCommand = {
  name: 'explain',
  summary: 'print what run would do and which step would fail; spawn nothing',
  help: EXPLAIN_HELP,
  guestFlags: GUEST_OPTION_FLAGS,
  ownFlags: [JSON_FLAG, SHOW_SECRETS_FLAG],
  takesProgram: true,
  userRequired: true,
  execute: explain,
};
