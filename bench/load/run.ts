/**
 * `pnpm bench:load`: the demo under autocannon, reproducing the seed's table and more.
 *
 * For each database the environment offers (embedded PGlite always; MariaDB with VALVE_MYSQL_URL,
 * PostgreSQL with VALVE_POSTGRES_URL) it starts the demo itself (own process group, 127.0.0.1,
 * a free port), waits for /healthz, and runs the scenarios round-robin (the order rotates per
 * run so no route always goes first), then stops it with SIGTERM. Every run is bounded by its
 * duration; nothing but the demo it started is ever signalled.
 *
 *   node dist/load/run.js [--quick] [--connections N] [--duration S] [--runs N]
 *                         [--db pglite,mysql,postgres] [--scenario burst,overload,events,durable]
 *   node dist/load/run.js --scenario scale-out [--quick] [--connections N] [--duration S] [--runs N]
 *
 * Defaults match the seed: 100 connections, 15 s per run, 3 runs. `--quick`: 3 s, 1 run.
 * `--db` and `--scenario` pick a subset for fast iteration; such a run writes
 * load-<date>[-quick]-partial.md/.svg, never over the file of a complete run.
 * Results: bench/results/load-<date>[-quick].md and .svg (and the raw .json, not committed), written
 * after every database block (results.ts), so a late failure keeps the blocks before it.
 *
 * `--scenario scale-out` runs alone (scaleOut.ts): the demo with 1 and 2 processes on PostgreSQL
 * (VALVE_POSTGRES_URL) and Redis-backed limits (REDIS_URL); it writes load-<date>[-quick]-scale-out.md.
 */
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { cpus, loadavg, totalmem } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { type Bar, renderChart } from './chart.js';
import { CUSTOMERS, HOT_ID, median, SEEDS, ZIPF_S, zipfSampler } from '@valve/demo/shared';
import { type DemoProcess, startDemo } from './demoProcess.js';
import { controlRequest, okJson, okText } from './control.js';
import { measure, type RunResult, type Target } from './measure.js';
import { type Comparison, evaluate, resultsMarkdown, type VariantRuns } from './report.js';
import { type DbBlock, type ResultsFile, toJson, writeBlock } from './results.js';
import {
  type BurstCounters,
  coalescedShareOf,
  HOT_TARGET_TEXT,
  HOT_TARGET_WHY,
  hotCustomerVerdict,
} from './targets.js';
import { runScaleOut, SCALE_OUT_PROCESSES, scaleOutMarkdown } from './scaleOut.js';

const DATABASES = ['pglite', 'mysql', 'postgres'] as const;
type DatabaseKey = (typeof DATABASES)[number];
const SCENARIOS = ['burst', 'overload', 'events', 'durable'] as const;
/** Not in a default run: it starts its own demos (1 and 2 processes) and needs Redis and PostgreSQL. */
const SCALE_OUT = 'scale-out';
type Scenario = (typeof SCENARIOS)[number] | typeof SCALE_OUT;

interface Settings {
  quick: boolean;
  connections: number;
  durationS: number;
  runs: number;
  /** `--db`: the databases to run (for fast iteration); all the environment offers by default. */
  databases: ReadonlySet<DatabaseKey>;
  /**
   * `--scenario`: the scenarios to run (burst: hot, Zipf and cached; events: the 202 route against
   * both baselines; durable: the 201-once-committed route against one multi-row INSERT per
   * request); all by default.
   */
  scenarios: ReadonlySet<Scenario>;
}

const USAGE =
  'usage: node dist/load/run.js [--quick] [--connections N] [--duration S] [--runs N] ' +
  '[--db pglite,mysql,postgres] [--scenario burst,overload,events,durable | scale-out]';

function listOf<T extends string>(name: string, value: string | undefined, allowed: readonly T[]): Set<T> {
  const items = (value ?? '').split(',').map((x) => x.trim());
  const bad = items.filter((x) => !(allowed as readonly string[]).includes(x));
  if (items.length === 0 || bad.length > 0) {
    throw new Error(`${name} must be a comma-separated list of ${allowed.join(', ')}, got ${JSON.stringify(value)}`);
  }
  return new Set(items as T[]);
}

function parseArgs(argv: string[]): Settings {
  const s: Settings = {
    quick: false,
    connections: 100,
    durationS: 15,
    runs: 3,
    databases: new Set(DATABASES),
    scenarios: new Set<Scenario>(SCENARIOS),
  };
  const num = (name: string, value: string | undefined, min: number, max: number): number => {
    const n = Number(value);
    if (!Number.isInteger(n) || n < min || n > max) {
      throw new Error(`${name} must be an integer from ${min} to ${max}, got ${JSON.stringify(value)}`);
    }
    return n;
  };
  let explicitDuration = false;
  let explicitRuns = false;
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    // `pnpm bench:load -- --quick` passes the `--` through to us: the same as without it.
    if (arg === '--') continue;
    if (arg === '--quick') s.quick = true;
    else if (arg === '--connections') s.connections = num('--connections', argv[++i], 1, 2000);
    else if (arg === '--duration') {
      s.durationS = num('--duration', argv[++i], 1, 600);
      explicitDuration = true;
    } else if (arg === '--runs') {
      s.runs = num('--runs', argv[++i], 1, 10);
      explicitRuns = true;
    } else if (arg === '--db') s.databases = listOf('--db', argv[++i], DATABASES);
    else if (arg === '--scenario') s.scenarios = listOf<Scenario>('--scenario', argv[++i], [...SCENARIOS, SCALE_OUT]);
    else if (arg === '--help' || arg === '-h') {
      console.log(USAGE);
      process.exit(0);
    } else throw new Error(`unknown argument ${JSON.stringify(arg)} (try --help)`);
  }
  if (s.scenarios.has(SCALE_OUT) && s.scenarios.size > 1) {
    throw new Error('--scenario scale-out runs alone (it starts its own demos), not with other scenarios');
  }
  if (s.quick) {
    if (!explicitDuration) s.durationS = 3;
    if (!explicitRuns) s.runs = 1;
  }
  return s;
}

const here = dirname(fileURLToPath(import.meta.url));
const repo = join(here, '..', '..', '..');
const SERVER = join(repo, 'apps', 'demo', 'dist', 'server.js');
const RESULTS = join(repo, 'bench', 'results');
/** Connections for the overload scenario: enough that an unbounded queue shows in latency. */
const OVERLOAD_CONNECTIONS = 600;
/**
 * The overload scenario's connections and rate are spread over this many autocannon instances
 * started 50 ms apart (measure.ts, `spreadOffsets`): one instance sends each of its connections'
 * per-second budgets in one synchronized burst at the top of every second, so 600 connections on
 * one instance offered 600 requests at once and then nothing: a thundering herd, not a rate.
 */
const OVERLOAD_WAVES = 20;
/**
 * The first second of each overload run is left out of its numbers (for both variants): while
 * the waves start and 600 connections open, the offered load is still ramping up, and a
 * connection's first request can wait seconds before the server even reads it (the demo's own
 * request-duration histogram stays under 250 ms meanwhile), which says nothing about admission.
 */
const OVERLOAD_RAMP_UP_S = 1;
/** Offered load of the overload scenario, as a multiple of the report route's measured capacity. */
const OVERLOAD_FACTOR = 3;
/** Events per POST in the ingestion scenario (the demo accepts up to EVENTS_MAX_PER_REQUEST = 100). */
const EVENTS_PER_REQUEST = 50;

/** The 1, 5 and 15 minute load averages, as `uptime` prints them. */
const loadAverage = () =>
  loadavg()
    .map((x) => x.toFixed(2))
    .join(', ');

let current: DemoProcess | undefined;

interface Variant {
  key: string;
  label: string;
  route: string;
  target: Target;
  connections?: number;
  overallRate?: number;
  /** Autocannon instances the connections and rate are spread over (measure's `waves`). */
  waves?: number;
  /** Seconds at the start of each measured run left out of its numbers (measure's `rampUpS`). */
  rampUpS?: number;
  /**
   * Wait after each run until the database's backlog is gone (see `settle`): an overloaded
   * unprotected route leaves queries queued in the driver's pool that would otherwise run into
   * the next variant's measurement.
   */
  settle?: boolean;
  /**
   * A BurstValve this variant's route goes through: its counters (/metrics) are read before and
   * after each measured run, so the coalesced share is of this variant's measured runs alone.
   */
  burstValve?: string;
}

/**
 * Waits (at most 60 s) until a single cheap lookup answers within 100 ms twice in a row: the
 * database (its connection pool's queue, or PGlite's one connection) has caught up.
 */
async function settle(url: string): Promise<void> {
  const deadline = Date.now() + 60_000;
  let fast = 0;
  while (fast < 2 && Date.now() < deadline) {
    const started = performance.now();
    try {
      await (await fetch(`${url}/unprotected/direct/customers/1`, { signal: AbortSignal.timeout(10_000) })).text();
      fast = performance.now() - started < 100 ? fast + 1 : 0;
    } catch {
      fast = 0;
    }
    if (fast < 2) await new Promise((r) => setTimeout(r, 100));
  }
}

function log(line: string): void {
  process.stdout.write(`${line}\n`);
}

const fmt = (n: number) => Math.round(n).toLocaleString('en-US');

interface Rounds {
  /** Each variant's measured runs, by key. */
  runs: Map<string, RunResult[]>;
  /**
   * For each variant with a `burstValve`: its counters summed over the measured runs, or
   * undefined when a read failed (then nothing is claimed from them).
   */
  burst: Map<string, BurstCounters | undefined>;
}

/** Runs every variant `runs` times, round-robin with a rotating start. */
async function rounds(
  db: string,
  url: string,
  variants: Variant[],
  s: Settings,
  /** Runs once after the warm-ups, before the first measured run (e.g. to read a baseline). */
  afterWarmUp?: () => Promise<void>,
): Promise<Rounds> {
  const results = new Map<string, RunResult[]>(variants.map((v) => [v.key, []]));
  const burst = new Map<string, BurstCounters | undefined>(
    variants.filter((v) => v.burstValve).map((v) => [v.key, { fetches: 0, coalesced: 0, linger: 0 }]),
  );
  /** Reads a valve's counters; undefined (and the log says why) when /metrics did not answer. */
  const countersOf = async (valve: string): Promise<BurstCounters | undefined> => {
    try {
      return await burstCounters(url, valve);
    } catch (error) {
      log(`[${db}] could not read the counters of BurstValve ${valve}: ${messageOf(error)}`);
      return undefined;
    }
  };
  const tty = process.stdout.isTTY;
  // Warm-up (not counted): JIT, connection pools, PGlite's WASM, caches.
  for (const v of variants) {
    await measure({
      url,
      target: v.target,
      connections: v.connections ?? s.connections,
      durationS: 1,
      overallRate: v.overallRate,
      waves: v.waves,
    });
    if (v.settle) await settle(url);
  }
  await afterWarmUp?.();
  for (let run = 0; run < s.runs; run++) {
    for (let j = 0; j < variants.length; j++) {
      const v = variants[(run + j) % variants.length];
      const label = `[${db}] run ${run + 1}/${s.runs} ${v.label.padEnd(34)}`;
      if (!tty) log(`${label} …`);
      const countersBefore = v.burstValve ? await countersOf(v.burstValve) : undefined;
      const r = await measure({
        url,
        target: v.target,
        connections: v.connections ?? s.connections,
        durationS: s.durationS,
        overallRate: v.overallRate,
        waves: v.waves,
        rampUpS: v.rampUpS,
        onTick: tty
          ? (ok, t) => process.stdout.write(`\r${label} ${t}/${s.durationS} s, ${fmt(ok / t)} ok/s`)
          : undefined,
      });
      results.get(v.key)?.push(r);
      if (v.burstValve) {
        const countersAfter = await countersOf(v.burstValve);
        const sum = burst.get(v.key);
        burst.set(
          v.key,
          sum && countersBefore && countersAfter
            ? {
                fetches: sum.fetches + countersAfter.fetches - countersBefore.fetches,
                coalesced: sum.coalesced + countersAfter.coalesced - countersBefore.coalesced,
                linger: sum.linger + countersAfter.linger - countersBefore.linger,
              }
            : undefined,
        );
      }
      if (v.settle) await settle(url);
      const line = `${label} ${fmt(r.okPerSec).padStart(6)} ok/s  p50 ${r.p50Ms.toFixed(1)} ms  p99 ${r.p99Ms.toFixed(1)} ms  503 ${r.shed}  other ${r.otherErrors}`;
      if (tty) process.stdout.write(`\r${line}\n`);
      else log(line);
    }
  }
  return { runs: results, burst };
}

const messageOf = (error: unknown) => (error instanceof Error ? error.message : String(error));

/**
 * A control request to the demo (not measured): bounded per attempt and retried (3 attempts,
 * 1 s then 2 s apart; control.ts), logged when it needs a retry.
 */
function control<T>(url: string, init: RequestInit, read: (res: Response) => Promise<T>, timeoutMs: number) {
  return controlRequest(url, init, read, {
    timeoutMs,
    onRetry: (attempt, error) =>
      log(`   control request ${url} failed (attempt ${attempt}): ${messageOf(error)}; retrying`),
  });
}

async function routeExists(url: string, method: 'GET' | 'POST', path: string): Promise<boolean> {
  return control(
    `${url}${path}`,
    {
      method,
      body: method === 'POST' ? '{}' : undefined,
      headers: method === 'POST' ? { 'content-type': 'application/json' } : undefined,
    },
    async (res) => {
      const body = (await res.json().catch(() => ({}))) as { error?: { code?: string } };
      return !(res.status === 404 && body.error?.code === 'not_found');
    },
    5000,
  );
}

const get = (path: string | (() => string)): Target => ({ method: 'GET', path });

/**
 * Runs `fn`; if it throws, the failure is recorded in the block (and logged) instead of ending
 * the run: the block keeps what was measured before it, and the next scenario or database runs.
 */
async function section(report: DbBlock, what: string, fn: () => Promise<void>): Promise<void> {
  try {
    await fn();
  } catch (error) {
    const line = `${what}: ${messageOf(error)}`;
    log(`[${report.name}] FAILED ${line}`);
    report.failures.push(line);
  }
}

async function runDatabase(
  key: DatabaseKey,
  name: string,
  databaseUrl: string | undefined,
  s: Settings,
  full: boolean,
): Promise<DbBlock> {
  log(`\n== ${name}: starting the demo (${CUSTOMERS.toLocaleString('en-US')} customers)…`);
  const env: Record<string, string> = { SEED_CUSTOMERS: String(CUSTOMERS), DEMO_TABLE_PREFIX: 'valve_load_' };
  if (databaseUrl !== undefined) env.DATABASE_URL = databaseUrl;
  const report: DbBlock = {
    key,
    name,
    ceiling: Number.NaN,
    loadStart: loadAverage(),
    loadEnd: '',
    comparisons: [],
    skipped: [],
    notes: [],
    failures: [],
  };
  let demo: DemoProcess;
  try {
    demo = await startDemo({ serverPath: SERVER, env });
  } catch (error) {
    report.failures.push(`starting the demo: ${messageOf(error)}`);
    report.loadEnd = loadAverage();
    log(`[${name}] FAILED starting the demo: ${messageOf(error)}`);
    return report;
  }
  current = demo;
  log(`   load average (1, 5, 15 min): ${report.loadStart}`);
  const url = demo.url;
  try {
    await section(report, 'the BurstValve scenarios (hot customer, Zipf mix, cached) and the Express ceiling', () =>
      burstScenarios(name, url, s, full, report),
    );
    if (full && Number.isFinite(report.ceiling)) {
      await section(report, 'the overload scenario', () => overload(name, url, s, report));
      await section(report, 'the events scenarios', () => events(name, url, s, report));
    } else if (full)
      report.skipped.push('Overload and events: the Express ceiling was not measured (see the failures).');
  } finally {
    report.loadEnd = loadAverage();
    log(`== ${name}: stopping the demo (SIGTERM, it drains accepted work)…`);
    await demo.stop();
    current = undefined;
  }
  return report;
}

async function burstScenarios(name: string, url: string, s: Settings, full: boolean, report: DbBlock): Promise<void> {
  const pick = async (path: string) =>
    (await routeExists(url, 'GET', `/unprotected${path}/1`)) ? `/unprotected${path}` : path;
  const direct = await pick('/direct/customers');
  const hasBurst = await routeExists(url, 'GET', '/customers/1');
  const burst = hasBurst ? await pick('/customers') : undefined;
  const zipf = zipfSampler(CUSTOMERS, ZIPF_S, SEEDS.zipf);
  const zipfPath = (base: string) => () => `${base}/${zipf()}`;

  const variants: Variant[] = [
    { key: 'ceiling', label: 'Express ceiling /healthz', route: '/healthz', target: get('/healthz') },
  ];
  variants.push({
    key: 'direct-hot',
    label: 'hot: direct',
    route: `${direct}/${HOT_ID}`,
    target: get(`${direct}/${HOT_ID}`),
  });
  // The protected route (BurstValve first, the SafetyValve inside its fetcher): shown next to
  // the hot comparison, with its coalesced share from /metrics.
  const protectedBurst = hasBurst && burst !== '/customers' ? '/customers' : undefined;
  if (protectedBurst)
    variants.push({
      key: 'burst-hot-safe',
      label: 'hot: BurstValve + SafetyValve',
      route: `${protectedBurst}/${HOT_ID}`,
      target: get(`${protectedBurst}/${HOT_ID}`),
      burstValve: 'customers',
    });
  if (burst)
    variants.push({
      key: 'burst-hot',
      label: 'hot: BurstValve',
      route: `${burst}/${HOT_ID}`,
      target: get(`${burst}/${HOT_ID}`),
      burstValve: burst === '/customers' ? 'customers' : 'customers_unprotected',
    });
  variants.push({
    key: 'direct-zipf',
    label: 'zipf: direct',
    route: `${direct}/<zipf>`,
    target: get(zipfPath(direct)),
  });
  if (burst)
    variants.push({
      key: 'burst-zipf',
      label: 'zipf: BurstValve',
      route: `${burst}/<zipf>`,
      target: get(zipfPath(burst)),
    });

  let cachedDirect: string | undefined;
  let cachedBurst: string | undefined;
  if (full) {
    cachedDirect = await pick('/cached/direct/customers');
    cachedBurst = (await routeExists(url, 'GET', '/cached/customers/1')) ? await pick('/cached/customers') : undefined;
    variants.push({
      key: 'cached-direct',
      label: 'cached zipf: direct',
      route: `${cachedDirect}/<zipf>`,
      target: get(zipfPath(cachedDirect)),
    });
    if (cachedBurst)
      variants.push({
        key: 'cached-burst',
        label: 'cached zipf: BurstValve',
        route: `${cachedBurst}/<zipf>`,
        target: get(zipfPath(cachedBurst)),
      });
  }
  const burstOn = s.scenarios.has('burst');
  const measured = await rounds(name, url, burstOn ? variants : variants.filter((v) => v.key === 'ceiling'), s);
  const r1 = measured.runs;
  report.ceiling = median(r1.get('ceiling')!.map((r) => r.okPerSec));
  const runsOf = (key: string, label: string, route: string): VariantRuns => ({ label, route, runs: r1.get(key)! });
  const noErrorsNote = (keys: string[]) => {
    const other = keys.reduce((a, k) => a + (r1.get(k)?.reduce((b, r) => b + r.otherErrors + r.shed, 0) ?? 0), 0);
    return `Errors and 503s over these runs: ${other}.`;
  };
  if (burst && burstOn) {
    const hotRuns = r1.get('burst-hot')!;
    const hotCounters = measured.burst.get('burst-hot');
    const verdict = hotCustomerVerdict({
      ratio: median(hotRuns.map((r) => r.okPerSec)) / median(r1.get('direct-hot')!.map((r) => r.okPerSec)),
      burstOkPerSec: median(hotRuns.map((r) => r.okPerSec)),
      ceiling: report.ceiling,
      coalescedShare: coalescedShareOf(hotCounters),
    });
    report.comparisons.push(
      evaluate({
        title: `${name}: one hot customer (every request id ${HOT_ID})`,
        unit: 'req/s',
        variants: [
          runsOf('direct-hot', 'Direct call', `${direct}/${HOT_ID}`),
          runsOf('burst-hot', 'With BurstValve', `${burst}/${HOT_ID}`),
          ...(protectedBurst
            ? [runsOf('burst-hot-safe', 'BurstValve + SafetyValve', `${protectedBurst}/${HOT_ID}`)]
            : []),
        ],
        ratioKind: 'throughput',
        target: HOT_TARGET_TEXT,
        met: () => verdict.met,
        notes: [
          verdict.why,
          HOT_TARGET_WHY,
          noErrorsNote(['direct-hot', 'burst-hot']),
          coalescedNote('With BurstValve', hotCounters, hotRuns),
          ...(protectedBurst
            ? [
                coalescedNote(
                  'BurstValve + SafetyValve (the SafetyValve inside the fetcher)',
                  measured.burst.get('burst-hot-safe'),
                  r1.get('burst-hot-safe')!,
                ),
              ]
            : []),
        ],
      }),
    );
    addComparison(report, {
      title: `${name}: Zipf mix (s = ${ZIPF_S}) over ${CUSTOMERS.toLocaleString('en-US')} ids`,
      unit: 'req/s',
      variants: [
        runsOf('direct-zipf', 'Direct call', `${direct}/<zipf>`),
        runsOf('burst-zipf', 'With BurstValve', `${burst}/<zipf>`),
      ],
      ratioKind: 'throughput',
      target: '> 1.0x (a gain)',
      met: (x) => x > 1,
      notes: [noErrorsNote(['direct-zipf', 'burst-zipf'])],
    });
  } else if (!burst) {
    report.skipped.push('BurstValve comparisons: the demo has no BurstValve route (@valve/burst not wired in).');
  }
  if (full && cachedDirect && burstOn) {
    if (cachedBurst) {
      addComparison(report, {
        title: `${name}: cached variant (read-through TTL cache, Zipf mix)`,
        unit: 'req/s',
        variants: [
          runsOf('cached-direct', 'Direct call', `${cachedDirect}/<zipf>`),
          runsOf('cached-burst', 'With BurstValve', `${cachedBurst}/<zipf>`),
        ],
        ratioKind: 'throughput',
        // Context, not a target: in front of a TTL cache most requests are cache hits that cost
        // the direct route no database call either, so BurstValve has little left to save.
        target: '(none; the seed measured 1.2x)',
      });
    } else report.skipped.push('Cached BurstValve comparison: no /cached/customers route.');
  }
}

const addComparison = (report: DbBlock, c: Comparison) => report.comparisons.push(evaluate(c));

async function overload(name: string, url: string, s: Settings, report: DbBlock): Promise<void> {
  // Overload: the costly report route (a scan per request), so the database, not Express or
  // autocannon, is the bottleneck. Its capacity is probed first (closed loop, unprotected), then
  // a fixed rate of OVERLOAD_FACTOR x that capacity (at most 0.8x the Express ceiling) is offered
  // to both variants over many connections.
  const hasReports = await routeExists(url, 'GET', '/unprotected/reports/customers/1');
  if (hasReports && s.scenarios.has('overload')) {
    const probeZipf = zipfSampler(CUSTOMERS, ZIPF_S, SEEDS.overloadProbe);
    const probe = await measure({
      url,
      target: get(() => `/unprotected/reports/customers/${probeZipf()}`),
      connections: s.connections,
      durationS: Math.min(3, s.durationS),
    });
    await settle(url);
    const capacity = probe.okPerSec;
    const rate = Math.max(1, Math.round(Math.min(OVERLOAD_FACTOR * capacity, 0.8 * report.ceiling)));
    log(`[${name}] report route capacity ${fmt(capacity)} req/s (closed loop); offering ${fmt(rate)} req/s`);
    const zipf = zipfSampler(CUSTOMERS, ZIPF_S, SEEDS.overload);
    // autocannon splits overallRate over the connections; keep at least 1 req/s on each.
    const connections = Math.min(OVERLOAD_CONNECTIONS, rate);
    const variants: Variant[] = [
      {
        key: 'unprotected',
        label: 'overload: no SafetyValve',
        route: '/unprotected/reports/customers/<zipf>',
        target: get(() => `/unprotected/reports/customers/${zipf()}`),
        connections,
        overallRate: rate,
        waves: OVERLOAD_WAVES,
        rampUpS: OVERLOAD_RAMP_UP_S,
        settle: true,
      },
      {
        key: 'protected',
        label: 'overload: SafetyValve',
        route: '/reports/customers/<zipf>',
        target: get(() => `/reports/customers/${zipf()}`),
        connections,
        overallRate: rate,
        waves: OVERLOAD_WAVES,
        rampUpS: OVERLOAD_RAMP_UP_S,
        settle: true,
      },
    ];
    const queriesBefore = await metricValue(url, 'valve_demo_db_queries_total', 'query="customer_report"');
    const r = (await rounds(name, url, variants, s)).runs;
    const queriesAfter = await metricValue(url, 'valve_demo_db_queries_total', 'query="customer_report"');
    const other = [...r.values()].flat().reduce((a, x) => a + x.otherErrors, 0);
    const medianOf = (key: string, pick: (x: RunResult) => number) => median(r.get(key)!.map(pick));
    const shedShare = (key: string) => {
      const runs = r.get(key)!;
      const total = runs.reduce((a, x) => a + x.ok + x.shed + x.otherErrors, 0);
      return total === 0 ? 0 : runs.reduce((a, x) => a + x.shed, 0) / total;
    };
    addComparison(report, {
      title: `${name}: overload, ${fmt(rate)} req/s target rate over ${fmt(connections)} connections to the report route (${OVERLOAD_FACTOR}x its measured capacity of ${fmt(capacity)} req/s, at most 0.8x the Express ceiling)`,
      unit: 'req/s',
      variants: [
        { label: 'No SafetyValve', route: variants[0].route, runs: r.get('unprotected')! },
        { label: 'With SafetyValve', route: variants[1].route, runs: r.get('protected')! },
      ],
      ratioKind: 'p99',
      target: '>= 5x (p99 with the valve at most 1/5) and 0 non-503 errors',
      met: (x) => x >= 5 && other === 0,
      notes: [
        `How the load is offered (the same for both variants): the ${fmt(connections)} connections and the rate are split over ` +
          `${OVERLOAD_WAVES} autocannon instances started ${1000 / OVERLOAD_WAVES} ms apart, because one instance sends each ` +
          "connection's per-second budget in one synchronized burst at the top of every second (a thundering herd of all " +
          'connections at once, then an idle second, not an offered rate: with it the SafetyValve admitted about 50 req/s ' +
          `while the database sat idle). The first ${OVERLOAD_RAMP_UP_S} s of each run (waves starting, connections opening) ` +
          "is left out: counts and rates are of the responses received from then until the run's duration ends (every wave is sending " +
          'throughout that window), latencies of the requests sent after it. The demo listens with a backlog of 4,096 ' +
          "(Node's default 511 overflowed when 600 connections opened at once; each dropped handshake cost a 1 to 3 s SYN " +
          'retransmission).',
        'What each variant was actually sent: autocannon is closed-loop per connection (a connection sends its next ' +
          'request only after the answer to the last), so a slow answer lowers what that connection sends: the target ' +
          `rate reaches the server only while answers are fast. Answered per second in the steady window (2xx + 503 + other, ` +
          `medians): no SafetyValve ${fmt(medianOf('unprotected', (x) => x.totalPerSec))}, with SafetyValve ` +
          `${fmt(medianOf('protected', (x) => x.totalPerSec))}. The unprotected route, answering slowly, receives less ` +
          'than the target, so its queue and its p99 are smaller than a true open loop would give them: the ratio is ' +
          `conservative for the valve. p99 over the whole run, the first ${OVERLOAD_RAMP_UP_S} s included (medians): ` +
          `no SafetyValve ${fmt(medianOf('unprotected', (x) => x.p99AllMs))} ms, with SafetyValve ` +
          `${fmt(medianOf('protected', (x) => x.p99AllMs))} ms (ratio ` +
          `${(medianOf('unprotected', (x) => x.p99AllMs) / medianOf('protected', (x) => x.p99AllMs)).toFixed(2)}x).`,
        `Non-503 errors (other statuses, socket errors, timeouts) over both variants: **${other}**. ` +
          `503 share with the SafetyValve: ${(100 * shedShare('protected')).toFixed(1)}% (without: ${(100 * shedShare('unprotected')).toFixed(1)}%). ` +
          `Report queries the database ran over these runs (warm-ups included): ${fmt(queriesAfter - queriesBefore)}.`,
      ],
    });
  } else if (!hasReports) report.skipped.push('Overload comparison: no /reports routes in this demo build.');
}

async function events(name: string, url: string, s: Settings, report: DbBlock): Promise<void> {
  // Events: every POST carries EVENTS_PER_REQUEST events. `events`: the controller (202 when
  // buffered) against both baselines (one INSERT per event; one multi-row INSERT per request).
  // `durable`: the controller's durable mode (201 once committed) against the multi-row INSERT
  // per request, the 202 route alongside. Both scenarios share one set of rounds, so every
  // variant is measured in the same run. Events/s = 2xx x N.
  const hasEvents = await routeExists(url, 'POST', '/events');
  const hasDurable = hasEvents && (await routeExists(url, 'POST', '/events/durable'));
  const eventsOn = hasEvents && s.scenarios.has('events');
  const durableOn = hasDurable && s.scenarios.has('durable');
  if (eventsOn || durableOn) {
    const body = JSON.stringify(
      Array.from({ length: EVENTS_PER_REQUEST }, (_, i) => ({ type: 'load.test', payload: { page: '/pricing', i } })),
    );
    // A refusal still reports what it acknowledged: a 503 from POST /events carries `accepted: k`
    // (the first k events were accepted and will be inserted), one from POST /events/durable (or
    // its 500 `not_stored`) carries `stored: k` (committed). Both count as acknowledged.
    let acknowledgedInErrors = 0;
    let counting = false;
    const onResponse = (status: number, text: string) => {
      if (!counting || status < 300) return;
      try {
        const answer = JSON.parse(text) as { accepted?: unknown; stored?: unknown };
        const k = answer.accepted ?? answer.stored;
        if (typeof k === 'number') acknowledgedInErrors += k;
      } catch {}
    };
    const post = (path: string): Target => ({ method: 'POST', path, body, onResponse });
    const variants: Variant[] = [];
    if (eventsOn)
      variants.push({
        key: 'direct-events',
        label: 'events: one INSERT per event',
        route: 'POST /direct/events',
        target: post('/direct/events'),
        settle: true,
      });
    variants.push(
      {
        key: 'events',
        label: 'events: BackpressureController',
        route: 'POST /events',
        target: post('/events'),
        settle: true,
      },
      {
        key: 'multi-events',
        label: 'events: one INSERT per request',
        route: 'POST /direct/events?insert=multi',
        target: post('/direct/events?insert=multi'),
        settle: true,
      },
    );
    if (durableOn)
      variants.push(
        {
          key: 'durable-events',
          label: 'events: durable (201 when written)',
          route: 'POST /events/durable',
          target: post('/events/durable'),
          settle: true,
        },
        // The same two variants from one client sending one request at a time: the latency a
        // request pays when no other request fills its batch.
        {
          key: 'multi-events-alone',
          label: 'events: one INSERT per request, 1 client',
          route: 'POST /direct/events?insert=multi',
          target: post('/direct/events?insert=multi'),
          connections: 1,
          settle: true,
        },
        {
          key: 'durable-events-alone',
          label: 'events: durable, 1 client',
          route: 'POST /events/durable',
          target: post('/events/durable'),
          connections: 1,
          settle: true,
        },
      );
    // The baseline is read after the warm-ups (whose events are not counted as acknowledged)
    // and after their buffered events landed, so `stored` counts only the measured runs' rows.
    let before = 0;
    const r = (
      await rounds(name, url, variants, s, async () => {
        await eventsSettled(url);
        before = (await eventsStats(url)).stored;
        counting = true;
      })
    ).runs;
    counting = false;
    const accepted = [...r.values()].flat().reduce((a, x) => a + x.ok, 0) * EVENTS_PER_REQUEST + acknowledgedInErrors;
    // Every acknowledged event must reach the table: wait (bounded) for the batches to land.
    await eventsSettled(url);
    const stored = (await eventsStats(url)).stored - before;
    const lost = accepted - stored;
    // autocannon stops each run with up to one request per connection still in flight: the
    // server completes (and stores) those events, but the client never counts their answers.
    // So rows may exceed acknowledged events by at most that much; fewer rows is a loss.
    const measuredRuns = [...r.values()].flat().length;
    const inFlightBound = variants.reduce(
      (a, v) => a + r.get(v.key)!.length * (v.connections ?? s.connections) * EVENTS_PER_REQUEST,
      0,
    );
    const unacknowledged = -lost;
    const accountedFor = lost <= 0 && unacknowledged <= inFlightBound;
    const lossNote =
      `Acknowledged events over the measured runs of ${[...new Set(variants.map((v) => `\`${v.route}\``))].join(', ')} (2xx x ${EVENTS_PER_REQUEST}, plus ${fmt(acknowledgedInErrors)} acknowledged in refusals: the \`accepted: k\` or \`stored: k\` of their bodies): ${fmt(accepted)}; rows added to the table over the same runs (baseline read after the warm-ups had landed): ${fmt(stored)}: ` +
      `${lost === 0 ? 'none lost (equal)' : lost > 0 ? `**LOST: ${fmt(lost)} acknowledged events are not in the table**` : accountedFor ? `none lost; ${fmt(unacknowledged)} more rows than acknowledged events, within the ${fmt(inFlightBound)} of requests still in flight when autocannon stopped its ${measuredRuns} runs (one request of ${EVENTS_PER_REQUEST} events per connection), whose answers it does not count` : `**MISMATCH: ${fmt(unacknowledged)} more rows than acknowledged events, more than the ${fmt(inFlightBound)} that requests in flight at the end of the runs can explain**`}.`;
    const perEvent = (runs: RunResult[]): RunResult[] =>
      runs.map((x) => ({ ...x, okPerSec: x.okPerSec * EVENTS_PER_REQUEST }));
    const routeOf = (key: string) => variants.find((v) => v.key === key)!.route;
    const multi = perEvent(r.get('multi-events')!);
    const controller = perEvent(r.get('events')!);
    const vsMulti = median(controller.map((x) => x.okPerSec)) / median(multi.map((x) => x.okPerSec));
    if (eventsOn)
      addComparison(report, {
        title: `${name}: events ingestion (POST, ${EVENTS_PER_REQUEST} events per request)`,
        unit: 'events/s',
        variants: [
          { label: 'One INSERT per event', route: routeOf('direct-events'), runs: perEvent(r.get('direct-events')!) },
          { label: 'BackpressureController batches', route: routeOf('events'), runs: controller },
          { label: 'One multi-row INSERT per request', route: routeOf('multi-events'), runs: multi },
        ],
        ratioKind: 'throughput',
        target: '>= 5x, every acknowledged event stored',
        met: (x) => x >= 5 && accountedFor,
        notes: [
          `Events/s are 2xx responses x ${EVENTS_PER_REQUEST}; latencies are per request. Against one multi-row INSERT per request (the client batching itself) the controller's ratio is **${vsMulti.toFixed(2)}x** (no target).`,
          lossNote,
        ],
      });
    if (durableOn) {
      const durable = perEvent(r.get('durable-events')!);
      const multiAlone = perEvent(r.get('multi-events-alone')!);
      const durableAlone = perEvent(r.get('durable-events-alone')!);
      const tradeOff = durableTradeOff(
        { multi, durable, buffered: controller, multiAlone, durableAlone },
        s.connections,
      );
      addComparison(report, {
        title: `${name}: durable events (201 once committed) against one multi-row INSERT per request, ${s.connections} connections (POST, ${EVENTS_PER_REQUEST} events per request)`,
        unit: 'events/s',
        variants: [
          { label: 'One multi-row INSERT per request', route: routeOf('multi-events'), runs: multi },
          { label: 'BackpressureController, durable', route: routeOf('durable-events'), runs: durable },
          { label: 'BackpressureController, 202 when buffered', route: routeOf('events'), runs: controller },
        ],
        ratioKind: 'throughput',
        target: '(none: the trade-off, stated), every acknowledged event stored',
        met: () => accountedFor,
        notes: [tradeOff, ...(eventsOn ? [] : [lossNote])],
      });
      addComparison(report, {
        title: `${name}: durable events against one multi-row INSERT per request, 1 client sending one request at a time (POST, ${EVENTS_PER_REQUEST} events per request)`,
        unit: 'events/s',
        variants: [
          { label: 'One multi-row INSERT per request', route: routeOf('multi-events-alone'), runs: multiAlone },
          { label: 'BackpressureController, durable', route: routeOf('durable-events-alone'), runs: durableAlone },
        ],
        ratioKind: 'throughput',
        target: '(none: the trade-off, stated), every acknowledged event stored',
        met: () => accountedFor,
        notes: ['Measured in the same rounds as the comparison above; the trade-off is stated there.'],
      });
    }
  } else if (!hasEvents)
    report.skipped.push('Events comparison: no POST /events route (@valve/backpressure not wired in).');
  else if (!hasDurable && s.scenarios.has('durable'))
    report.skipped.push('Durable events comparison: no POST /events/durable route in this demo build.');
}

/**
 * The durable mode's trade-off against the client's own multi-row INSERT, in numbers of this run:
 * both answer only once the rows are committed, so their throughput and latency compare directly,
 * under load (many connections) and from one client alone.
 */
function durableTradeOff(
  runs: Record<'multi' | 'durable' | 'buffered' | 'multiAlone' | 'durableAlone', RunResult[]>,
  connections: number,
): string {
  const m = (key: keyof typeof runs, pick: (x: RunResult) => number) => median(runs[key].map(pick));
  const rate = (key: keyof typeof runs) => m(key, (x) => x.okPerSec);
  const p50 = (key: keyof typeof runs) => m(key, (x) => x.p50Ms);
  const p99 = (key: keyof typeof runs) => m(key, (x) => x.p99Ms);
  const ms = (n: number) => `${n < 10 ? n.toFixed(1) : fmt(n)} ms`;
  const x = (a: number, b: number) => `**${(a / b).toFixed(2)}x**`;
  return (
    'The trade-off (medians of this run; both variants answer only once the rows are committed, so a 2xx is never ' +
    `lost to a crash in either). Under load (${connections} connections): the durable mode stores ` +
    `${x(rate('durable'), rate('multi'))} the events/s of one multi-row INSERT per request ` +
    `(${fmt(rate('durable'))} against ${fmt(rate('multi'))}), at ${x(p50('durable'), p50('multi'))} its p50 ` +
    `(${ms(p50('durable'))} against ${ms(p50('multi'))}) and ${x(p99('durable'), p99('multi'))} its p99 ` +
    `(${ms(p99('durable'))} against ${ms(p99('multi'))}): the requests in flight fill whole batches, so one INSERT ` +
    "commits several requests' events. From one client alone: " +
    `${x(rate('durableAlone'), rate('multiAlone'))} the events/s (${fmt(rate('durableAlone'))} against ` +
    `${fmt(rate('multiAlone'))}), p50 ${ms(p50('durableAlone'))} against ${ms(p50('multiAlone'))}, p99 ` +
    `${ms(p99('durableAlone'))} against ${ms(p99('multiAlone'))}: with nothing else in flight a request's events ` +
    "are a partial batch, which waits for the controller's idle flush interval (the demo's `minFlushIntervalMs`) " +
    'before its INSERT, where the multi-row request runs its INSERT at once. The 202 route answers before the write ' +
    `(${fmt(rate('buffered'))} events/s, p50 ${ms(p50('buffered'))}, p99 ${ms(p99('buffered'))} under load) and ` +
    'can lose what it acknowledged to a crash.'
  );
}

/** One series of a counter in the demo's /metrics (summed when several series match). */
async function metricValue(url: string, name: string, labelFilter: string): Promise<number> {
  return metricSum(await metricsText(url), name, labelFilter);
}

const metricsText = (url: string) => control(`${url}/metrics`, {}, okText, 10_000);

function metricSum(text: string, name: string, labelFilter: string): number {
  let sum = 0;
  for (const line of text.split('\n')) {
    if (line.startsWith(`${name}{`) && line.includes(labelFilter)) sum += Number(line.slice(line.lastIndexOf(' ') + 1));
  }
  return sum;
}

async function burstCounters(url: string, valve: string): Promise<BurstCounters> {
  const label = `valve="${valve}"`;
  const text = await metricsText(url);
  return {
    fetches: metricSum(text, 'valve_burst_fetches_total', label),
    coalesced: metricSum(text, 'valve_burst_coalesced_total', label),
    linger: metricSum(text, 'valve_burst_linger_hits_total', label),
  };
}

/** The coalesced share of a BurstValve route over its measured runs (its counters), and its 503 share. */
function coalescedNote(what: string, counters: BurstCounters | undefined, runs: RunResult[]): string {
  const shed = runs.reduce((a, r) => a + r.shed, 0);
  const total = runs.reduce((a, r) => a + r.ok + r.shed + r.otherErrors, 0);
  const shedShare = `503 share ${total ? ((100 * shed) / total).toFixed(1) : '0.0'}%`;
  if (counters === undefined) return `${what}: coalesced share unknown (its counters could not be read); ${shedShare}.`;
  const calls = counters.fetches + counters.coalesced + counters.linger;
  const share = coalescedShareOf(counters);
  return (
    `${what}: ${fmt(calls)} calls, ${fmt(counters.fetches)} fetcher runs over the measured runs, ` +
    `**${share === undefined ? 'n/a' : (100 * share).toFixed(1)}% coalesced**; ${shedShare}.`
  );
}

interface EventsStats {
  stored: number;
  buffered: number;
  inFlight: number;
}

function eventsStats(url: string): Promise<EventsStats> {
  return control(`${url}/events/stats`, {}, okJson<EventsStats>, 10_000);
}

/** Waits (at most 60 s) until the events controller has nothing buffered or in flight. */
async function eventsSettled(url: string): Promise<void> {
  const deadline = Date.now() + 60_000;
  for (;;) {
    const st = await eventsStats(url);
    if ((st.buffered === 0 && st.inFlight === 0) || Date.now() > deadline) return;
    await new Promise((res) => setTimeout(res, 100));
  }
}

async function main(): Promise<void> {
  const s = parseArgs(process.argv.slice(2));
  if (!existsSync(SERVER)) {
    throw new Error(`${SERVER} is missing: build the demo first (pnpm turbo run build --filter=@valve/demo)`);
  }
  if (s.scenarios.has(SCALE_OUT)) return scaleOut(s);
  const offered: [DatabaseKey, string, string | undefined, boolean][] = [
    ['pglite', 'Embedded PGlite', undefined, true],
  ];
  if (process.env.VALVE_MYSQL_URL)
    offered.push(['mysql', 'MariaDB (mysql2, pool of 10)', process.env.VALVE_MYSQL_URL, true]);
  if (process.env.VALVE_POSTGRES_URL)
    offered.push(['postgres', 'PostgreSQL (pg, pool of 10)', process.env.VALVE_POSTGRES_URL, true]);
  const dbs = offered.filter(([key]) => s.databases.has(key));
  if (dbs.length === 0)
    throw new Error('--db picked no database this environment offers (set VALVE_MYSQL_URL / VALVE_POSTGRES_URL)');
  // A subset (--db, --scenario) is for iteration: it never overwrites the full results file.
  const partial = s.databases.size < DATABASES.length || s.scenarios.size < SCENARIOS.length;
  log(
    `valve load test: ${s.connections} connections x ${s.durationS} s x ${s.runs} run(s)${s.quick ? ' (--quick)' : ''}; ` +
      `databases: ${dbs.map((d) => d[1]).join(', ')}${process.env.VALVE_MYSQL_URL ? '' : ' (set VALVE_MYSQL_URL / VALVE_POSTGRES_URL for the servers)'}`,
  );
  const started = Date.now();
  const startLoad = loadAverage();
  log(`load average (1, 5, 15 min): ${startLoad}`);

  const date = new Date().toISOString().slice(0, 10);
  const name = `load-${date}${s.quick ? '-quick' : ''}${partial ? '-partial' : ''}`;
  const base = join(RESULTS, name);
  mkdirSync(RESULTS, { recursive: true });
  const runId = `${new Date(started).toISOString()} pid ${process.pid}`;
  const settings = { ...s, databases: [...s.databases], scenarios: [...s.scenarios] };
  // Each block is written as soon as it has finished (results.ts), and the .md and .svg are
  // assembled from the file after every block: a failure later in the run keeps the blocks before it.
  let md = '';
  for (const [i, [key, title, url, full]] of dbs.entries()) {
    const block = await runDatabase(key, title, url, s, full);
    const file = writeBlock(`${base}.json`, runId, settings, block);
    const pending = dbs.slice(i + 1).map((d) => d[1]);
    const cpu = cpus();
    md = resultsMarkdown(file, {
      quick: s.quick,
      connections: s.connections,
      durationS: s.durationS,
      runs: s.runs,
      date,
      command: ['pnpm bench:load', ...process.argv.slice(2).filter((a) => a !== '--')].join(' '),
      machine: `${cpu.length} x ${cpu[0]?.model.trim() ?? 'unknown CPU'}, ${Math.round(totalmem() / 2 ** 30)} GiB, Node ${process.version}`,
      svgName: `${name}.svg`,
      seconds: (Date.now() - started) / 1000,
      startLoad,
      nowLoad: loadAverage(),
      pending,
    });
    writeFileSync(`${base}.svg`, await chartOf(file));
    writeFileSync(`${base}.md`, md);
    log(`wrote ${block.name}'s block to ${base}.json, ${base}.md and ${base}.svg`);
  }
  log(`\n${md}\n`);
  log(`wrote ${base}.md and ${base}.svg`);
}

async function chartOf(file: ResultsFile): Promise<string> {
  const bars: Bar[] = [];
  for (const rep of file.blocks) {
    for (const c of rep.comparisons.filter((x) => x.ratioKind === 'throughput')) {
      for (const v of c.variants) {
        bars.push({
          group: c.title.split(' (')[0].replace(/ over .*$/, ''),
          variant: v.label,
          value: median(v.runs.map((r) => r.okPerSec)),
        });
      }
    }
  }
  const ceiling = file.blocks.map((b) => b.ceiling).find((c) => Number.isFinite(c)) ?? 0;
  return renderChart('valve demo under autocannon: medians', 'successful responses per second', bars, ceiling);
}

async function scaleOut(s: Settings): Promise<void> {
  const databaseUrl = process.env.VALVE_POSTGRES_URL;
  const redisUrl = process.env.REDIS_URL;
  if (!databaseUrl || !redisUrl) {
    throw new Error('--scenario scale-out needs VALVE_POSTGRES_URL and REDIS_URL (the processes share both)');
  }
  const startLoad = loadAverage();
  const started = Date.now();
  log(
    `valve load test, scale-out: ${SCALE_OUT_PROCESSES.join(' and ')} processes, ${s.connections} connections x ` +
      `${s.durationS} s x ${s.runs} round(s); load average (1, 5, 15 min): ${startLoad}`,
  );
  const zipf = zipfSampler(CUSTOMERS, ZIPF_S, SEEDS.zipf);
  const runs = await runScaleOut({
    serverPath: SERVER,
    databaseUrl,
    redisUrl,
    seedCustomers: CUSTOMERS,
    settings: s,
    zipfPath: () => String(zipf()),
    log,
    onDemo: (demo) => {
      current = demo;
    },
  });
  const endLoad = loadAverage();
  const date = new Date().toISOString().slice(0, 10);
  const base = join(RESULTS, `load-${date}${s.quick ? '-quick' : ''}-scale-out`);
  mkdirSync(RESULTS, { recursive: true });
  const cpu = cpus();
  const md = [
    `# Scale-out load test, ${date}${s.quick ? ' (--quick)' : ''}`,
    '',
    `\`pnpm bench:load ${process.argv
      .slice(2)
      .filter((a) => a !== '--')
      .join(' ')}\`: the demo with ${SCALE_OUT_PROCESSES.join(' and ')} processes (\`DEMO_PROCESSES\`, node:cluster) ` +
      `on one PostgreSQL and one Redis, ${s.connections} connections, ${s.durationS} s per route, ${s.runs} round(s), the process ` +
      `counts alternating. Machine: ${cpu.length} x ${cpu[0]?.model.trim() ?? 'unknown CPU'}, Node ${process.version}; ` +
      `autocannon, the demo's processes, PostgreSQL and Redis share these cores. Took ${Math.round((Date.now() - started) / 1000)} s.`,
    '',
    `Load average (1, 5, 15 min) at the start: ${startLoad}; at the end: ${endLoad}.`,
    '',
    scaleOutMarkdown(runs),
    '',
  ].join('\n');
  writeFileSync(`${base}.json`, toJson({ settings: s, startLoad, endLoad, runs }));
  writeFileSync(`${base}.md`, md);
  log(`\n${md}`);
  log(`wrote ${base}.md`);
}

const onSignal = (signal: NodeJS.Signals) => {
  log(`\n${signal}: stopping the demo this run started…`);
  void (current?.stop() ?? Promise.resolve()).finally(() => process.exit(130));
};
process.once('SIGINT', onSignal);
process.once('SIGTERM', onSignal);

main().catch(async (error: unknown) => {
  console.error(`load test failed: ${error instanceof Error ? error.message : String(error)}`);
  await current?.stop();
  process.exit(1);
});
