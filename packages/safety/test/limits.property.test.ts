// Issue 17 items 5 and 6: limits changed at run time and weighted jobs, against a plain model.
// Random arrivals (weights 1..3), completions, replenishes and setLimits() calls on a valve with
// no refill timer (tokens come from replenish(), so the model knows every token). After every
// step: the valve's tokens equal the model's (no token lost or duplicated), the slots in use never
// exceed the cap at a start (a job heavier than a lowered cap runs alone), nothing that could
// start waits (raising a limit starts waiters at once), jobs start in arrival order, a refusal
// happens only when the line was full, and every job settles exactly once.
import { ManualClock } from '@valve/core';
import { type Deferred, deferred, flush } from '@valve/testkit';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { SafetyValve } from '../src/index.js';

type Op =
  | { kind: 'arrive'; weight: number }
  | { kind: 'finish'; pick: number }
  | { kind: 'replenish'; n: number }
  | { kind: 'limits'; concurrency?: number; tokenLimit?: number; size?: number };

const op: fc.Arbitrary<Op> = fc.oneof(
  { weight: 4, arbitrary: fc.record({ kind: fc.constant('arrive' as const), weight: fc.integer({ min: 1, max: 3 }) }) },
  { weight: 3, arbitrary: fc.record({ kind: fc.constant('finish' as const), pick: fc.nat() }) },
  { weight: 2, arbitrary: fc.record({ kind: fc.constant('replenish' as const), n: fc.integer({ min: 1, max: 4 }) }) },
  {
    weight: 2,
    arbitrary: fc.record(
      {
        kind: fc.constant('limits' as const),
        concurrency: fc.integer({ min: 1, max: 5 }),
        tokenLimit: fc.integer({ min: 1, max: 6 }),
        size: fc.integer({ min: 0, max: 4 }),
      },
      { requiredKeys: ['kind'] },
    ),
  },
);

interface Job {
  id: number;
  weight: number;
  gate: Deferred<number>;
  state: 'queued' | 'running' | 'done' | 'refused' | 'threw';
  settled: number;
}

async function runModel(ops: Op[]): Promise<void> {
  const limits = { concurrency: 2, tokenLimit: 4, size: 2 };
  const valve = new SafetyValve({
    rate: 1,
    tokenLimit: limits.tokenLimit,
    size: limits.size,
    concurrency: 2,
    clock: new ManualClock(),
  });
  let tokens = limits.tokenLimit;
  const jobs: Job[] = [];
  const started: number[] = [];
  const violations: string[] = [];
  const slotsInUse = () => jobs.filter((j) => j.state === 'running').reduce((n, j) => n + j.weight, 0);
  const check = () => {
    expect(violations).toEqual([]);
    expect(valve.stats().tokens).toBe(tokens);
    const queued = jobs.filter((j) => j.state === 'queued');
    expect(valve.stats().queued).toBe(queued.length);
    const head = queued[0];
    if (head !== undefined) {
      const held = slotsInUse();
      const fits = held + head.weight <= limits.concurrency || held === 0;
      const canStart = fits && tokens >= Math.min(head.weight, limits.tokenLimit);
      expect(canStart, `job ${head.id} (weight ${head.weight}) could start but waits`).toBe(false);
    }
  };
  for (const o of ops) {
    if (o.kind === 'arrive') {
      const job: Job = { id: jobs.length, weight: o.weight, gate: deferred<number>(), state: 'queued', settled: 0 };
      const queuedBefore = jobs.filter((j) => j.state === 'queued').length;
      let promise: Promise<number>;
      try {
        promise = valve.run(
          () => {
            // Slots are checked when the job starts: within the cap, or alone.
            const held = slotsInUse();
            if (!(held + job.weight <= limits.concurrency || held === 0)) {
              violations.push(
                `job ${job.id} (weight ${job.weight}) started with ${held} slots held, cap ${limits.concurrency}`,
              );
            }
            tokens -= Math.min(job.weight, limits.tokenLimit);
            job.state = 'running';
            started.push(job.id);
            return job.gate.promise;
          },
          { weight: job.weight },
        );
      } catch (error) {
        // A weight above the cap or the bucket is refused at the call.
        expect(job.weight > limits.concurrency || job.weight > limits.tokenLimit).toBe(true);
        expect(error).toBeInstanceOf(RangeError);
        job.state = 'threw';
        jobs.push(job);
        continue;
      }
      jobs.push(job);
      promise.then(
        () => {
          job.settled++;
        },
        (e: { reason?: string }) => {
          job.settled++;
          if (e.reason !== 'queue_full' || queuedBefore < limits.size) {
            violations.push(`job ${job.id} rejected: ${String(e)} with ${queuedBefore} queued, size ${limits.size}`);
          }
          job.state = 'refused';
        },
      );
    } else if (o.kind === 'finish') {
      const running = jobs.filter((j) => j.state === 'running');
      if (running.length === 0) continue;
      const job = running[o.pick % running.length]!;
      // Its slot is free once its promise settles, before the caller hears of it.
      job.state = 'done';
      job.gate.resolve(job.id);
    } else if (o.kind === 'replenish') {
      tokens = Math.min(limits.tokenLimit, tokens + o.n); // before: replenish() starts waiters
      valve.replenish(o.n);
    } else {
      // The model first: a raised cap starts waiters inside setLimits().
      if (o.tokenLimit !== undefined) {
        limits.tokenLimit = o.tokenLimit;
        tokens = Math.min(tokens, o.tokenLimit);
      }
      if (o.concurrency !== undefined) limits.concurrency = o.concurrency;
      if (o.size !== undefined) limits.size = o.size;
      valve.setLimits({ concurrency: o.concurrency, tokenLimit: o.tokenLimit, size: o.size });
    }
    await flush();
    check();
  }
  // Let everything through: every job settles exactly once.
  limits.concurrency = 100;
  limits.tokenLimit = 100;
  valve.setLimits({ concurrency: 100, tokenLimit: 100 });
  for (let round = 0; round < 200 && jobs.some((j) => j.state === 'queued' || j.state === 'running'); round++) {
    tokens = 100; // before: replenish() starts waiters
    valve.replenish(100);
    for (const j of jobs) {
      if (j.state !== 'running') continue;
      j.state = 'done';
      j.gate.resolve(j.id);
    }
    await flush();
  }
  expect(violations).toEqual([]);
  for (const j of jobs) {
    if (j.state === 'threw') expect(j.settled).toBe(0);
    else expect(j.settled, `job ${j.id} ${j.state}`).toBe(1);
  }
  expect(started).toEqual([...started].sort((a, b) => a - b));
  expect(valve.stats()).toMatchObject({ running: 0, queued: 0 });
  await valve.close();
}

describe('setLimits() and weights against a model (issue 17 items 5 and 6)', () => {
  it('no token, slot or queued job is lost or duplicated across limit changes', async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(op, { maxLength: 60, size: 'max' }), (ops) => runModel(ops)),
      { numRuns: Number(process.env.VALVE_PROPERTY_RUNS ?? 300) },
    );
  });
});
