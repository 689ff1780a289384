// Turns the results of run.mjs into docs/benchmarks.md and docs/latency-vs-memory.svg.
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { LABELS, LAUNCHERS } from './launchers.mjs';
import { median, summarize } from './stats.mjs';
import { lineChart } from './svg-chart.mjs';

const CHART = 'latency-vs-memory.svg';

const sizeLabel = (mib) => (mib === 0 ? 'as started' : mib >= 1024 ? `+${mib / 1024} GiB` : `+${mib} MiB`);
const ms = (v) => (v === null || v === undefined || Number.isNaN(v) ? '–' : v < 10 ? v.toFixed(2) : v.toFixed(1));
const times = (v) => (Number.isNaN(v) || v === undefined ? '–' : `${v < 10 ? v.toFixed(2) : v.toFixed(1)}×`);
const range = (s, f = ms) => (s.runs > 1 ? `${f(s.min)}–${f(s.max)}` : '');
const cell = (s, f = ms) => (s ? `${f(s.median)}${s.runs > 1 ? ` (${range(s, f)})` : ''}` : 'not measured');
const kib = (bytes) => `${(bytes / 1024).toFixed(2)} KiB`;
const mib = (bytes) => `${(bytes / 2 ** 20).toFixed(1)} MiB`;
const perSpawn = (g) => (g.at.total.rss - g.at.first.rss) / (g.total - g.first);
const laterPerSpawn = (g) => (g.at.extra.rss - g.at.total.rss) / g.extra;

/** Per-round medians of one launcher at one size, and per-round ratios to spawnGuest. */
function latencyFigures(results) {
  const ok = results.latency.filter((r) => Array.isArray(r.samples) && r.samples.length > 0);
  const roundMedian = (launcher, mem, round) => {
    const r = ok.find((x) => x.launcher === launcher && x.memMiB === mem && x.round === round);
    return r ? median(r.samples) : undefined;
  };
  const figures = {};
  for (const launcher of LAUNCHERS) {
    figures[launcher] = {};
    for (const mem of results.config.sizes) {
      const runs = ok.filter((r) => r.launcher === launcher && r.memMiB === mem);
      if (runs.length === 0) continue;
      const medians = runs.map((r) => median(r.samples));
      const ratios = runs.map((r) => median(r.samples) / roundMedian('spawnGuest', mem, r.round)).filter((v) => Number.isFinite(v));
      const selfRatios = runs
        .map((r) => median(r.samples) / roundMedian(launcher, results.config.sizes[0], r.round))
        .filter((v) => Number.isFinite(v));
      figures[launcher][mem] = {
        ms: summarize(medians),
        toSpawnGuest: ratios.length ? summarize(ratios) : undefined,
        toOwnStart: selfRatios.length ? summarize(selfRatios) : undefined,
        rssMiB: median(runs.map((r) => r.rssMiB)),
        n: runs.reduce((n, r) => n + r.samples.length, 0),
      };
    }
  }
  return figures;
}

function byLauncher(list, key = (r) => r.launcher) {
  const out = {};
  for (const r of list) if (!r.error) (out[key(r)] ??= []).push(r);
  return out;
}

function targets(results, lat) {
  const start = results.config.sizes[0];
  const big = results.config.sizes.at(-1);
  const sg = lat.spawnGuest;
  const fig = (launcher, mem, key) => lat[launcher]?.[mem]?.[key]?.median;
  const storms = byLauncher(results.storm).spawnGuest ?? [];
  const stormMax = storms.map((s) => s.delayMs.max ?? s.longestStallMs);
  const growth = byLauncher(results.growth, (r) => `${r.launcher}/${r.young ?? 'default'}`);
  const fdGrowth = (g) => Math.max(g.at.total.fds, g.at.extra.fds) - g.at.first.fds;
  const g = growth['spawnGuest/fixed']?.[0];
  const gc = growth['child_process/fixed']?.[0];
  const gd = growth['spawnGuest/default']?.[0];
  const gcd = growth['child_process/default']?.[0];
  const list = [
    ['spawnGuest within 1.15× of the C floor (as started)', 1 / fig('floor', start, 'toSpawnGuest'), (v) => v <= 1.15, times],
    [
      'spawnGuest ≤ 0.85× the time of child_process.spawn (as started)',
      1 / fig('child_process', start, 'toSpawnGuest'),
      (v) => v <= 0.85,
      times,
    ],
    [
      `spawnGuest flat in parent memory: at ${sizeLabel(big)} ≤ 1.2× its own time as started`,
      sg?.[big]?.toOwnStart?.median,
      (v) => v <= 1.2,
      times,
    ],
    [
      `child_process.spawn ≥ 20× slower than spawnGuest at ${sizeLabel(big)}`,
      fig('child_process', big, 'toSpawnGuest'),
      (v) => v >= 20,
      times,
    ],
    ['setpriv chain ≥ 2.5× slower than spawnGuest (as started)', fig('setpriv', start, 'toSpawnGuest'), (v) => v >= 2.5, times],
    ['sudo chain ≥ 6× slower than spawnGuest (as started)', fig('sudo', start, 'toSpawnGuest'), (v) => v >= 6, times],
    [
      `event-loop delay max < 5 ms during a storm of ${results.config.storm.count} spawnGuest (median of ${storms.length} runs; worst ${ms(Math.max(...stormMax))} ms)`,
      stormMax.length ? median(stormMax) : undefined,
      (v) => v < 5,
      (v) => `${ms(v)} ms`,
    ],
    [
      `no fd growth over ${gd ? gd.total + gd.extra : '–'} spawnGuest spawns`,
      gd ? fdGrowth(gd) : undefined,
      (v) => v <= 0,
      (v) => `${v} fds`,
    ],
    [
      `RSS growth per spawn, ${g?.first ?? '–'}→${g?.total ?? '–'} after warm-up, young generation sized up front, ≤ child_process.spawn's (${gc ? kib(perSpawn(gc)) : '–'}); over the next ${g?.extra ?? '–'}: spawnGuest ${g ? kib(laterPerSpawn(g)) : '–'}, child_process ${gc ? kib(laterPerSpawn(gc)) : '–'}. With V8's defaults: spawnGuest ${gd ? kib(perSpawn(gd)) : '–'}, child_process ${gcd ? kib(perSpawn(gcd)) : '–'} (see Memory and fds)`,
      g && gc ? perSpawn(g) : undefined,
      (v) => v <= perSpawn(gc),
      kib,
    ],
  ];
  return list.map(([what, value, pass, format]) => ({
    what,
    figure: value === undefined || Number.isNaN(value) ? 'not measured' : format(value),
    verdict: value === undefined || Number.isNaN(value) ? '–' : pass(value) ? 'met' : '**missed**',
  }));
}

function chart(results, lat) {
  const sizes = results.config.sizes;
  const series = LAUNCHERS.filter((l) => Object.keys(lat[l]).length > 0).map((l) => ({
    label: LABELS[l],
    points: sizes.filter((m) => lat[l][m]).map((m) => ({ x: m, y: lat[l][m].ms.median, lo: lat[l][m].ms.min, hi: lat[l][m].ms.max })),
  }));
  return lineChart({
    title: 'Spawn-and-wait of /bin/true as nobody, by parent memory',
    subtitle: `median of ${results.config.rounds} runs, bars: range · ${results.machine.cpus} vCPU, Linux ${results.machine.kernel}, Node ${results.machine.node}, ${results.machine.date.slice(0, 10)}`,
    xLabel: 'resident memory held by the parent, MiB (beyond its starting size)',
    yLabel: 'ms per spawn (log scale)',
    xTicks: sizes.map((m) => ({ value: m, label: m === 0 ? 'as started' : `${m}` })),
    series,
  });
}

/** "Where spawnGuest's time goes": the parts measured by bench/breakdown.mjs, and the floor. */
function breakdownSection(results, md, head, row) {
  const runs = (results.breakdown ?? []).filter((r) => !r.error);
  const parts = runs.filter((r) => r.scenario === 'breakdown');
  if (parts.length === 0) return;
  const part = (name) => summarize(parts.map((r) => median(r.samples[name])));
  const floors = runs.filter((r) => r.launcher === 'floor');
  const hop = summarize(parts.map((r) => median(r.samples.statAsync) - median(r.samples.statSync)));
  const beyondFloor = summarize(
    parts.map((r) => median(r.samples.launch) - median(floors.find((f) => f.round === r.round)?.samples ?? [])).filter(Number.isFinite),
  );
  md.push("## Where spawnGuest's time goes", '');
  md.push('One process per run, the parts interleaved spawn by spawn (bench/breakdown.mjs), each run beside a run of the');
  md.push('C floor, as started. *Prepare* is what spawnGuest does before the launch: option checks, the NSS lookup (one');
  md.push("round trip through libuv's thread pool), the environment, the PATH search. *Launch and wait* hands a plan built");
  md.push('once to the addon: a thread-pool round trip for the launch (clone, the child procedure, execve), the answer back');
  md.push('on the event loop, the `Guest`, and the exit seen through the pidfd. A thread-pool round trip on its own is');
  md.push("`fs.promises.stat('/')` less `fs.statSync('/')`.", '');
  head(['Part', 'ms']);
  row(['Prepare (checks, NSS lookup, environment, PATH)', cell(part('prepare'))]);
  row(['Launch and wait (plan given)', cell(part('launch'))]);
  row(['Whole spawnGuest call and wait', cell(part('whole'))]);
  row([
    'C floor (one C thread: clone, credential drop, execve, waitpid)',
    floors.length ? cell(summarize(floors.map((f) => median(f.samples)))) : 'not measured',
  ]);
  row(['Launch and wait less the floor of the same run', beyondFloor.runs ? cell(beyondFloor) : 'not measured']);
  row(['One thread-pool round trip (stat, async less sync)', cell(hop)]);
  md.push('');
  md.push('A launch from Node that keeps blocking work off the event loop pays two thread-pool round trips (the NSS');
  md.push('lookup and the launch), each waking a pool thread and then the event loop, and the exit reaches JavaScript');
  md.push('through the event loop; the floor is one thread blocked in `clone` and then in `waitpid`. The child procedure');
  md.push("adds the signal reset (one `rt_sigaction` per signal), `close_range` and the verify reads to the floor's system calls.", '');
}

/** "A cgroup of its own, and tracing": bench/lifecycle.mjs, the plain launch beside the others in each run. */
export function lifecycleSection(results, md, head, row) {
  const runs = (results.lifecycle ?? []).filter((r) => !r.error && r.samples);
  if (runs.length === 0) return;
  const part = (name) => summarize(runs.map((r) => median(r.samples[name])));
  const extra = (name) => summarize(runs.map((r) => median(r.samples[name]) - median(r.samples.plain)));
  const ratio = (name) => summarize(runs.map((r) => median(r.samples[name]) / median(r.samples.plain)));
  md.push('## A cgroup of its own, and tracing', '');
  md.push('One process per run (bench/lifecycle.mjs), the parts interleaved spawn by spawn, as started: spawn-and-wait of');
  md.push('`/bin/true` as above; with `cgroup: { parent }` (mkdir, the child joins it, cgroup.events watched, rmdir once');
  md.push('`treeExited`, which it also waits for); and with subscribers on `capspawn:spawn` and `capspawn:exit`. The');
  md.push('unsubscribed row is the check a launch makes when nobody listens, timed alone over many calls.', '');
  head(['Launch', 'ms', 'ms more than plain', '× plain']);
  row(['Plain spawnGuest and wait', cell(part('plain')), '', '1']);
  row(['With a cgroup of its own, made and removed', cell(part('ownCgroup')), cell(extra('ownCgroup')), cell(ratio('ownCgroup'), times)]);
  row(['With tracing subscribers', cell(part('traced')), cell(extra('traced')), cell(ratio('traced'), times)]);
  row([
    'Tracing, nobody subscribed (per launch)',
    `${cell(summarize(runs.map((r) => r.unsubscribedNs / 1e6)), (v) => v.toFixed(6))}`,
    '',
    '',
  ]);
  md.push('');
}

export function writeReport(results, outDir) {
  const lat = latencyFigures(results);
  const sizes = results.config.sizes;
  const m = results.machine;
  const md = [];
  const row = (cells) => md.push(`| ${cells.join(' | ')} |`);
  const head = (cells, align) => {
    row(cells);
    row(align ?? cells.map((_, i) => (i === 0 ? '---' : '---:')));
  };

  md.push('# Benchmarks', '');
  md.push('Generated by `npm run bench` (bench/run.mjs); do not edit by hand. Each scenario ran in its own');
  md.push('process; launchers were interleaved round by round and every ratio is taken between runs of the');
  md.push('same round, then the median of those ratios is shown. Figures are "median (min–max over runs)".');
  md.push('These are reports, not tests: nothing here fails CI.', '');
  md.push(
    `Machine: ${m.cpu}, ${m.cpus} vCPU, ${m.memoryGiB} GiB, Linux ${m.kernel}, Node ${m.node}, transparent hugepages \`${m.transparentHugepages}\`, ${m.date}; the run took ${Math.round(results.durationSeconds)} s.`,
    '',
  );
  for (const [l, why] of Object.entries(results.missing)) md.push(`- **${LABELS[l]} not measured:** ${why}.`);
  if (Object.keys(results.missing).length) md.push('');

  md.push('## Targets', '');
  head(['Target', 'Figure', ''], ['---', '---:', '---']);
  for (const t of targets(results, lat)) row([t.what, t.figure, t.verdict]);
  md.push('');

  md.push('## Spawn-and-wait latency', '');
  md.push('Sequential spawn-and-wait of `/bin/true` as nobody:nogroup (uid/gid 65534), asking each launcher for');
  md.push('supplementary group nogroup and ambient CAP_NET_ADMIN, from a parent holding extra resident memory');
  md.push('(Buffers, every page written). Per run: warm-up, then up to');
  md.push(
    `${results.config.latency.iterations} spawns or ${results.config.latency.budgetMs} ms (at least ${results.config.latency.minIterations}); the run's value is its median.`,
    '',
  );
  md.push(
    "- **capspawn spawnGuest**: `spawnGuest('/bin/true', [], {user: 'nobody', primaryGroup: 'nogroup', supplementaryGroups: ['nogroup'], caps: ['net_admin'], stdio: 'ignore'})`, then `await guest.exited`;",
  );
  md.push(
    "- **child_process.spawn {uid, gid}**: `spawn('/bin/true', [], {uid: 65534, gid: 65534, stdio: 'ignore'})` — sets neither groups nor capabilities;",
  );
  md.push(
    "- **spawn setpriv**: `spawn('setpriv', ['--reuid=65534', '--regid=65534', '--groups=65534', '--inh-caps=+net_admin', '--ambient-caps=+net_admin', '--', '/bin/true'])`;",
  );
  md.push('- **spawn sudo … setpriv**: `sudo -u nobody -g nogroup -- setpriv --ambient-caps +net_admin -- /bin/true`;');
  md.push(
    '- **C floor**: bench/floor.c, built at bench time with `cc -O2`: `clone(CLONE_VM|CLONE_VFORK)`, the same credential drop by raw system calls, `execve`, `waitpid`, in a loop (no signal reset, verify or report pipe).',
    '',
  );
  head(['Launcher', ...sizes.map((s) => `ms, ${sizeLabel(s)}`), ...sizes.map((s) => `× spawnGuest, ${sizeLabel(s)}`)]);
  for (const l of LAUNCHERS) {
    const f = lat[l];
    row([
      LABELS[l],
      ...sizes.map((s) => cell(f[s]?.ms)),
      ...sizes.map((s) => (l === 'spawnGuest' ? '1' : cell(f[s]?.toSpawnGuest, times))),
    ]);
  }
  md.push('');
  const rss = sizes.map((s) => `${sizeLabel(s)}: ${ms(lat.spawnGuest[s]?.rssMiB)} MiB`).join(', ');
  md.push(`Parent RSS of the spawnGuest runs (median) — ${rss}.`);
  const own = sizes
    .slice(1)
    .map((s) => `${sizeLabel(s)} ${cell(lat.spawnGuest[s]?.toOwnStart, times)}`)
    .join(', ');
  md.push(`spawnGuest relative to its own time as started: ${own}.`, '');
  md.push(`![Latency against parent memory](${CHART})`, '');
  breakdownSection(results, md, head, row);
  lifecycleSection(results, md, head, row);

  md.push('## What the program got', '');
  md.push('The same request through each launcher, running `grep` on its own `/proc/self/status`:', '');
  head(['Launcher', 'Uid', 'Gid', 'Groups', 'CapEff', 'CapAmb'], ['---', '---', '---', '---', '---', '---']);
  for (const c of results.check) {
    const f = c.fields ?? {};
    row([
      LABELS[c.launcher],
      f.Uid ?? '–',
      f.Gid ?? '–',
      f.Groups === undefined ? '–' : f.Groups || '(none)',
      `\`${f.CapEff ?? '–'}\``,
      `\`${f.CapAmb ?? '–'}\``,
    ]);
  }
  md.push('');
  const sudo = results.check.find((c) => c.launcher === 'sudo')?.fields;
  if (sudo) {
    md.push(
      sudo.CapAmb === '0000000000000000'
        ? '**The sudo chain leaves `CapAmb` at 0**: after sudo has switched user, setpriv no longer holds CAP_SETPCAP, its ambient raise fails, and it runs the program anyway. Its time buys a program without the capability that was asked for.'
        : `The sudo chain gave CapAmb \`${sudo.CapAmb}\` on this machine.`,
      '',
    );
  }

  md.push('## Throughput', '');
  md.push(
    `Spawn-and-wait of \`/bin/true\` kept at 8 or 32 in flight for ${results.config.throughput.budgetMs} ms, as started. Spawns per second (median, range over runs).`,
    '',
  );
  const tput = results.throughput.filter((r) => !r.error);
  const inflights = results.config.throughput.inflight;
  head(['Launcher', ...inflights.map((n) => `${n} in flight, /s`), ...inflights.map((n) => `spawnGuest ÷ it, ${n} in flight`)]);
  for (const l of LAUNCHERS.filter((x) => x !== 'floor')) {
    const per = (n) => tput.filter((r) => r.launcher === l && r.inflight === n);
    const rate = (n) => (per(n).length ? summarize(per(n).map((r) => r.perSecond)) : undefined);
    const ratio = (n) => {
      const v = per(n)
        .map((r) => tput.find((s) => s.launcher === 'spawnGuest' && s.inflight === n && s.round === r.round)?.perSecond / r.perSecond)
        .filter(Number.isFinite);
      return v.length ? summarize(v) : undefined;
    };
    row([
      LABELS[l],
      ...inflights.map((n) => cell(rate(n), (v) => v.toFixed(0))),
      ...inflights.map((n) => (l === 'spawnGuest' ? '1' : cell(ratio(n), times))),
    ]);
  }
  md.push('', 'The C floor is sequential by construction and has no throughput row.', '');

  md.push('## Event-loop delay during a storm', '');
  const st = results.config.storm;
  md.push(`${st.count} spawn-and-waits of \`/bin/true\` kept at ${st.inflight} in flight, as started, measured with`);
  md.push('`perf_hooks.monitorEventLoopDelay({resolution: 1})` (each value includes the 1 ms timer period). A loop that');
  md.push('never returns to its timers records nothing, so the longest gap between runs of a 1 ms `setTimeout` chain,');
  md.push('counted to the end of the storm, is shown too. Median (range) over runs; "none recorded" where the histogram');
  md.push('got no value in any run.', '');
  head(['Launcher', 'p50, ms', 'p99, ms', 'max, ms', 'longest stall, ms', 'timer turns', 'storm took, ms']);
  const storms = byLauncher(results.storm);
  for (const l of ['spawnGuest', 'child_process']) {
    const s = storms[l] ?? [];
    const pick = (f) => {
      const v = s.map(f).filter((x) => x !== null && x !== undefined);
      return v.length ? summarize(v) : undefined;
    };
    // Runs whose loop never got back to its timers have no histogram values at all.
    const delay = (f) => (s.length === 0 ? 'not measured' : pick(f) ? cell(pick(f)) : 'none recorded');
    row([
      LABELS[l],
      delay((r) => r.delayMs.p50),
      delay((r) => r.delayMs.p99),
      delay((r) => r.delayMs.max),
      cell(pick((r) => r.longestStallMs)),
      cell(
        pick((r) => r.loopTurns),
        (v) => v.toFixed(0),
      ),
      cell(
        pick((r) => r.elapsedMs),
        (v) => v.toFixed(0),
      ),
    ]);
  }
  md.push('');

  md.push('## Memory and fds', '');
  const gcfg = results.config.growth;
  md.push(`After a warm-up of ${gcfg.warmup} spawns, sequential spawn-and-waits; RSS and open fds read after ${gcfg.first} and after`);
  md.push(
    `${gcfg.total} of them (two full GCs before each reading, \`node --expose-gc\`). Growth per spawn = difference ÷ ${gcfg.total - gcfg.first}.`,
  );
  md.push(`A third reading after ${gcfg.extra} more spawns shows whether RSS keeps growing (a leak) or levels off.`, '');
  md.push("Each launcher runs twice: with V8's defaults, and with the young generation sized up front");
  md.push('(`--min-semi-space-size=16 --max-semi-space-size=16`). V8 starts the young generation small and grows it,');
  md.push('once and up to a fixed maximum, when many objects survive its scavenges; that growth is committed heap');
  md.push('that shows as RSS in whichever window it falls, and says nothing about memory kept per spawn. The');
  md.push('"young generation" columns show it; the runs with it sized up front measure what each spawn keeps.', '');
  const later = gcfg.total + gcfg.extra;
  head([
    'Launcher',
    'V8 young generation',
    `RSS after ${gcfg.first}`,
    `RSS after ${gcfg.total}`,
    'RSS growth per spawn',
    `RSS after ${later}`,
    `growth per spawn, ${gcfg.total}→${later}`,
    `fds after ${gcfg.first} / ${gcfg.total} / ${later}`,
    'V8 heap used, per spawn',
    `young generation committed, after ${gcfg.first} / ${gcfg.total} / ${later}`,
  ]);
  for (const g of results.growth.filter((r) => !r.error)) {
    const n = g.total - g.first;
    const { first, total, extra } = g.at;
    row([
      LABELS[g.launcher],
      g.young === 'fixed' ? 'sized up front' : 'V8 defaults',
      mib(first.rss),
      mib(total.rss),
      kib(perSpawn(g)),
      mib(extra.rss),
      kib(laterPerSpawn(g)),
      `${first.fds} / ${total.fds} / ${extra.fds}`,
      kib((total.heapUsed - first.heapUsed) / n),
      [first, total, extra].map((at) => (at.young === undefined ? '–' : mib(at.young))).join(' / '),
    ]);
  }
  md.push('');
  md.push('## Reproduce', '');
  md.push('```sh');
  md.push('npm ci');
  md.push('sudo npm run bench            # as root; about 6 minutes on 2 vCPU; writes docs/benchmarks.md and docs/latency-vs-memory.svg');
  md.push('CAPSPAWN_BENCH_QUICK=1 npm run bench   # a smoke run in seconds, written to a temporary directory');
  md.push('```', '');
  md.push('The sudo row needs sudo (`apt-get install sudo`); the floor needs a C compiler (`cc`). The bench installs nothing.');

  const mdPath = join(outDir, 'benchmarks.md');
  const svgPath = join(outDir, CHART);
  writeFileSync(mdPath, `${md.join('\n')}\n`);
  writeFileSync(svgPath, chart(results, lat));
  return [mdPath, svgPath];
}
