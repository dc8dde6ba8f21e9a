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
 *
 * Defaults match the seed: 100 connections, 15 s per run, 3 runs. `--quick`: 3 s, 1 run.
 * Results: bench/results/load-<date>[-quick].md and .svg (and the raw .json, not committed).
 */
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { cpus, totalmem } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { type Bar, renderChart } from './chart.js';
import { type DemoProcess, startDemo } from './demoProcess.js';
import { measure, type RunResult, type Target } from './measure.js';
import { type Comparison, comparisonMarkdown, median, ratioOf, type VariantRuns } from './report.js';
import { zipfSampler } from './zipf.js';

interface Settings {
  quick: boolean;
  connections: number;
  durationS: number;
  runs: number;
}

function parseArgs(argv: string[]): Settings {
  const s: Settings = { quick: false, connections: 100, durationS: 15, runs: 3 };
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
    if (arg === '--quick') s.quick = true;
    else if (arg === '--connections') s.connections = num('--connections', argv[++i], 1, 2000);
    else if (arg === '--duration') {
      s.durationS = num('--duration', argv[++i], 1, 600);
      explicitDuration = true;
    } else if (arg === '--runs') {
      s.runs = num('--runs', argv[++i], 1, 10);
      explicitRuns = true;
    } else if (arg === '--help' || arg === '-h') {
      console.log('usage: node dist/load/run.js [--quick] [--connections N] [--duration S] [--runs N]');
      process.exit(0);
    } else throw new Error(`unknown argument ${JSON.stringify(arg)} (try --help)`);
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
const CUSTOMERS = 10_000;
const HOT_ID = 4242;
const ZIPF_S = 1.1;
/** Connections for the overload scenario: enough that an unbounded queue shows in latency. */
const OVERLOAD_CONNECTIONS = 600;

let current: DemoProcess | undefined;

interface Variant {
  key: string;
  label: string;
  route: string;
  target: Target;
  connections?: number;
  overallRate?: number;
}

function log(line: string): void {
  process.stdout.write(`${line}\n`);
}

const fmt = (n: number) => Math.round(n).toLocaleString('en-US');

/** Runs every variant `runs` times, round-robin with a rotating start. */
async function rounds(db: string, url: string, variants: Variant[], s: Settings): Promise<Map<string, RunResult[]>> {
  const results = new Map<string, RunResult[]>(variants.map((v) => [v.key, []]));
  const tty = process.stdout.isTTY;
  // Warm-up (not counted): JIT, connection pools, PGlite's WASM, caches.
  for (const v of variants) {
    await measure({
      url,
      target: v.target,
      connections: v.connections ?? s.connections,
      durationS: 1,
      overallRate: v.overallRate,
    });
  }
  for (let run = 0; run < s.runs; run++) {
    for (let j = 0; j < variants.length; j++) {
      const v = variants[(run + j) % variants.length];
      const label = `[${db}] run ${run + 1}/${s.runs} ${v.label.padEnd(34)}`;
      if (!tty) log(`${label} …`);
      const r = await measure({
        url,
        target: v.target,
        connections: v.connections ?? s.connections,
        durationS: s.durationS,
        overallRate: v.overallRate,
        onTick: tty
          ? (ok, t) => process.stdout.write(`\r${label} ${t}/${s.durationS} s, ${fmt(ok / t)} ok/s`)
          : undefined,
      });
      results.get(v.key)?.push(r);
      const line = `${label} ${fmt(r.okPerSec).padStart(6)} ok/s  p50 ${r.p50Ms.toFixed(1)} ms  p99 ${r.p99Ms.toFixed(1)} ms  503 ${r.shed}  other ${r.otherErrors}`;
      if (tty) process.stdout.write(`\r${line}\n`);
      else log(line);
    }
  }
  return results;
}

async function routeExists(url: string, method: 'GET' | 'POST', path: string): Promise<boolean> {
  const res = await fetch(`${url}${path}`, {
    method,
    body: method === 'POST' ? '{}' : undefined,
    headers: method === 'POST' ? { 'content-type': 'application/json' } : undefined,
    signal: AbortSignal.timeout(5000),
  });
  const body = (await res.json().catch(() => ({}))) as { error?: { code?: string } };
  return !(res.status === 404 && body.error?.code === 'not_found');
}

interface DbReport {
  name: string;
  ceiling: number;
  comparisons: Comparison[];
  skipped: string[];
  notes: string[];
}

const get = (path: string | (() => string)): Target => ({ method: 'GET', path });

async function runDatabase(
  name: string,
  databaseUrl: string | undefined,
  s: Settings,
  full: boolean,
): Promise<DbReport> {
  log(`\n== ${name}: starting the demo (${CUSTOMERS.toLocaleString('en-US')} customers)…`);
  const env: Record<string, string> = { SEED_CUSTOMERS: String(CUSTOMERS), DEMO_TABLE_PREFIX: 'valve_load_' };
  if (databaseUrl !== undefined) env.DATABASE_URL = databaseUrl;
  const demo = await startDemo({ serverPath: SERVER, env });
  current = demo;
  const report: DbReport = { name, ceiling: Number.NaN, comparisons: [], skipped: [], notes: [] };
  try {
    const url = demo.url;
    const pick = async (path: string) =>
      (await routeExists(url, 'GET', `/unprotected${path}/1`)) ? `/unprotected${path}` : path;
    const direct = await pick('/direct/customers');
    const hasBurst = await routeExists(url, 'GET', '/customers/1');
    const burst = hasBurst ? await pick('/customers') : undefined;
    const zipf = zipfSampler(CUSTOMERS, ZIPF_S, 7);
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
    if (burst)
      variants.push({
        key: 'burst-hot',
        label: 'hot: BurstValve',
        route: `${burst}/${HOT_ID}`,
        target: get(`${burst}/${HOT_ID}`),
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
      cachedBurst = (await routeExists(url, 'GET', '/cached/customers/1'))
        ? await pick('/cached/customers')
        : undefined;
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
    const r1 = await rounds(name, url, variants, s);
    report.ceiling = median(r1.get('ceiling')!.map((r) => r.okPerSec));
    const runsOf = (key: string, label: string, route: string): VariantRuns => ({ label, route, runs: r1.get(key)! });
    const noErrorsNote = (keys: string[]) => {
      const other = keys.reduce((a, k) => a + (r1.get(k)?.reduce((b, r) => b + r.otherErrors + r.shed, 0) ?? 0), 0);
      return `Errors and 503s over these runs: ${other}.`;
    };
    if (burst) {
      report.comparisons.push({
        title: `${name}: one hot customer (every request id ${HOT_ID})`,
        unit: 'req/s',
        variants: [
          runsOf('direct-hot', 'Direct call', `${direct}/${HOT_ID}`),
          runsOf('burst-hot', 'With BurstValve', `${burst}/${HOT_ID}`),
        ],
        ratioKind: 'throughput',
        target: '>= 1.9x',
        met: (x) => x >= 1.9,
        notes: [noErrorsNote(['direct-hot', 'burst-hot'])],
      });
      report.comparisons.push({
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
    } else {
      report.skipped.push('BurstValve comparisons: the demo has no BurstValve route (@valve/burst not wired in).');
    }
    if (full && cachedDirect) {
      if (cachedBurst) {
        report.comparisons.push({
          title: `${name}: cached variant (read-through TTL cache, Zipf mix)`,
          unit: 'req/s',
          variants: [
            runsOf('cached-direct', 'Direct call', `${cachedDirect}/<zipf>`),
            runsOf('cached-burst', 'With BurstValve', `${cachedBurst}/<zipf>`),
          ],
          ratioKind: 'throughput',
          target: '(none; the seed measured 1.2x)',
          met: (x) => x > 1,
        });
      } else report.skipped.push('Cached BurstValve comparison: no /cached/customers route.');
    }

    if (full) await overloadAndEvents(name, url, s, report, r1);
  } finally {
    log(`== ${name}: stopping the demo (SIGTERM, it drains accepted work)…`);
    await demo.stop();
    current = undefined;
  }
  return report;
}

async function overloadAndEvents(
  name: string,
  url: string,
  s: Settings,
  report: DbReport,
  r1: Map<string, RunResult[]>,
): Promise<void> {
  // Overload: a fixed offered rate well past what the database serves, below what Express can
  // answer, so the comparison is about queueing in front of the database, not the HTTP ceiling.
  const hasSafety = await routeExists(url, 'GET', '/unprotected/direct/customers/1');
  if (hasSafety) {
    const capacity = median(r1.get('direct-zipf')!.map((r) => r.okPerSec));
    const rate = Math.round(Math.min(1.5 * capacity, 0.8 * report.ceiling));
    const zipf = zipfSampler(CUSTOMERS, ZIPF_S, 11);
    const variants: Variant[] = [
      {
        key: 'unprotected',
        label: 'overload: no SafetyValve',
        route: '/unprotected/direct/customers/<zipf>',
        target: get(() => `/unprotected/direct/customers/${zipf()}`),
        connections: OVERLOAD_CONNECTIONS,
        overallRate: rate,
      },
      {
        key: 'protected',
        label: 'overload: SafetyValve',
        route: '/direct/customers/<zipf>',
        target: get(() => `/direct/customers/${zipf()}`),
        connections: OVERLOAD_CONNECTIONS,
        overallRate: rate,
      },
    ];
    const r = await rounds(name, url, variants, s);
    const other = [...r.values()].flat().reduce((a, x) => a + x.otherErrors, 0);
    report.comparisons.push({
      title: `${name}: overload, ${fmt(rate)} req/s offered over ${OVERLOAD_CONNECTIONS} connections (1.5x the direct Zipf capacity, at most 0.8x the Express ceiling)`,
      unit: 'req/s',
      variants: [
        { label: 'No SafetyValve', route: variants[0].route, runs: r.get('unprotected')! },
        { label: 'With SafetyValve', route: variants[1].route, runs: r.get('protected')! },
      ],
      ratioKind: 'p99',
      target: '>= 5x (p99 with the valve at most 1/5) and 0 non-503 errors',
      met: (x) => x >= 5 && other === 0,
      notes: [`Non-503 errors (other statuses, socket errors, timeouts) over both variants: **${other}**.`],
    });
  } else report.skipped.push('Overload comparison: no /unprotected routes (@valve/safety not wired in).');

  const hasEvents = await routeExists(url, 'POST', '/events');
  if (hasEvents) {
    const before = await storedEvents(url);
    const body = JSON.stringify({ type: 'load.test', payload: { page: '/pricing', ms: 42 } });
    const variants: Variant[] = [
      {
        key: 'direct-events',
        label: 'events: one INSERT per request',
        route: 'POST /direct/events',
        target: { method: 'POST', path: '/direct/events', body },
      },
      {
        key: 'events',
        label: 'events: BackpressureController',
        route: 'POST /events',
        target: { method: 'POST', path: '/events', body },
      },
    ];
    const r = await rounds(name, url, variants, s);
    const accepted = [...r.values()].flat().reduce((a, x) => a + x.ok, 0);
    // Every acknowledged event must reach the table: wait (bounded) for the batches to land.
    const deadline = Date.now() + 30_000;
    let stored = (await storedEvents(url)) - before;
    while (stored < accepted && Date.now() < deadline) {
      await new Promise((res) => setTimeout(res, 250));
      stored = (await storedEvents(url)) - before;
    }
    report.comparisons.push({
      title: `${name}: events ingestion (POST, one event per request)`,
      unit: 'events/s',
      variants: [
        { label: 'One INSERT per request', route: variants[0].route, runs: r.get('direct-events')! },
        { label: 'BackpressureController batches', route: variants[1].route, runs: r.get('events')! },
      ],
      ratioKind: 'throughput',
      target: '>= 5x',
      met: (x) => x >= 5,
      notes: [
        `Acknowledged (2xx) events over all runs: ${fmt(accepted)}; rows added to the table (the uncounted 1 s warm-ups included): ${fmt(stored)} (${stored >= accepted ? 'none lost' : `**${fmt(accepted - stored)} missing**`}).`,
      ],
    });
  } else report.skipped.push('Events comparison: no POST /events route (@valve/backpressure not wired in).');
}

async function storedEvents(url: string): Promise<number> {
  const res = await fetch(`${url}/events/stats`, { signal: AbortSignal.timeout(10_000) });
  return ((await res.json()) as { stored: number }).stored;
}

async function main(): Promise<void> {
  const s = parseArgs(process.argv.slice(2));
  if (!existsSync(SERVER)) {
    throw new Error(`${SERVER} is missing: build the demo first (pnpm turbo run build --filter=@valve/demo)`);
  }
  const dbs: [string, string | undefined, boolean][] = [['Embedded PGlite', undefined, true]];
  if (process.env.VALVE_MYSQL_URL) dbs.push(['MariaDB (mysql2, pool of 10)', process.env.VALVE_MYSQL_URL, false]);
  if (process.env.VALVE_POSTGRES_URL) dbs.push(['PostgreSQL (pg, pool of 10)', process.env.VALVE_POSTGRES_URL, false]);
  log(
    `valve load test: ${s.connections} connections x ${s.durationS} s x ${s.runs} run(s)${s.quick ? ' (--quick)' : ''}; ` +
      `databases: ${dbs.map((d) => d[0]).join(', ')}${process.env.VALVE_MYSQL_URL ? '' : ' (set VALVE_MYSQL_URL / VALVE_POSTGRES_URL for the servers)'}`,
  );
  const started = Date.now();
  const reports: DbReport[] = [];
  for (const [name, url, full] of dbs) reports.push(await runDatabase(name, url, s, full));

  const date = new Date().toISOString().slice(0, 10);
  const base = join(RESULTS, `load-${date}${s.quick ? '-quick' : ''}`);
  mkdirSync(RESULTS, { recursive: true });
  const bars: Bar[] = [];
  for (const rep of reports) {
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
  const ceiling = reports[0].ceiling;
  const svg = await renderChart(
    'valve demo under autocannon: medians',
    'successful responses per second',
    bars,
    ceiling,
  );
  writeFileSync(`${base}.svg`, svg);
  writeFileSync(`${base}.json`, `${JSON.stringify({ settings: s, reports }, null, 2)}\n`);
  const md = markdown(reports, s, date, `load-${date}${s.quick ? '-quick' : ''}.svg`, (Date.now() - started) / 1000);
  writeFileSync(`${base}.md`, md);
  log(`\n${md}\n`);
  log(`wrote ${base}.md and ${base}.svg`);
}

function markdown(reports: DbReport[], s: Settings, date: string, svgName: string, seconds: number): string {
  const cpu = cpus();
  const out = [
    `# Load test results, ${date}${s.quick ? ' (--quick)' : ''}`,
    '',
    `\`pnpm bench:load${s.quick ? ' -- --quick' : ''}\`: autocannon ${s.connections} connections, ${s.durationS} s per run, ${s.runs} run(s) per route, ` +
      `round-robin with a rotating order. Machine: ${cpu.length} x ${cpu[0]?.model.trim() ?? 'unknown CPU'}, ` +
      `${Math.round(totalmem() / 2 ** 30)} GiB, Node ${process.version}; autocannon and the demo share these cores. Took ${Math.round(seconds)} s.`,
    '',
    'Numbers are successful (2xx) responses per second; p50/p99 are of successful responses only. Compared routes keep ' +
      'background writes off the request path (the per-request background task only records metrics). Ratios are of medians ' +
      'in this one run; each is bounded by the Express ceiling measured alongside it.',
    '',
    `![chart](${svgName})`,
    '',
    '## Summary',
    '',
    '| comparison | ratio | target | met | Express ceiling |',
    '| --- | ---: | --- | --- | ---: |',
  ];
  for (const r of reports) {
    for (const c of r.comparisons) {
      const x = ratioOf(c);
      out.push(
        `| ${c.title} | ${x.toFixed(2)}x | ${c.target} | ${c.met(x) ? 'yes' : '**no**'} | ${fmt(r.ceiling)} req/s |`,
      );
    }
  }
  for (const r of reports) {
    out.push('', `## ${r.name}`, '', `Express ceiling (\`GET /healthz\`, median): ${fmt(r.ceiling)} req/s.`);
    for (const c of r.comparisons) out.push('', comparisonMarkdown(c, r.ceiling));
    for (const n of r.notes) out.push('', n);
    if (r.skipped.length > 0) out.push('', 'Not measured:', '', ...r.skipped.map((x) => `- ${x}`));
  }
  return `${out.join('\n')}\n`;
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
