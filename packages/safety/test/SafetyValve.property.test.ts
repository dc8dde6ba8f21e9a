// Model-based test (after safetyvalve's eqc_test/svq.erl): random arrivals, completions,
// refills, aborts and clock advances against a plain reimplementation of the rules. The valve
// and the model must start, queue and reject the same jobs; running <= concurrency always;
// every job settles exactly once; no slot leaks.
import { ManualClock } from '@valve/core';
import { type Deferred, deferred, flush, track } from '@valve/testkit';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { SafetyValve } from '../src/index.js';

type Op =
  | { kind: 'arrive'; abortable: boolean }
  | { kind: 'finish'; pick: number; fail: boolean }
  | { kind: 'abort'; pick: number }
  | { kind: 'replenish'; n: number }
  | { kind: 'advance'; ms: number };

interface Config {
  hz: number;
  rate: number;
  tokenLimit: number;
  size: number;
  concurrency: number;
}

/** The rules, as plainly as they can be written. */
class Model {
  tokens: number;
  running: number[] = [];
  queue: number[] = [];
  rejected: number[] = [];
  aborted: number[] = [];
  started: number[] = [];
  now = 0;
  constructor(private readonly c: Config) {
    this.tokens = c.tokenLimit;
  }
  private admit(): void {
    while (this.queue.length > 0 && this.running.length < this.c.concurrency && this.tokens >= 1) {
      const id = this.queue.shift()!;
      this.tokens--;
      this.running.push(id);
      this.started.push(id);
    }
  }
  arrive(id: number): void {
    if (this.queue.length === 0 && this.running.length < this.c.concurrency && this.tokens >= 1) {
      this.tokens--;
      this.running.push(id);
      this.started.push(id);
    } else if (this.queue.length >= this.c.size) {
      this.rejected.push(id);
    } else {
      this.queue.push(id);
    }
  }
  finish(id: number): void {
    this.running.splice(this.running.indexOf(id), 1);
    this.admit();
  }
  abort(id: number): void {
    this.queue.splice(this.queue.indexOf(id), 1);
    this.aborted.push(id);
  }
  replenish(n: number): void {
    this.tokens = Math.min(this.c.tokenLimit, this.tokens + n);
    this.admit();
  }
  advance(ms: number): void {
    const end = this.now + ms;
    // Refills at k * hz, one at a time, each starting the waiters it allows.
    for (let k = Math.floor(this.now / this.c.hz) + 1; k * this.c.hz <= end; k++) {
      this.replenish(this.c.rate);
    }
    this.now = end;
  }
}

const configArb = fc.record({
  hz: fc.integer({ min: 5, max: 50 }),
  rate: fc.integer({ min: 1, max: 3 }),
  tokenLimit: fc.integer({ min: 1, max: 5 }),
  size: fc.integer({ min: 0, max: 5 }),
  concurrency: fc.integer({ min: 1, max: 4 }),
});

const opArb: fc.Arbitrary<Op> = fc.oneof(
  { weight: 4, arbitrary: fc.record({ kind: fc.constant('arrive' as const), abortable: fc.boolean() }) },
  {
    weight: 3,
    arbitrary: fc.record({ kind: fc.constant('finish' as const), pick: fc.nat(), fail: fc.boolean() }),
  },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('abort' as const), pick: fc.nat() }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('replenish' as const), n: fc.integer({ min: 0, max: 3 }) }) },
  { weight: 2, arbitrary: fc.record({ kind: fc.constant('advance' as const), ms: fc.integer({ min: 0, max: 40 }) }) },
);

/** Lets the promise callbacks of one operation run (a job's end takes a few microtask turns). */
async function settle(): Promise<void> {
  for (let i = 0; i < 8; i++) await null;
}

async function check(config: Config, ops: Op[]): Promise<void> {
  const clock = new ManualClock();
  const valve = new SafetyValve({ ...config, clock });
  const model = new Model(config);
  const started: number[] = [];
  const gates = new Map<number, Deferred<number>>();
  const controllers = new Map<number, AbortController>();
  const results: ReturnType<typeof track<number>>[] = [];
  let maxRunning = 0;
  let compared = 0;
  let next = 0;
  for (const op of ops) {
    switch (op.kind) {
      case 'arrive': {
        const id = next++;
        const ac = op.abortable ? new AbortController() : undefined;
        if (ac) controllers.set(id, ac);
        const gate = deferred<number>();
        gates.set(id, gate);
        results.push(
          track(
            valve.run(
              () => {
                started.push(id);
                return gate.promise;
              },
              { signal: ac?.signal },
            ),
          ),
        );
        model.arrive(id);
        break;
      }
      case 'finish': {
        if (model.running.length === 0) break;
        const id = model.running[op.pick % model.running.length]!;
        if (op.fail) gates.get(id)!.reject(new Error(`job ${id} failed`));
        else gates.get(id)!.resolve(id);
        model.finish(id);
        break;
      }
      case 'abort': {
        const abortable = model.queue.filter((id) => controllers.has(id));
        if (abortable.length === 0) break;
        const id = abortable[op.pick % abortable.length]!;
        controllers.get(id)!.abort(new Error(`abort ${id}`));
        model.abort(id);
        break;
      }
      case 'replenish':
        valve.replenish(op.n);
        model.replenish(op.n);
        break;
      case 'advance':
        clock.advance(op.ms);
        model.advance(op.ms);
        break;
    }
    await settle();
    const s = valve.stats();
    maxRunning = Math.max(maxRunning, s.running);
    // Same jobs started, in the same order (compared incrementally: the arrays only grow).
    if (started.length !== model.started.length) expect(started).toEqual(model.started);
    for (let i = compared; i < started.length; i++) {
      if (started[i] !== model.started[i]) expect(started).toEqual(model.started);
    }
    compared = started.length;
    // Plain comparisons first: expect() on every one of 10^5 steps would dominate the run time.
    if (
      s.running !== model.running.length ||
      s.queued !== model.queue.length ||
      s.tokens !== model.tokens ||
      s.rejectedByReason.queue_full !== model.rejected.length ||
      s.aborted !== model.aborted.length
    ) {
      expect({
        running: s.running,
        queued: s.queued,
        tokens: s.tokens,
        rejected: s.rejectedByReason.queue_full,
        aborted: s.aborted,
      }).toEqual({
        running: model.running.length,
        queued: model.queue.length,
        tokens: model.tokens,
        rejected: model.rejected.length,
        aborted: model.aborted.length,
      });
    }
  }
  expect(maxRunning).toBeLessThanOrEqual(config.concurrency);
  // Wind down: finish everything running, close, and check every job settled exactly once.
  for (const gate of gates.values()) gate.resolve(0);
  await flush();
  valve.close();
  await flush();
  for (const r of results) expect(r.settleCount).toBe(1);
  expect(valve.stats()).toMatchObject({ running: 0, queued: 0 });
  expect(clock.refedTimers).toBe(0);
  for (const id of model.rejected) expect(results[id]!.error).toMatchObject({ reason: 'queue_full' });
}

describe('SafetyValve against a model of the rules', () => {
  it('admits, queues and rejects exactly as the model (100 runs x 1000 operations = 10^5)', async () => {
    await fc.assert(fc.asyncProperty(configArb, fc.array(opArb, { minLength: 1000, maxLength: 1000 }), check), {
      numRuns: 100,
    });
  }, 120_000);
});
