import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { LazyQueue } from '../../src/index.js';

interface E {
  id: number;
  gone: boolean;
}

const entry = (id: number): E => ({ id, gone: true });
const ids = (list: readonly (E | undefined)[]) => list.map((e) => e?.id);

describe('LazyQueue', () => {
  it('push/shift is FIFO, pop takes the newest, peek looks without taking', () => {
    const q = new LazyQueue<E>();
    expect(q.shift()).toBeUndefined();
    expect(q.pop()).toBeUndefined();
    expect(q.peek()).toBeUndefined();
    const [a, b, c] = [entry(1), entry(2), entry(3)];
    q.push(a);
    q.push(b);
    q.push(c);
    expect(a.gone).toBe(false);
    expect(q.size).toBe(3);
    expect(q.peek()).toBe(a);
    expect(q.size).toBe(3);
    expect(q.shift()).toBe(a);
    expect(a.gone).toBe(true);
    expect(q.pop()).toBe(c);
    expect(q.size).toBe(1);
    expect(q.shift()).toBe(b);
    expect(q.shift()).toBeUndefined();
    expect(q.size).toBe(0);
  });

  it('remove() takes an entry from the middle in place; it is skipped at either end; a second remove is false', () => {
    const q = new LazyQueue<E>();
    const es = [1, 2, 3, 4, 5].map(entry);
    for (const e of es) q.push(e);
    expect(q.remove(es[0]!)).toBe(true);
    expect(q.remove(es[2]!)).toBe(true);
    expect(q.remove(es[4]!)).toBe(true);
    expect(q.remove(es[2]!)).toBe(false);
    expect(q.size).toBe(2);
    expect(q.peek()).toBe(es[1]);
    expect(q.pop()).toBe(es[3]);
    expect(q.shift()).toBe(es[1]);
    expect(q.size).toBe(0);
    expect(q.peek()).toBeUndefined();
  });

  it('an entry already taken cannot be removed', () => {
    const q = new LazyQueue<E>();
    const a = entry(1);
    q.push(a);
    q.shift();
    expect(q.remove(a)).toBe(false);
    expect(q.size).toBe(0);
  });

  it('unshift() puts a taken entry back at the front (a gate refused after all)', () => {
    const q = new LazyQueue<E>();
    const [a, b] = [entry(1), entry(2)];
    q.push(a);
    q.push(b);
    const taken = q.shift()!;
    q.unshift(taken);
    expect(taken.gone).toBe(false);
    expect(q.size).toBe(2);
    expect(ids(q.drain())).toEqual([1, 2]);
  });

  it('drain() returns the live entries oldest first and empties the queue', () => {
    const q = new LazyQueue<E>();
    const es = [1, 2, 3, 4].map(entry);
    for (const e of es) q.push(e);
    q.remove(es[1]!);
    expect(ids(q.drain())).toEqual([1, 3, 4]);
    expect(q.size).toBe(0);
    expect(q.capacityUsed).toBe(0);
    expect(q.drain()).toEqual([]);
    expect(es.every((e) => e.gone)).toBe(true);
  });

  it('compacts under an abort storm behind a head that never leaves: capacityUsed stays O(live)', () => {
    const q = new LazyQueue<E>();
    const head = entry(0);
    q.push(head);
    let max = 0;
    for (let i = 1; i <= 100_000; i++) {
      const e = entry(i);
      q.push(e);
      q.remove(e);
      max = Math.max(max, q.capacityUsed);
    }
    expect(q.size).toBe(1);
    expect(max).toBeLessThanOrEqual(64);
    expect(q.peek()).toBe(head);
  });

  it('compacts when the dead reach the live: a storm that aborts half of 10,000 waiters', () => {
    const q = new LazyQueue<E>();
    const es = Array.from({ length: 10_000 }, (_, i) => entry(i));
    for (const e of es) q.push(e);
    for (let i = 0; i < es.length; i += 2) {
      q.remove(es[i]!);
      expect(q.capacityUsed).toBeLessThanOrEqual(Math.max(64, 2 * q.size + 1));
    }
    expect(q.size).toBe(5_000);
    expect(ids(q.drain())).toEqual(es.filter((_, i) => i % 2 === 1).map((e) => e.id));
  });

  it('matches a plain array under random push/unshift/shift/pop/peek/remove, and its dead stay bounded', () => {
    type Op =
      | { op: 'push' }
      | { op: 'shift' }
      | { op: 'pop' }
      | { op: 'peek' }
      | { op: 'remove'; pick: number }
      | { op: 'removeTaken' }
      | { op: 'putBack' }
      | { op: 'pushMany'; n: number }
      | { op: 'removeMany'; n: number; pick: number };
    const opArb: fc.Arbitrary<Op> = fc.oneof(
      { weight: 5, arbitrary: fc.constant({ op: 'push' as const }) },
      {
        weight: 1,
        arbitrary: fc.record({ op: fc.constant('pushMany' as const), n: fc.integer({ min: 1, max: 200 }) }),
      },
      { weight: 2, arbitrary: fc.constant({ op: 'shift' as const }) },
      { weight: 1, arbitrary: fc.constant({ op: 'pop' as const }) },
      { weight: 1, arbitrary: fc.constant({ op: 'peek' as const }) },
      { weight: 5, arbitrary: fc.record({ op: fc.constant('remove' as const), pick: fc.nat() }) },
      { weight: 1, arbitrary: fc.constant({ op: 'removeTaken' as const }) },
      { weight: 1, arbitrary: fc.constant({ op: 'putBack' as const }) },
      // Abort storms: enough removals at once to reach the compaction (64 held, dead >= live).
      {
        weight: 1,
        arbitrary: fc.record({
          op: fc.constant('removeMany' as const),
          n: fc.integer({ min: 1, max: 150 }),
          pick: fc.nat(),
        }),
      },
    );
    let compactions = 0;
    fc.assert(
      fc.property(fc.array(opArb, { maxLength: 200, size: 'max' }), (ops) => {
        const q = new LazyQueue<E>();
        const model: E[] = [];
        let next = 0;
        let lastTaken: E | undefined;
        let justShifted: E | undefined;
        for (const o of ops) {
          switch (o.op) {
            case 'push': {
              const e = entry(next++);
              q.push(e);
              model.push(e);
              break;
            }
            case 'pushMany':
              for (let i = 0; i < o.n; i++) {
                const e = entry(next++);
                q.push(e);
                model.push(e);
              }
              break;
            case 'shift':
              lastTaken = q.shift();
              expect(lastTaken).toBe(model.shift());
              break;
            case 'pop':
              lastTaken = q.pop();
              expect(lastTaken).toBe(model.pop());
              break;
            case 'peek':
              expect(q.peek()).toBe(model[0]);
              break;
            case 'remove': {
              if (model.length === 0) break;
              const [e] = model.splice(o.pick % model.length, 1);
              expect(q.remove(e!)).toBe(true);
              // Right after a removal the dead never outnumber the live (past the small-queue floor).
              expect(q.capacityUsed).toBeLessThanOrEqual(Math.max(63, 2 * q.size + 1));
              break;
            }
            case 'removeMany':
              for (let i = 0; i < o.n && model.length > 0; i++) {
                const [e] = model.splice((o.pick + i * 7) % model.length, 1);
                const held = q.capacityUsed;
                expect(q.remove(e!)).toBe(true);
                if (q.capacityUsed < held - 1) compactions++;
                expect(q.capacityUsed).toBeLessThanOrEqual(Math.max(63, 2 * q.size + 1));
              }
              break;
            case 'removeTaken':
              if (lastTaken !== undefined && !model.includes(lastTaken)) expect(q.remove(lastTaken)).toBe(false);
              break;
            case 'putBack':
              // Only the entry shift() just returned, as the WaitLine contract says.
              if (justShifted !== undefined) {
                q.unshift(justShifted);
                model.unshift(justShifted);
              }
              break;
          }
          justShifted = o.op === 'shift' ? lastTaken : undefined;
          expect(q.size).toBe(model.length);
          expect(q.capacityUsed).toBeGreaterThanOrEqual(q.size);
        }
        expect(q.drain()).toEqual(model);
      }),
      { numRuns: 300 },
    );
    // The model must reach the compaction often, or it checks the easy half only.
    expect(compactions).toBeGreaterThan(50);
  });
});
