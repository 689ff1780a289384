// What a supervisor's options cost per launch, measured in one process with the parts
// interleaved spawn by spawn: the plain launch; a cgroup of the guest's own (made with mkdir,
// joined, watched through cgroup.events, removed once the tree has exited); the plain launch
// with subscribers on capspawn:spawn and capspawn:exit. And what the launch pays for tracing
// when nobody subscribes: the check that builds nothing, timed on its own over many calls.
// Prints {scenario, samples: {plain, ownCgroup, traced}, unsubscribedNs} (samples in ms).
import { subscribe, tracingChannel, unsubscribe } from 'node:diagnostics_channel';
import { mkdirSync, rmdirSync } from 'node:fs';
import { join } from 'node:path';
import { traceStart } from '../dist/launch-trace.js';
import { prepareGuest } from '../dist/prepared-guest.js';
import { readOwnMounts } from '../dist/procfs.js';
import { spawnGuest } from '../dist/index.js';
import { TARGET } from './launchers.mjs';
import { emit, interleaved, scenarioOptions } from './scenario.mjs';

const o = scenarioOptions({ warmup: 20, iterations: 300, calls: 1000000 });
const { user, group, cap } = TARGET;
const options = { user, primaryGroup: group, supplementaryGroups: [group], caps: [cap], stdio: 'ignore' };

const mount = readOwnMounts().find((m) => m.type === 'cgroup2')?.point;
if (!mount) throw new Error('no cgroup v2 mount');
const parent = join(mount, `capspawn-bench-${process.pid}`);
mkdirSync(parent);

const spawnTrace = tracingChannel('capspawn:spawn');
const handlers = { start() {}, end() {}, asyncStart() {}, asyncEnd() {}, error() {} };
const onExit = () => {};

const parts = {
  async plain() {
    const guest = await spawnGuest('/bin/true', [], options);
    await guest.exited;
  },
  async ownCgroup() {
    const guest = await spawnGuest('/bin/true', [], { ...options, cgroup: { parent } });
    await guest.exited;
    await guest.treeExited;
  },
  async traced() {
    spawnTrace.subscribe(handlers);
    subscribe('capspawn:exit', onExit);
    try {
      const guest = await spawnGuest('/bin/true', [], options);
      await guest.exited;
    } finally {
      spawnTrace.unsubscribe(handlers);
      unsubscribe('capspawn:exit', onExit);
    }
  },
};
try {
  const samples = await interleaved(parts, o);
  // The unsubscribed path: traceStart with nobody listening returns before building anything.
  const prepared = await prepareGuest('/bin/true', [], options);
  const argv = ['/bin/true'];
  let kept = 0;
  const start = performance.now();
  for (let i = 0; i < o.calls; i++) if (traceStart(prepared.options, prepared.identity, prepared.environment, argv) === undefined) kept++;
  const unsubscribedNs = ((performance.now() - start) * 1e6) / o.calls;
  if (kept !== o.calls) throw new Error('traceStart built a message with nobody subscribed');
  emit({ scenario: 'lifecycle', samples, unsubscribedNs });
} finally {
  rmdirSync(parent);
}
