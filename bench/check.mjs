// What each launcher's program really runs with: the credential lines of /proc/self/status.
// Prints {scenario, launcher, fields: {Uid, Gid, Groups, CapEff, CapAmb}}.
import { CHECK_PROGRAM, makeLauncher, parseCheck } from './launchers.mjs';
import { emit, scenarioOptions } from './scenario.mjs';

const o = scenarioOptions({ launcher: 'spawnGuest' });
const run = await makeLauncher(o.launcher);
const text = await run(CHECK_PROGRAM[0], CHECK_PROGRAM[1], 'pipe');
emit({ scenario: 'check', launcher: o.launcher, fields: parseCheck(text) });
