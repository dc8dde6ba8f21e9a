import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { BoundedRingBuffer, RingBuffer } from '../../src/index.js';

type Op =
  | { op: 'push'; value: number }
  | { op: 'unshift'; value: number }
  | { op: 'pushMany'; count: number }
  | { op: 'shift' }
  | { op: 'pop' }
  | { op: 'peek' }
  | { op: 'peekLast' }
  | { op: 'at'; index: number }
  | { op: 'take'; max: number }
  | { op: 'clear' }
  | { op: 'compact' }
  | { op: 'pushEvict'; value: number };

const ops = (withEvict: boolean) =>
  fc.array(
    fc.oneof(
      { weight: 5, arbitrary: fc.record({ op: fc.constant('push' as const), value: fc.integer() }) },
      { weight: 2, arbitrary: fc.record({ op: fc.constant('unshift' as const), value: fc.integer() }) },
      // Bursts drive growth past several powers of two (4 → 8 → … → 2048).
      {
        weight: 1,
        arbitrary: fc.record({ op: fc.constant('pushMany' as const), count: fc.integer({ min: 1, max: 700 }) }),
      },
      { weight: 4, arbitrary: fc.record({ op: fc.constant('shift' as const) }) },
      { weight: 2, arbitrary: fc.record({ op: fc.constant('pop' as const) }) },
      { weight: 1, arbitrary: fc.record({ op: fc.constant('peek' as const) }) },
      { weight: 1, arbitrary: fc.record({ op: fc.constant('peekLast' as const) }) },
      { weight: 2, arbitrary: fc.record({ op: fc.constant('at' as const), index: fc.integer({ min: -50, max: 50 }) }) },
      { weight: 1, arbitrary: fc.record({ op: fc.constant('take' as const), max: fc.integer({ min: -2, max: 300 }) }) },
      { weight: 1, arbitrary: fc.record({ op: fc.constant('clear' as const) }) },
      { weight: 1, arbitrary: fc.record({ op: fc.constant('compact' as const) }) },
      ...(withEvict
        ? [{ weight: 3, arbitrary: fc.record({ op: fc.constant('pushEvict' as const), value: fc.integer() }) }]
        : []),
    ),
    { maxLength: 200, size: 'max' },
  );

/** Items are boxed, so a slot that still references a removed item is detectable. */
interface Box {
  v: number;
}

/** Every slot of the backing store that is not one of the live items must be empty. */
function expectVacatedSlotsCleared(buffer: RingBuffer<Box>, live: readonly Box[]): void {
  const store = (buffer as unknown as { items: (Box | undefined)[] }).items;
  const alive = new Set(live);
  // Plain loop and one assertion: this runs after every operation of every run.
  let occupied = 0;
  let stale = 0;
  for (let i = 0; i < store.length; i++) {
    const slot = store[i];
    if (slot === undefined) continue;
    occupied++;
    if (!alive.has(slot)) stale++;
  }
  expect({ stale, occupied }).toEqual({ stale: 0, occupied: live.length });
}

function run(buffer: RingBuffer<Box>, model: Box[], list: Op[], limit = Number.POSITIVE_INFINITY): void {
  const box = (v: number): Box => ({ v });
  for (const o of list) {
    switch (o.op) {
      case 'push': {
        const b = box(o.value);
        const accepted = model.length < limit;
        expect(buffer.push(b)).toBe(accepted);
        if (accepted) model.push(b);
        break;
      }
      case 'unshift': {
        const b = box(o.value);
        const accepted = model.length < limit;
        expect(buffer.unshift(b)).toBe(accepted);
        if (accepted) model.unshift(b);
        break;
      }
      case 'pushMany':
        for (let i = 0; i < o.count; i++) {
          const b = box(i);
          const accepted = model.length < limit;
          expect(buffer.push(b)).toBe(accepted);
          if (accepted) model.push(b);
        }
        break;
      case 'shift':
        expect(buffer.shift()).toBe(model.shift());
        break;
      case 'pop':
        expect(buffer.pop()).toBe(model.pop());
        break;
      case 'peek':
        expect(buffer.peek()).toBe(model[0]);
        break;
      case 'peekLast':
        expect(buffer.peekLast()).toBe(model.at(-1));
        break;
      case 'at':
        expect(buffer.at(o.index)).toBe(model.at(o.index));
        break;
      case 'take':
        expect(buffer.take(o.max)).toEqual(model.splice(0, Math.max(0, o.max)));
        break;
      case 'clear':
        buffer.clear();
        model.length = 0;
        break;
      case 'compact': {
        buffer.compact();
        let cap = 4;
        while (cap < model.length) cap *= 2;
        expect(buffer.capacity).toBeLessThanOrEqual(Math.max(cap, 4));
        break;
      }
      case 'pushEvict': {
        const b = box(o.value);
        const bounded = buffer as BoundedRingBuffer<Box>;
        const expected = model.length >= limit ? model.shift() : undefined;
        model.push(b);
        expect(bounded.pushEvict(b)).toBe(expected);
        break;
      }
    }
    expect(buffer.size).toBe(model.length);
    expect(buffer.isEmpty).toBe(model.length === 0);
    expect(Number.isInteger(Math.log2(buffer.capacity))).toBe(true);
    expect(buffer.capacity).toBeGreaterThanOrEqual(model.length);
    expectVacatedSlotsCleared(buffer, model);
  }
  expect(buffer.toArray()).toEqual(model);
  expect([...buffer]).toEqual(model);
}

describe('RingBuffer (property, against an array model)', () => {
  it('behaves like an array deque over random operation sequences', () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 40 }), ops(false), (initial, list) => {
        run(new RingBuffer<Box>(initial), [], list);
      }),
      // size 'max' sequences average ~95 operations (default size: ~5), so 50 runs explore ~5x
      // the operations 200 shallow runs did, in a quarter of the time the deep 200 would take.
      { numRuns: 50 },
    );
  });
});

describe('BoundedRingBuffer (property, against an array model)', () => {
  it('behaves like a bounded array deque, evicting the oldest on pushEvict', () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 1500 }), ops(true), (limit, list) => {
        const buffer = new BoundedRingBuffer<Box>(limit);
        const model: Box[] = [];
        run(buffer, model, list, limit);
        expect(buffer.isFull).toBe(model.length >= limit);
        expect(buffer.utilization).toBe(model.length / limit);
      }),
      // size 'max' sequences average ~95 operations (default size: ~5), so 50 runs explore ~5x
      // the operations 200 shallow runs did, in a quarter of the time the deep 200 would take.
      { numRuns: 50 },
    );
  });
});
