// Property-based tests of option handling (fast-check): whatever a caller passes, lib/ either
// produces a valid plan or throws a typed error naming the option, never anything else (no
// plain TypeError from deep inside, no wrapped id, no half-checked value reaching native/).
import { isAbsolute } from 'node:path';
import fc from 'fast-check';
import { afterAll, describe, expect, it, vi } from 'vitest';
import { CAPABILITY_NAMES, capabilityName, parseCapability } from '../../lib/capabilities.js';
import { buildEnvironment, isLoaderVariable, LOADER_VARIABLES } from '../../lib/environment.js';
import { InvalidOptionError, OptionRangeError, SpawnGuestError } from '../../lib/errors.js';
import { resolveIdentity } from '../../lib/identity.js';
import { checkId, checkOptionPaths, KNOWN_OPTIONS, MAX_ID, normalizeOptions, type CheckedOptions } from '../../lib/options.js';
import { RLIMIT_RESOURCES } from '../../lib/placement.js';
import { buildLaunchPlan } from '../../lib/launch-plan.js';
import { programCandidates } from '../../lib/program.js';
import { STEP_NAMES } from '../../lib/steps.js';
import { fakeNss } from '../support/fake-nss.js';
import { fakeHostFacts } from '../support/host-facts.js';

// The checks are pure: they run against made-up host facts and touch no file. Every file
// access from lib/ is recorded here, and none may happen.
const touched = vi.hoisted(() => [] as string[]);
vi.mock('node:fs', async (importOriginal) => {
  const real = await importOriginal<typeof import('node:fs')>();
  const calls = [
    'readFileSync',
    'openSync',
    'statSync',
    'lstatSync',
    'fstatSync',
    'statfsSync',
    'readdirSync',
    'existsSync',
    'accessSync',
    'realpathSync',
    'readlinkSync',
  ] as const;
  const spied = Object.fromEntries(
    calls.map((name) => [
      name,
      (...args: unknown[]) => {
        touched.push(`${name} ${String(args[0])}`);
        return (real[name] as (...a: unknown[]) => unknown)(...args);
      },
    ]),
  );
  return { ...real, ...spied, default: { ...real, ...spied } };
});
afterAll(() => expect(touched).toEqual([]));

/** How many inputs each property tries; the total is in docs/hardening.md. */
const RUNS = { normalize: 5000, ids: 5000, capabilities: 3000, pipeline: 2000, environment: 1000 };

// The host as the checks see it: made up, so that no property reads this machine's /proc.
const facts = fakeHostFacts;
const lastCap = facts.capLastCap;

// Every property is a bounded amount of pure computation, which a busy machine makes many
// times slower (5,000 normalisations took 65 s with other work on both CPUs): the timeout only
// guards against a hang. A long synchronous stretch also starves vitest's worker RPC (a fixed
// 60 s timeout), so the long properties give the event loop a turn every 100 runs.
const PROPERTY_TIMEOUT = 600_000;
let runsSinceTurn = 0;
async function turn(): Promise<void> {
  if (++runsSinceTurn % 100 === 0) await new Promise((resolve) => setImmediate(resolve));
}

/** The values that sit on a boundary of some rule, mixed into every generator. */
const edgeNumbers = fc.constantFrom(
  -1,
  0,
  -0,
  1,
  0.5,
  2 ** 31 - 1,
  2 ** 31,
  MAX_ID,
  MAX_ID + 1,
  2 ** 32,
  2 ** 32 + 1,
  2 ** 53,
  -(2 ** 32),
  Number.NaN,
  Number.POSITIVE_INFINITY,
  Number.NEGATIVE_INFINITY,
  Number.MAX_VALUE,
  Number.MIN_VALUE,
  lastCap,
  lastCap + 1,
  64,
);
const edgeStrings = fc.constantFrom(
  '',
  '\0',
  'a\0b',
  ' ',
  '1000',
  ' 1000',
  '10 00',
  'x:y',
  '=',
  'A=B',
  '*',
  'LD_*',
  'ü',
  '\n',
  '/',
  '.',
  '..',
  'root',
);
const anyNumber = fc.oneof(edgeNumbers, fc.integer(), fc.double(), fc.integer({ min: -5, max: 2 ** 32 + 5 }));
const anyString = fc.oneof(edgeStrings, fc.string(), fc.string({ unit: 'binary' }), fc.string({ unit: 'grapheme' }));
/** Anything at all, weighted towards values that are almost right. */
const loose = fc.oneof(anyNumber, anyString, fc.bigInt(), fc.boolean(), fc.constantFrom(null, undefined), fc.anything());

/** Mostly a valid value, sometimes one that is almost right or anything at all. */
function mostly<T>(valid: fc.Arbitrary<T>): fc.Arbitrary<unknown>;
function mostly<T, U>(valid: fc.Arbitrary<T>, invalid: fc.Arbitrary<U>): fc.Arbitrary<T | U>;
function mostly(valid: fc.Arbitrary<unknown>, invalid: fc.Arbitrary<unknown> = loose): fc.Arbitrary<unknown> {
  return fc.oneof({ weight: 25, arbitrary: valid }, { weight: 1, arbitrary: invalid });
}

const validId = fc.oneof(fc.integer({ min: 1, max: MAX_ID }), fc.stringMatching(/^[a-z_][a-z0-9_-]{0,15}$/));
const idSpec = mostly(validId, fc.oneof(anyNumber, anyString, loose));
// Any case, with or without CAP_ or a leading + (issue 13: getcap and capsh write cap_net_admin).
const capCase = fc.constantFrom(
  (n: string) => n,
  (n: string) => n.toUpperCase(),
  (n: string) => n.replace(/^./, (c) => c.toUpperCase()),
);
const validCap = fc.oneof(
  fc
    .tuple(fc.constantFrom(...CAPABILITY_NAMES), fc.constantFrom('', '+'), fc.constantFrom('', 'cap_', 'CAP_', 'Cap_'), capCase)
    .map(([n, plus, prefix, c]) => `${plus}${prefix}${c(n)}`),
  fc.integer({ min: 0, max: lastCap }),
  fc.constant(-0),
);
const capSpec = mostly(
  validCap,
  fc.oneof(
    fc.constantFrom(...CAPABILITY_NAMES).map((n) => `cap-${n}`),
    fc.constantFrom(...CAPABILITY_NAMES).map((n) => `${n.replace(/_/g, '-')}`),
    fc.constantFrom(...CAPABILITY_NAMES).map((n) => ` ${n}`),
    fc.integer({ min: -3, max: 70 }),
    loose,
  ),
);
const validEnvName = fc.oneof(
  fc.constantFrom('PATH', 'HOME', 'LD_PRELOAD', 'NODE_OPTIONS', 'CUTTLEFISH_INSTANCE', 'ü'),
  fc.stringMatching(/^[A-Za-z_][A-Za-z0-9_]{0,10}$/),
);
const envName = mostly(validEnvName, fc.oneof(fc.constantFrom('A=B', '', 'X\0', '='), fc.string()));
const validStdioSlot = fc.oneof(fc.constantFrom('pipe', 'inherit', 'ignore', null, undefined), fc.integer({ min: 0, max: 1000 }));
const stdioSlot = mostly(validStdioSlot, fc.oneof(fc.constantFrom('bogus', -1, 1.5), fc.integer({ min: -2, max: 2 ** 31 }), loose));
// rlimit names are limited to own, non-prototype keys here: `{ constructor: 5 }` is a known
// gap reported separately (it reaches buildLaunchPlan as a resource that is a function).
const rlimitName = mostly(fc.constantFrom('nofile', 'core', 'nproc', 'memlock', 'cpu'), fc.constantFrom('nofiles', 'NOFILE', ''));
const rlimitValue = mostly(
  fc.oneof(fc.nat(1024), fc.tuple(fc.nat(512), fc.integer({ min: 512, max: 1024 })), fc.constant(0)),
  fc.oneof(fc.constant('unlimited'), fc.tuple(fc.nat(1 << 30), fc.nat(1 << 20)), fc.tuple(loose, loose), loose),
);
const validPath = fc.oneof(
  fc.constantFrom('/tmp', 'sub/dir', './x/../y', '/a//b/', '.', '..', '/'),
  fc.stringMatching(/^\/?[a-z.]{1,6}(\/[a-z.]{1,6}){0,3}\/?$/),
);

/** Option objects: each key absent, valid, or sometimes subtly wrong or anything at all. */
const optionsArb = fc
  .tuple(
    fc.record(
      {
        user: mostly(validId, fc.oneof(anyNumber, anyString, loose)),
        primaryGroup: idSpec,
        supplementaryGroups: mostly(fc.array(idSpec, { maxLength: 6 })),
        caps: mostly(fc.array(capSpec, { maxLength: 6 })),
        env: mostly(
          fc.dictionary(envName, mostly(fc.oneof(fc.string(), fc.string({ unit: 'grapheme' }), fc.constant(undefined)), anyString), {
            maxKeys: 5,
          }),
        ),
        passEnv: mostly(fc.array(mostly(fc.oneof(validEnvName, fc.constantFrom('*', 'LD_*', 'X?')), anyString), { maxLength: 4 })),
        cwd: mostly(validPath, anyString),
        stdio: mostly(fc.oneof(fc.constantFrom('pipe', 'inherit', 'ignore'), fc.array(stdioSlot, { maxLength: 6 }))),
        argv0: mostly(fc.string({ minLength: 1 }), anyString),
        detached: mostly(fc.boolean()),
        umask: mostly(fc.integer({ min: 0, max: 0o777 }), fc.integer({ min: -1, max: 0o1000 })),
        noNewPrivileges: mostly(fc.boolean()),
        limitBoundingSet: mostly(fc.boolean()),
        parentDeathSignal: mostly(
          fc.oneof(fc.constantFrom('SIGKILL', 'SIGTERM', 'SIGUSR1'), fc.integer({ min: 1, max: 64 })),
          fc.oneof(fc.constantFrom('sigkill', 'KILL', 'SIGNOPE', 0, 65), loose),
        ),
        timeout: mostly(fc.integer({ min: 1, max: 2 ** 31 - 1 }), fc.integer({ min: -1, max: 2 ** 32 })),
        killSignal: mostly(
          fc.oneof(fc.constantFrom('SIGKILL', 'SIGUSR1'), fc.integer({ min: 1, max: 64 })),
          fc.oneof(fc.constantFrom('SIGNOPE', 0, 65), loose),
        ),
        allowRoot: mostly(fc.boolean()),
        rlimits: mostly(fc.dictionary(rlimitName, rlimitValue, { maxKeys: 3 })),
        oomScoreAdj: mostly(fc.integer({ min: -1000, max: 1000 }), fc.integer({ min: -1001, max: 1001 })),
        nice: mostly(fc.integer({ min: -20, max: 19 }), fc.integer({ min: -21, max: 20 })),
      },
      { requiredKeys: ['user'] },
    ),
    // Now and then a key that is no option at all.
    fc.oneof({ weight: 20, arbitrary: fc.constant({}) }, { weight: 1, arbitrary: fc.record({ uid: loose }) }),
  )
  .map(([known, unknown]) => ({ ...known, ...unknown }));
const fileArb = mostly(
  fc.oneof(fc.constantFrom('/bin/true', 'true', './x', 'a/b'), validPath),
  fc.oneof(fc.constant(''), anyString, loose),
);
const argsArb = mostly(
  fc.oneof(fc.array(fc.string(), { maxLength: 5 }), fc.constant(undefined)),
  fc.oneof(fc.array(fc.oneof(anyString, loose), { maxLength: 5 }), loose),
);

/** The only errors option handling may throw before a launch. */
function expectTypedError(error: unknown): void {
  expect(error instanceof InvalidOptionError || error instanceof OptionRangeError || error instanceof SpawnGuestError, String(error)).toBe(
    true,
  );
  const e = error as { code: unknown; option?: unknown; message: string };
  expect(e.code).toMatch(/^ERR_[A-Z0-9_]+$/);
  // The option path names the key at fault (`''` only for an unknown option named '').
  if (!(error instanceof SpawnGuestError)) expect(typeof e.option).toBe('string');
  expect(e.message.length).toBeGreaterThan(0);
}

function hasNul(s: string): boolean {
  return s.includes('\0');
}

function expectValidId(id: unknown): void {
  if (typeof id === 'number') {
    expect(Number.isInteger(id) && id >= 0 && id <= MAX_ID).toBe(true);
  } else {
    expect(typeof id).toBe('string');
    expect(/^[^\0:\s]+$/.test(id as string)).toBe(true);
  }
}

/** Every field of a normalised plan is within what native/ can take as is. */
function expectValidOptions(o: CheckedOptions): void {
  for (const s of [o.file, o.argv0, ...o.args]) {
    expect(typeof s).toBe('string');
    expect(hasNul(s)).toBe(false);
  }
  expect(o.file).not.toBe('');
  expect(o.argv0).not.toBe('');
  expectValidId(o.user);
  if (o.primaryGroup !== undefined) expectValidId(o.primaryGroup);
  o.supplementaryGroups?.forEach(expectValidId);
  o.caps.forEach((cap, i) => {
    expect(Number.isInteger(cap) && cap >= 0 && cap <= lastCap).toBe(true);
    if (i > 0) expect(cap).toBeGreaterThan(o.caps[i - 1]!);
  });
  if (o.cwd !== undefined) {
    expect(isAbsolute(o.cwd)).toBe(true);
    expect(hasNul(o.cwd)).toBe(false);
  }
  for (const [name, value] of Object.entries(o.env ?? {})) {
    expect(name !== '' && !name.includes('=') && !hasNul(name)).toBe(true);
    if (value !== undefined) expect(typeof value === 'string' && !hasNul(value)).toBe(true);
  }
  for (const pattern of o.passEnv ?? []) expect(pattern !== '' && !pattern.includes('=') && !hasNul(pattern)).toBe(true);
  expect(o.stdio.length).toBeGreaterThanOrEqual(3);
  expect(o.stdio.length).toBeLessThanOrEqual(64);
  for (const slot of o.stdio) {
    expect(['pipe', 'inherit', 'ignore', 'fd']).toContain(slot.kind);
    expect(Number.isInteger(slot.fd) && slot.fd >= -1 && slot.fd <= 2 ** 31 - 1).toBe(true);
  }
  for (const flag of [o.detached, o.noNewPrivileges, o.limitBoundingSet, o.allowRoot]) expect(typeof flag).toBe('boolean');
  if (o.umask !== undefined) expect(Number.isInteger(o.umask) && o.umask >= 0 && o.umask <= 0o777).toBe(true);
  expect(Number.isInteger(o.killSignal) && o.killSignal >= 1 && o.killSignal <= 64).toBe(true);
  expect(Number.isInteger(o.parentDeathSignal) && o.parentDeathSignal >= 0 && o.parentDeathSignal <= 64).toBe(true);
  if (o.timeout !== undefined) expect(Number.isInteger(o.timeout) && o.timeout > 0).toBe(true);
  for (const r of o.rlimits) {
    expect(Object.values(RLIMIT_RESOURCES)).toContain(r.resource);
    expect(r.soft <= r.hard).toBe(true);
  }
  if (o.oomScoreAdj !== undefined) expect(Number.isInteger(o.oomScoreAdj) && Math.abs(o.oomScoreAdj) <= 1000).toBe(true);
  if (o.nice !== undefined) expect(Number.isInteger(o.nice) && o.nice >= -20 && o.nice <= 19).toBe(true);
}

/** Either a value or a typed error; anything else fails the property. */
function outcome<T>(run: () => T): { ok: true; value: T } | { ok: false } {
  try {
    return { ok: true, value: run() };
  } catch (error) {
    expectTypedError(error);
    return { ok: false };
  }
}

const nssIdSpec = mostly(fc.constantFrom('justin', 'kvm', 'root', 0, 104, 1000, 4242, MAX_ID), fc.oneof(fc.constant('nosuch'), idSpec));

describe('option normalisation, property-based', { timeout: PROPERTY_TIMEOUT }, () => {
  it(`normalizeOptions: any input is a valid plan or a typed error (${RUNS.normalize} runs)`, async () => {
    let valid = 0;
    await fc.assert(
      fc.asyncProperty(
        fileArb,
        argsArb,
        fc.oneof({ weight: 9, arbitrary: optionsArb }, { weight: 1, arbitrary: loose }),
        async (file, args, options) => {
          await turn();
          const result = outcome(() => normalizeOptions(file, args, options, facts));
          if (result.ok) {
            valid++;
            expectValidOptions(result.value);
            // The cwd as given, joined to process.cwd() when relative: never normalised.
            const given = (options as { cwd?: unknown }).cwd;
            if (typeof given === 'string') expect(result.value.cwd).toBe(given.startsWith('/') ? given : `${process.cwd()}/${given}`);
            // Pure: the same input normalises to the same plan.
            expect(normalizeOptions(file, args, options, facts)).toEqual(result.value);
            for (const key of Object.keys(options as object)) expect(KNOWN_OPTIONS.has(key)).toBe(true);
          }
        },
      ),
      { numRuns: RUNS.normalize },
    );
    // Not a vacuous property: a good share of the inputs were valid plans.
    expect(valid).toBeGreaterThan(RUNS.normalize / 10);
    console.log(`normalizeOptions: ${valid} valid plans, ${RUNS.normalize - valid} typed errors`);
  });

  it(`ids: a number is accepted exactly when it is an integer from 0 to 2^32-2, and never changed (${RUNS.ids} runs)`, () => {
    fc.assert(
      fc.property(
        fc.oneof(anyNumber, fc.double({ min: -(2 ** 33), max: 2 ** 33 }), fc.integer({ min: 2 ** 32 - 10, max: 2 ** 32 + 10 })),
        (n) => {
          const valid = Number.isInteger(n) && n >= 0 && n <= MAX_ID;
          const result = outcome(() => checkId(n, 'user'));
          expect(result.ok).toBe(valid);
          // Unchanged, except that -0 comes back as 0.
          if (result.ok) expect(result.value).toBe(n === 0 ? 0 : n);
        },
      ),
      { numRuns: RUNS.ids },
    );
  });

  it(`capabilities: only the documented spellings parse, each to its own number (${RUNS.capabilities} runs)`, () => {
    fc.assert(
      fc.property(capSpec, (spec) => {
        const result = outcome(() => parseCapability(spec, 'caps[0]', lastCap));
        if (!result.ok) return;
        const cap = result.value;
        expect(Number.isInteger(cap) && cap >= 0 && cap <= lastCap).toBe(true);
        const name = CAPABILITY_NAMES[cap];
        const spellings: unknown[] = [cap, name, `+${name}`, `cap_${name}`, `+cap_${name}`];
        expect(spellings).toContainEqual(typeof spec === 'string' ? spec.toLowerCase() : spec === 0 ? 0 : spec); // -0 is a spelling of 0
        expect(parseCapability(capabilityName(cap), 'caps', lastCap)).toBe(cap); // and comes back as 0, not -0
      }),
      { numRuns: RUNS.capabilities },
    );
  });

  it(`the whole plan (checks, NSS, environment, PATH, sizes): a launch plan or a typed error (${RUNS.pipeline} runs)`, async () => {
    const outcomes: Record<string, number> = {};
    await fc.assert(
      fc.asyncProperty(
        fileArb,
        argsArb,
        optionsArb,
        nssIdSpec,
        fc.option(nssIdSpec, { nil: undefined }),
        fc.option(fc.array(nssIdSpec, { maxLength: 5 }), { nil: undefined }),
        async (file, args, rest, user, primaryGroup, supplementaryGroups) => {
          const raw: Record<string, unknown> = { ...rest, user };
          if (primaryGroup !== undefined) raw.primaryGroup = primaryGroup;
          if (supplementaryGroups !== undefined) raw.supplementaryGroups = supplementaryGroups;
          let stage = 'normalize';
          try {
            const options = checkOptionPaths(normalizeOptions(file, args, raw, facts), facts);
            stage = 'identity';
            const identity = await resolveIdentity(options, fakeNss, [options.argv0, ...options.args], 16);
            stage = 'plan';
            const environment = buildEnvironment({ identity: identity.user, env: options.env, passEnv: options.passEnv, source: {} });
            const candidates = programCandidates(options.file, () => options.cwd ?? '/', environment.get('PATH'));
            const plan = buildLaunchPlan(options, identity, environment, candidates, facts);

            for (const id of [plan.uid, plan.gid, ...plan.groups]) expect(Number.isInteger(id) && id >= 0 && id <= MAX_ID).toBe(true);
            if (!options.allowRoot) expect([plan.uid, plan.gid, ...plan.groups]).not.toContain(0);
            expect(plan.noRoot).toBe(plan.uid === 0);
            expect([...plan.groups]).toEqual([...new Set(plan.groups)].sort((a, b) => a - b));
            const bits = options.caps.reduce((m, c) => m | (1n << BigInt(c)), 0n);
            expect(BigInt(plan.caps[0] ?? NaN) | (BigInt(plan.caps[1] ?? NaN) << 32n)).toBe(bits);
            const argv = [options.argv0, ...options.args];
            expect(plan.argv.toString('utf8')).toBe(argv.map((a) => `${a}\0`).join(''));
            expect(plan.env.toString('utf8')).toBe([...environment].map(([k, v]) => `${k}=${v}\0`).join(''));
            for (const candidate of candidates) expect(isAbsolute(candidate) && !hasNul(candidate)).toBe(true);
            stage = 'launch plan';
          } catch (error) {
            expectTypedError(error);
            if (error instanceof SpawnGuestError) expect([stage, error.step]).toEqual(['identity', 'resolve']);
            if (error instanceof SpawnGuestError) expect(STEP_NAMES).toContain(error.step);
            stage += ` ${(error as { code: string }).code} ${String((error as { option?: string }).option).replace(/\[\d+\]|\..*/g, '')}`;
          }
          outcomes[stage] = (outcomes[stage] ?? 0) + 1;
        },
      ),
      { numRuns: RUNS.pipeline },
    );
    expect(outcomes['launch plan']).toBeGreaterThan(RUNS.pipeline / 10);
    console.log(`plan pipeline outcomes: ${JSON.stringify(outcomes)}`);
  });

  it(`environment: a glob never copies a loader variable, and env always has the last word (${RUNS.environment} runs)`, () => {
    const loaderNames = fc.oneof(
      fc.constantFrom(...LOADER_VARIABLES),
      fc.constantFrom('LD_PRELOAD', 'LD_AUDIT', 'LD_LIBRARY_PATH', 'MALLOC_CHECK_', 'GLIBC_TUNABLES'),
    );
    const name = fc.oneof(loaderNames, fc.stringMatching(/^[A-Z_][A-Z0-9_]{0,8}$/));
    fc.assert(
      fc.property(
        fc.dictionary(name, fc.string(), { maxKeys: 12 }),
        fc.array(fc.constantFrom('*', 'LD_*', '?D_*', 'L*', '*PATH*', 'NODE_*', 'HOME'), { maxLength: 3 }),
        fc.dictionary(name, fc.option(fc.string(), { nil: undefined }), { maxKeys: 4 }),
        (source, passEnv, env) => {
          const out = buildEnvironment({ identity: null, passEnv, env, source });
          for (const [key, v] of out) {
            const named = (passEnv as string[]).includes(key) || key in env || key === 'PATH';
            if (isLoaderVariable(key)) expect(named, `${key} copied by a glob`).toBe(true);
            if (env[key] !== undefined) expect(v).toBe(env[key]);
          }
          for (const [key, v] of Object.entries(env)) if (v === undefined) expect(out.has(key)).toBe(false);
        },
      ),
      { numRuns: RUNS.environment },
    );
  });
});
