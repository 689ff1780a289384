// Where spawnGuest's time goes, measured in one process with the parts interleaved: the
// preparation (option checks, the NSS lookup on the thread pool, environment, PATH search),
// the launch and wait alone (a launch plan built once, handed to the addon; the child; the exit
// seen through the pidfd), the whole call, and one round trip through libuv's thread pool
// (fs.promises.stat less statSync of the same path). Prints {scenario, samples: {prepare,
// launch, whole, statAsync, statSync}} in ms. Uses dist/'s internal modules, which the package
// does not export.
import { statSync } from 'node:fs';
import { stat } from 'node:fs/promises';
import { Guest } from '../dist/guest.js';
import { buildLaunchPlan } from '../dist/launch-plan.js';
import { prepareGuest } from '../dist/prepared-guest.js';
import { spawnGuest } from '../dist/index.js';
import { TARGET } from './launchers.mjs';
import { emit, interleaved, scenarioOptions } from './scenario.mjs';

const o = scenarioOptions({ warmup: 20, iterations: 300 });
const { user, group, cap } = TARGET;
const options = { user, primaryGroup: group, supplementaryGroups: [group], caps: [cap], stdio: 'ignore' };
const prepared = await prepareGuest('/bin/true', [], options);
const plan = buildLaunchPlan(prepared.options, prepared.identity, prepared.environment, prepared.candidates, prepared.facts);

async function launchOnly() {
  const answer = await prepared.native.launch(plan);
  if ('step' in answer) throw new Error(`launch failed at step ${answer.step}, errno ${answer.errno}`);
  const guest = new Guest({
    native: prepared.native,
    pid: answer.pid,
    pidfd: answer.pidfd,
    fds: answer.fds,
    spawnfile: '/bin/true',
    spawnargs: ['/bin/true'],
    killSignal: 15,
    timeout: undefined,
    signal: undefined,
  });
  await guest.exited;
}

async function whole() {
  const guest = await spawnGuest('/bin/true', [], options);
  await guest.exited;
}

const parts = {
  prepare: () => prepareGuest('/bin/true', [], options),
  launch: launchOnly,
  whole,
  statAsync: () => stat('/'),
  statSync: () => statSync('/'),
};
emit({ scenario: 'breakdown', samples: await interleaved(parts, o) });
