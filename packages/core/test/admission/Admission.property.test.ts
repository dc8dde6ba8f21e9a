import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { LyingConcurrency } from '@valve/testkit';
import { Admission, LocalConcurrency, ManualClock, TokenBucket } from '../../src/index.js';
import { Harness, spyOnAvailable, type Unit } from './harness.js';

/**
 * Model test of Admission (issue 14) with a FIFO line and a TokenBucket on a ManualClock, under a
 * fixed cap, a LocalConcurrency or a custom source that lies (refuses while inUse < limit); and
 * with a fixed cap alone ('counted': the plain pool's admission, where `leave` pumps through
 * `pumpCounted` and a finishing unit may pass its slot on with `passOn`). The
 * reference model is a plain array of waiting unit ids and a set of running ones. After every
 * operation: every token taken started exactly one unit; the slots in use equal the running
 * units and a unit started only while running < limit; units started in FIFO order (the fast
 * path only with an empty line); a unit never started twice; and nothing waits while a slot and
 * a token are both free (unless paused). At the end every unit not removed has started.
 */

type Mode = 'fixed' | 'local' | 'lying' | 'counted';

type Op =
  | { kind: 'offer' }
  | { kind: 'finish'; pick: number; failed: boolean; passOn: boolean }
  | { kind: 'remove'; pick: number }
  | { kind: 'advance'; ms: number }
  | { kind: 'pause' }
  | { kind: 'resume' }
  | { kind: 'setLimit'; limit: number }
  | { kind: 'lie'; on: boolean };

const opArb: fc.Arbitrary<Op> = fc.oneof(
  { weight: 6, arbitrary: fc.constant({ kind: 'offer' as const }) },
  {
    weight: 4,
    arbitrary: fc.record({
      kind: fc.constant('finish' as const),
      pick: fc.nat(),
      failed: fc.boolean(),
      passOn: fc.boolean(),
    }),
  },
  { weight: 2, arbitrary: fc.record({ kind: fc.constant('remove' as const), pick: fc.nat() }) },
  {
    weight: 3,
    arbitrary: fc.record({
      kind: fc.constant('advance' as const),
      ms: fc.oneof(fc.integer({ min: 0, max: 120 }), fc.double({ min: 0, max: 3, noNaN: true })),
    }),
  },
  { weight: 1, arbitrary: fc.constant({ kind: 'pause' as const }) },
  { weight: 1, arbitrary: fc.constant({ kind: 'resume' as const }) },
  {
    weight: 1,
    arbitrary: fc.record({ kind: fc.constant('setLimit' as const), limit: fc.integer({ min: 1, max: 5 }) }),
  },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('lie' as const), on: fc.boolean() }) },
);

const caseArb = fc.record({
  mode: fc.constantFrom<Mode>('fixed', 'local', 'lying', 'counted'),
  limit: fc.integer({ min: 1, max: 4 }),
  tokenLimit: fc.integer({ min: 1, max: 3 }),
  rate: fc.integer({ min: 1, max: 2 }),
  hz: fc.oneof(fc.integer({ min: 1, max: 50 }), fc.double({ min: 0.1, max: 5, noNaN: true })),
  // size 'max': fast-check's default size keeps arrays near 10 items, too short to reach a lowered
  // cap with waiters behind it.
  ops: fc.array(opArb, { maxLength: 80, size: 'max' }),
});

type Case = typeof caseArb extends fc.Arbitrary<infer T> ? T : never;

function run(c: Case): void {
  const clock = new ManualClock();
  const bucket = new TokenBucket({ tokenLimit: c.tokenLimit, rate: c.rate, hz: c.hz, clock });
  let tokensTaken = 0;
  const tryAcquire = bucket.tryAcquire.bind(bucket);
  bucket.tryAcquire = () => {
    const ok = tryAcquire();
    if (ok) tokensTaken++;
    return ok;
  };
  const rateSubs = spyOnAvailable(bucket);
  const rated = c.mode !== 'counted';

  let fixedLimit = c.limit;
  const local = c.mode === 'local' ? new LocalConcurrency({ limit: c.limit }) : undefined;
  const lying = c.mode === 'lying' ? new LyingConcurrency(c.limit) : undefined;
  const source = local ?? lying;
  const concSubs = source === undefined ? undefined : spyOnAvailable(source);
  const limitNow = () => (source === undefined ? fixedLimit : source.limit);

  // The reference model.
  const waiting: number[] = [];
  const running = new Set<number>();
  let paused = false;

  const onStart = (unit: Unit) => {
    // FIFO: a unit the pump starts is the model's head.
    expect(waiting[0], `unit ${unit.id} started out of order; line ${waiting}`).toBe(unit.id);
    waiting.shift();
    expect(paused, `unit ${unit.id} started while paused`).toBe(false);
    expect(running.size + 1, 'a unit started with no slot free').toBeLessThanOrEqual(limitNow());
    running.add(unit.id);
  };
  const h = new Harness({
    concurrency: source ?? c.limit,
    rate: rated ? bucket : undefined,
    clock,
    onStart: (u) => onStart(u),
  });

  const slotFree = () => {
    if (source === undefined) return running.size < fixedLimit;
    if (lying?.lying === true) return false;
    return source.inUse < source.limit;
  };

  const check = (step: string) => {
    expect(tokensTaken, `${step}: tokens taken vs units started`).toBe(rated ? h.started.length : 0);
    expect(h.admission.running, `${step}: admission.running`).toBe(running.size);
    if (source !== undefined) expect(source.inUse, `${step}: source.inUse`).toBe(running.size);
    expect(h.line.size, `${step}: line size`).toBe(waiting.length);
    if (!paused && waiting.length > 0) {
      const both = slotFree() && (!rated || bucket.available >= 1);
      expect(both, `${step}: ${waiting.length} wait with a free slot and a token`).toBe(false);
    }
    if (waiting.length === 0) {
      // Our refill timer is gone with the line (the bucket's own timer is unref'd).
      expect(clock.refedTimers, `${step}: a ref'd timer with an empty line`).toBe(0);
      if (running.size === 0) {
        expect(rateSubs.live, `${step}: still listening to the rate`).toBe(0);
        if (concSubs !== undefined) expect(concSubs.live, `${step}: still listening to the source`).toBe(0);
      }
    }
    expect(clock.refedTimers, `${step}: more than one refill timer`).toBeLessThanOrEqual(1);
  };

  c.ops.forEach((op, i) => {
    const step = `op ${i} ${JSON.stringify(op)}`;
    switch (op.kind) {
      case 'offer': {
        const lineBefore = waiting.length;
        const id = h.units.length;
        waiting.push(id); // provisional: a fast-path start takes it back off
        const unit = h.offer();
        if (unit.via === 'fast') {
          expect(lineBefore, `${step}: the fast path passed a waiter`).toBe(0);
          expect(paused, `${step}: the fast path while paused`).toBe(false);
          expect(running.size + 1).toBeLessThanOrEqual(limitNow());
          waiting.pop();
          running.add(id);
        }
        break;
      }
      case 'finish': {
        const list = [...running];
        if (list.length === 0) break;
        const id = list[op.pick % list.length]!;
        running.delete(id);
        // A counted slot may be passed on (what the plain pool does when a task succeeds).
        if (op.passOn && !op.failed && h.units[id]!.permit === Admission.COUNTED) h.finishPassingOn(h.units[id]!);
        else h.finish(h.units[id]!, op.failed);
        break;
      }
      case 'remove': {
        if (waiting.length === 0) break;
        const id = waiting.splice(op.pick % waiting.length, 1)[0]!;
        expect(h.remove(h.units[id]!)).toBe(true);
        break;
      }
      case 'advance':
        clock.advance(op.ms);
        break;
      case 'pause':
        paused = true;
        h.admission.pause();
        break;
      case 'resume':
        paused = false;
        h.admission.resume();
        break;
      case 'setLimit':
        if (source !== undefined) break;
        fixedLimit = op.limit;
        h.admission.setLimit(op.limit);
        break;
      case 'lie':
        lying?.setLying(op.on);
        break;
    }
    check(step);
  });

  // The end: truthful, resumed; time passes and running units finish until nobody waits.
  paused = false;
  h.admission.resume();
  lying?.setLying(false);
  for (let guard = 0; guard < 10_000 && (waiting.length > 0 || running.size > 0); guard++) {
    for (const id of [...running]) {
      running.delete(id);
      h.finish(h.units[id]!);
    }
    clock.advance(c.hz);
    check(`drain ${guard}`);
  }
  expect(waiting).toEqual([]);
  expect(running.size).toBe(0);
  const removed = h.units.filter((u) => u.via === undefined).length;
  expect(h.started.length + removed).toBe(h.units.length);
  expect(new Set(h.started).size).toBe(h.started.length);
  expect(clock.refedTimers).toBe(0);
  expect(rateSubs.live).toBe(0);
  if (concSubs !== undefined) expect(concSubs.live).toBe(0);
}

describe('Admission: model test (FIFO line, TokenBucket, fixed cap / LocalConcurrency / lying source; fixed cap alone with passOn)', () => {
  it('never loses a token or a slot, starts in FIFO order, once each, and leaves nothing waiting that could run', () => {
    fc.assert(
      fc.property(caseArb, (c) => run(c)),
      { numRuns: 600 },
    );
  });
});
