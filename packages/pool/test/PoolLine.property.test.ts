import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { Cohort } from '../src/internal/Cohort.js';
import { DONE, Job, QUEUED } from '../src/internal/Job.js';
import { PoolLine } from '../src/internal/PoolLine.js';

/**
 * PoolLine against a plain array model. The line shares the priority queue's `size` counter and
 * keeps removed (aborted) jobs in the queue until they are skipped or compacted, so its `size`
 * must count live items only, `take` must skip the dead ones (and give each back to the count
 * it took it from), and a compaction must keep the live items in order with their cohorts.
 */
type Op =
  | { kind: 'push'; priority: number; cohort: number; bare: boolean }
  | { kind: 'remove'; pick: number }
  | { kind: 'take'; putBack: boolean }
  | { kind: 'storm'; count: number; priority: number }
  | { kind: 'drain' };

const opArb: fc.Arbitrary<Op> = fc.oneof(
  {
    weight: 6,
    arbitrary: fc.record({
      kind: fc.constant('push' as const),
      priority: fc.constantFrom(0, 0, 0, 1, -1, 5),
      cohort: fc.integer({ min: 0, max: 2 }),
      bare: fc.boolean(),
    }),
  },
  // Many removes, so that dead jobs reach the compaction threshold (64) in some runs.
  { weight: 5, arbitrary: fc.record({ kind: fc.constant('remove' as const), pick: fc.nat() }) },
  { weight: 3, arbitrary: fc.record({ kind: fc.constant('take' as const), putBack: fc.boolean() }) },
  // An abort storm: jobs queued and aborted at once (the compaction's case).
  {
    weight: 1,
    arbitrary: fc.record({
      kind: fc.constant('storm' as const),
      count: fc.integer({ min: 20, max: 80 }),
      priority: fc.constantFrom(0, 2),
    }),
  },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('drain' as const) }) },
);

interface Entry {
  id: number;
  priority: number;
  cohort: number;
  item: Job | (() => Promise<void>);
}

describe('PoolLine model', () => {
  it('size counts live items; take skips removed jobs, in priority then FIFO order, with their cohorts', () => {
    const cohorts = [0, 1, 2].map((n) => ({ n }) as unknown as Cohort);
    let compactions = 0;
    fc.assert(
      fc.property(fc.array(opArb, { maxLength: 400, size: 'max' }), (ops) => {
        const line = new PoolLine();
        let model: Entry[] = [];
        let id = 0;
        const order = (a: Entry, b: Entry) => b.priority - a.priority || a.id - b.id;
        const check = () => {
          expect(line.size).toBe(model.length);
          expect(line.held).toBeGreaterThanOrEqual(model.length);
        };
        const takeOne = () => {
          const best = [...model].sort(order)[0];
          const got = line.take();
          expect(got).toBe(best?.item);
          if (best === undefined) return undefined;
          expect(line.lastTag).toBe(cohorts[best.cohort]);
          model = model.filter((e) => e !== best);
          return best;
        };
        for (const op of ops) {
          if (op.kind === 'push') {
            // A bare task waits at priority 0, as `add()` queues it.
            const priority = op.bare ? 0 : op.priority;
            const item = op.bare
              ? async () => {}
              : new Job(async () => {}, priority, cohorts[op.cohort]!, undefined, undefined);
            if (priority === 0) line.pushZero(item, cohorts[op.cohort]!);
            else line.push(item, priority, cohorts[op.cohort]!);
            model.push({ id: id++, priority, cohort: op.cohort, item });
          } else if (op.kind === 'remove') {
            const jobs = model.filter((e) => e.item instanceof Job);
            if (jobs.length === 0) continue;
            const victim = jobs[op.pick % jobs.length]!;
            const heldBefore = line.held;
            (victim.item as Job).state = DONE;
            line.removed();
            model = model.filter((e) => e !== victim);
            if (line.held < heldBefore) compactions++;
          } else if (op.kind === 'storm') {
            const jobs = Array.from(
              { length: op.count },
              () => new Job(async () => {}, op.priority, cohorts[0]!, undefined, undefined),
            );
            for (const job of jobs) line.push(job, op.priority, cohorts[0]!);
            for (const job of jobs) {
              const heldBefore = line.held;
              job.state = DONE;
              line.removed();
              if (line.held < heldBefore) compactions++;
            }
          } else if (op.kind === 'take') {
            const taken = takeOne();
            if (taken !== undefined && op.putBack) {
              line.putBack(taken.item);
              model.push(taken);
              // Put back at the head of its level: it is the oldest there again.
              taken.id = -1 - id++;
            }
          } else {
            const seen: [unknown, Cohort][] = [];
            line.drain((item, cohort) => seen.push([item, cohort]));
            expect(seen).toEqual([...model].sort(order).map((e) => [e.item, cohorts[e.cohort]]));
            model = [];
            expect(line.held).toBe(0);
          }
          check();
        }
        // Whatever is left comes out in order, and then nothing.
        while (model.length > 0) takeOne();
        expect(line.take()).toBeUndefined();
        expect(line.size).toBe(0);
        for (const e of model) expect((e.item as Job).state).toBe(QUEUED);
      }),
      { numRuns: 300 },
    );
    // The compaction path ran (dead jobs outnumbering live ones, at least 64 of them).
    expect(compactions).toBeGreaterThan(10);
  });
});
