import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { PriorityQueue } from '../src/PriorityQueue.js';

/** The queue against a plain sorted-array model: push, shift, unshift-after-shift and filter. */
type Op =
  | { kind: 'push'; priority: number; tag: number }
  | { kind: 'shift'; putBack: boolean }
  | { kind: 'filter'; mod: number };

const opArb: fc.Arbitrary<Op> = fc.oneof(
  {
    weight: 5,
    arbitrary: fc.record({
      kind: fc.constant('push' as const),
      priority: fc.integer({ min: -3, max: 3 }),
      tag: fc.integer({ min: 0, max: 3 }),
    }),
  },
  { weight: 4, arbitrary: fc.record({ kind: fc.constant('shift' as const), putBack: fc.boolean() }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('filter' as const), mod: fc.integer({ min: 2, max: 4 }) }) },
);

describe('PriorityQueue model', () => {
  it('matches a sorted array: highest priority, then first pushed; tags follow their items', () => {
    fc.assert(
      fc.property(fc.array(opArb, { maxLength: 120, size: 'max' }), (ops) => {
        const q = new PriorityQueue<number, number>();
        let model: { id: number; priority: number; tag: number }[] = [];
        let id = 0;
        for (const op of ops) {
          if (op.kind === 'push') {
            q.push(id, op.priority, op.tag);
            model.push({ id: id++, priority: op.priority, tag: op.tag });
          } else if (op.kind === 'shift') {
            const best = [...model].sort((a, b) => b.priority - a.priority || a.id - b.id)[0];
            const got = q.shift();
            expect(got).toBe(best?.id);
            if (best === undefined) continue;
            expect(q.lastTag).toBe(best.tag);
            if (op.putBack) q.unshift(got!, best.priority);
            else model = model.filter((m) => m !== best);
          } else {
            q.filter((n) => n % op.mod !== 0);
            model = model.filter((m) => m.id % op.mod !== 0);
          }
          expect(q.size).toBe(model.length);
        }
      }),
      { numRuns: 500 },
    );
  });
});
