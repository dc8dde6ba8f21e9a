/**
 * @valve/safety against a direct call, cockatiel's bulkhead, p-queue and p-limit, plus the
 * overload simulation behind the README's "which discipline to choose".
 *
 * (a) cost per admitted call on the uncontended path: N sequential `await run(fn)`;
 * (b) hand-over: N jobs queued behind one slot, each finishing at once. Two figures: the time per
 *     job of the whole batch (queueing every job, passing the slot on, settling every caller), and
 *     the hand-over itself, the definition: the median time from one job's start to the
 *     next one's, where each job ends as soon as it starts (so the gap is the end of one job to
 *     the start of the next, plus one `performance.now()`);
 * (c) a simulation on a ManualClock (8 slots, 10 ms service, Poisson arrivals at 1x-4x capacity),
 *     deterministic (seeded), so its figures are `kind: 'value'` cases computed once per
 *     contender and load.
 */
import { ManualClock } from '@valve/core';
import { mulberry32, percentileOf } from '@valve/demo/shared';
import { SafetyValve, type SafetyValveOptions } from '@valve/safety';
import { bulkhead } from 'cockatiel';
import pLimit from 'p-limit';
import PQueue from 'p-queue';
import { type Case, defineSuite } from '../harness.js';

const job = async () => 1;

/**
 * Queues `n` jobs behind one slot with `add` (a limiter built for this run), lets them run, and
 * returns the median gap in ns between consecutive jobs' starts. Each job records its start and
 * ends at once, so a gap is one hand-over plus the job's own body (a clock read and a resolved
 * promise). The first gap is left out: the first job starts before the rest are queued.
 */
async function handOverNs(n: number, add: (job: () => Promise<number>) => Promise<unknown>): Promise<number> {
  const starts = new Float64Array(n);
  let k = 0;
  const recordingJob = async () => {
    starts[k++] = performance.now();
    return 1;
  };
  const all: Promise<unknown>[] = [];
  for (let i = 0; i < n; i++) all.push(add(recordingJob));
  await Promise.all(all);
  const gaps: number[] = [];
  for (let i = 2; i < n; i++) gaps.push((starts[i]! - starts[i - 1]!) * 1e6);
  return percentile(gaps, 50);
}

function sequential(n: number, call: () => Promise<unknown>): () => Promise<void> {
  return async () => {
    for (let i = 0; i < n; i++) await call();
  };
}

// ---- (c) the overload simulation ----

const SLOTS = 8;
const SERVICE_MS = 10;
/** Simulation grid: events happen on multiples of STEP (arrivals are rounded to it). */
const STEP = 0.25;
/** A caller gives up after this long; work finished later is not goodput. */
const CLIENT_TIMEOUT_MS = 1000;

interface SimResult {
  /** Share of slot time spent on jobs that finished within the client timeout, in %. */
  goodput: number;
  p50: number;
  p99: number;
  /** p99 of the time from arrival to rejection (0 when nothing was rejected). */
  rejectP99: number;
  /** Share of arrivals rejected, in %. */
  rejected: number;
}

/** 0 when nothing was recorded (the tables print "0" for "no rejections"). */
function percentile(xs: number[], p: number): number {
  return xs.length === 0 ? 0 : percentileOf(xs, p);
}

async function simulate(options: Omit<SafetyValveOptions, 'clock' | 'concurrency'>, load: number, durationMs: number) {
  const clock = new ManualClock();
  const valve = new SafetyValve({ ...options, concurrency: SLOTS, clock });
  const rand = mulberry32(0x5afe + Math.round(load * 100));
  const meanGap = SERVICE_MS / SLOTS / load;
  const latencies: number[] = [];
  const rejections: number[] = [];
  let useful = 0;
  let arrivals = 0;
  let t = 0;
  const arrive = () => {
    const at = clock.now();
    arrivals++;
    valve.ask().then(
      (permit) => {
        clock.setTimeout(() => {
          const latency = clock.now() - at;
          latencies.push(latency);
          if (latency <= CLIENT_TIMEOUT_MS) useful += SERVICE_MS;
          permit.done();
        }, SERVICE_MS);
      },
      (error: { reason?: string }) => {
        // Jobs still queued when the simulation ends are closed out, not rejected by the policy.
        if (error.reason !== 'shutdown') rejections.push(clock.now() - at);
      },
    );
  };
  for (;;) {
    t += -Math.log(1 - rand()) * meanGap;
    const at = Math.round(t / STEP) * STEP;
    if (at >= durationMs) break;
    clock.setTimeout(arrive, at);
  }
  // Step through time; microtasks (permit hand-outs, rejections) settle before the next step.
  for (let now = 0; now < durationMs; now += STEP) {
    clock.advance(STEP);
    for (let i = 0; i < 6; i++) await null;
  }
  valve.close();
  for (let i = 0; i < 6; i++) await null;
  return {
    goodput: (100 * useful) / (SLOTS * durationMs),
    p50: percentile(latencies, 50),
    p99: percentile(latencies, 99),
    rejectP99: percentile(rejections, 99),
    rejected: (100 * rejections.length) / Math.max(1, arrivals),
  } satisfies SimResult;
}

const DISCIPLINES: [string, Omit<SafetyValveOptions, 'clock' | 'concurrency'>][] = [
  ['deadline 10ms + adaptive LIFO', { size: 1000, queue: 'deadline', deadlineMs: 10, lifo: 'adaptive' }],
  ['deadline 10ms', { size: 1000, queue: 'deadline', deadlineMs: 10 }],
  ['codel-timer', { size: 1000, queue: 'codel-timer' }],
  ['codel size 30', { size: 30, queue: 'codel' }],
  ['codel size 1000', { size: 1000, queue: 'codel' }],
  ['fifo size 30', { size: 30 }],
  ['unbounded queue', { size: Number.POSITIVE_INFINITY }],
];

const METRICS: { key: keyof SimResult; title: string; unit: string; higherIsBetter: boolean }[] = [
  { key: 'goodput', title: 'goodput (slot time on jobs done within 1 s)', unit: '%', higherIsBetter: true },
  { key: 'p50', title: 'admitted p50 latency (wait + 10 ms service)', unit: 'ms', higherIsBetter: false },
  { key: 'p99', title: 'admitted p99 latency (wait + 10 ms service)', unit: 'ms', higherIsBetter: false },
  { key: 'rejectP99', title: 'p99 time to rejection', unit: 'ms', higherIsBetter: false },
  { key: 'rejected', title: 'arrivals rejected', unit: '%', higherIsBetter: false },
];

export default defineSuite({
  name: 'safety',
  description: '@valve/safety vs direct call, cockatiel bulkhead, p-queue, p-limit; overload simulation',
  cases: (ctx) => {
    const n = ctx.scale(100_000);
    const valve = new SafetyValve({ name: 'bench', size: 30, concurrency: 32 });
    const bucketValve = new SafetyValve({
      name: 'bench-bucket',
      // Never runs dry during the case: this measures the bucket's bookkeeping, not waiting.
      hz: 1000,
      rate: 1_000_000_000,
      tokenLimit: 1_000_000_000,
      size: 30,
      concurrency: 32,
    });
    const bh = bulkhead(32, 30);
    const pq = new PQueue({ concurrency: 32 });
    const pl = pLimit(32);
    const cases: Case[] = [
      {
        title: '(a) cost per admitted call, uncontended (sequential await)',
        ops: n,
        contenders: [
          { name: 'safety run()', run: sequential(n, () => valve.run(job)) },
          { name: 'safety run() + token bucket', run: sequential(n, () => bucketValve.run(job)) },
          { name: 'direct call', run: sequential(n, job) },
          { name: 'cockatiel bulkhead', run: sequential(n, () => bh.execute(job)) },
          { name: 'p-queue add()', run: sequential(n, () => pq.add(job)) },
          { name: 'p-limit', run: sequential(n, () => pl(job)) },
        ],
      },
    ];
    const h = ctx.scale(50_000);
    cases.push({
      title: '(b) jobs queued behind 1 slot, time per job (queueing, hand-over, settling)',
      ops: h,
      contenders: [
        {
          name: 'safety run()',
          run: () => {
            const v = new SafetyValve({ size: Number.POSITIVE_INFINITY, concurrency: 1 });
            const all: Promise<unknown>[] = [];
            for (let i = 0; i < h; i++) all.push(v.run(job));
            return Promise.all(all);
          },
        },
        {
          name: 'cockatiel bulkhead',
          run: () => {
            const b = bulkhead(1, h);
            const all: Promise<unknown>[] = [];
            for (let i = 0; i < h; i++) all.push(b.execute(job));
            return Promise.all(all);
          },
        },
        {
          name: 'p-queue',
          run: () => {
            const q = new PQueue({ concurrency: 1 });
            const all: Promise<unknown>[] = [];
            for (let i = 0; i < h; i++) all.push(q.add(job));
            return Promise.all(all);
          },
        },
        {
          name: 'p-limit',
          run: () => {
            const l = pLimit(1);
            const all: Promise<unknown>[] = [];
            for (let i = 0; i < h; i++) all.push(l(job));
            return Promise.all(all);
          },
        },
      ],
    });
    cases.push({
      title: '(b) hand-over: median time from one queued job starting to the next (the job body is a clock read)',
      kind: 'value',
      unit: 'ns',
      contenders: [
        {
          name: 'safety run()',
          run: () => {
            const v = new SafetyValve({ size: Number.POSITIVE_INFINITY, concurrency: 1 });
            return handOverNs(h, (j) => v.run(j));
          },
        },
        {
          name: 'cockatiel bulkhead',
          run: () => {
            const b = bulkhead(1, h);
            return handOverNs(h, (j) => b.execute(j));
          },
        },
        {
          name: 'p-queue',
          run: () => {
            const q = new PQueue({ concurrency: 1 });
            return handOverNs(h, (j) => q.add(j));
          },
        },
        {
          name: 'p-limit',
          run: () => {
            const l = pLimit(1);
            return handOverNs(h, (j) => l(j));
          },
        },
      ],
    });
    const duration = ctx.smoke ? 200 : ctx.scale(10_000);
    const cache = new Map<string, Promise<SimResult>>();
    const sim = (name: string, options: Omit<SafetyValveOptions, 'clock' | 'concurrency'>, load: number) => {
      const key = `${name}@${load}`;
      let r = cache.get(key);
      if (r === undefined) {
        r = simulate(options, load, duration);
        cache.set(key, r);
      }
      return r;
    };
    for (const load of [1, 2, 3, 4]) {
      for (const m of METRICS) {
        cases.push({
          title: `(c) ${load}x load, ${duration / 1000} s simulated: ${m.title}`,
          kind: 'value',
          unit: m.unit,
          higherIsBetter: m.higherIsBetter,
          rounds: 1,
          contenders: DISCIPLINES.map(([name, options]) => ({
            name,
            run: async () => (await sim(name, options, load))[m.key],
          })),
        });
      }
    }
    return cases;
  },
});
