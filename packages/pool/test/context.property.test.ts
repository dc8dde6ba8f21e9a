// Issue 14 defect 1, as a property: whatever the order of adds, runs and settlements, every task
// (plain or with a record, queued or started at once) sees exactly the stores its caller saw, of
// two AsyncLocalStorages at once, when it starts and after an await; and starting it never
// changes the stores of whoever started it. The model is the caller's own view: (a, b) per task.
import { AsyncLocalStorage } from 'node:async_hooks';
import { MetricsRegistry } from '@valve/core';
import { type Deferred, deferred, flush } from '@valve/testkit';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { PromisePool } from '../src/index.js';

const a = new AsyncLocalStorage<number>();
const b = new AsyncLocalStorage<string>();

type Caller = { a: number | undefined; b: string | undefined };
type Op =
  | { kind: 'add' | 'run'; caller: Caller; sync: boolean; throws: boolean }
  | { kind: 'settle'; pick: number; ok: boolean };

const callerArb: fc.Arbitrary<Caller> = fc.record({
  a: fc.option(fc.integer({ min: 0, max: 3 }), { nil: undefined }),
  b: fc.option(fc.constantFrom('x', 'y'), { nil: undefined }),
});
const workArb = (kind: 'add' | 'run'): fc.Arbitrary<Op> =>
  fc.record({ kind: fc.constant(kind), caller: callerArb, sync: fc.boolean(), throws: fc.boolean() });
const opArb: fc.Arbitrary<Op> = fc.oneof(
  { weight: 3, arbitrary: workArb('add') },
  { weight: 3, arbitrary: workArb('run') },
  { weight: 4, arbitrary: fc.record({ kind: fc.constant('settle' as const), pick: fc.nat(), ok: fc.boolean() }) },
);

/** Runs `fn` with the caller's stores set (and nothing else), as a request handler would. */
function inCaller<T>(caller: Caller, fn: () => T): T {
  return a.run(caller.a as number, () => b.run(caller.b as string, fn));
}

describe('PromisePool: queued work runs in its caller context (property)', () => {
  it.each([
    ['plain', {}],
    ['with a record', { metrics: new MetricsRegistry() }],
  ])('%s pool: each task sees its caller stores at start and after an await', async (_name, extra) => {
    await fc.assert(
      fc.asyncProperty(
        fc.integer({ min: 1, max: 3 }),
        fc.array(opArb, { maxLength: 40, size: 'max' }),
        async (maxWorkers, ops) => {
          const pool = new PromisePool({ maxWorkers, onError: () => {}, ...extra });
          const gates: Deferred<void>[] = [];
          const expected: Caller[] = [];
          const seen: (Caller | undefined)[][] = [];
          const runs: Promise<unknown>[] = [];
          for (const op of ops) {
            if (op.kind === 'settle') {
              const open = gates.filter((g) => !g.settled);
              if (open.length > 0) {
                const g = open[op.pick % open.length]!;
                if (op.ok) g.resolve();
                else g.reject(new Error('task failed'));
              }
              await flush();
              continue;
            }
            const id = expected.length;
            expected.push(op.caller);
            seen.push([]);
            const gate = deferred<void>();
            gate.promise.catch(() => {}); // a gate may be rejected before its task awaits it
            if (!op.sync) gates.push(gate);
            const task = op.sync
              ? () => {
                  seen[id]!.push({ a: a.getStore(), b: b.getStore() });
                  if (op.throws) throw new Error('sync failure');
                  return id;
                }
              : async () => {
                  seen[id]!.push({ a: a.getStore(), b: b.getStore() });
                  await gate.promise;
                  seen[id]!.push({ a: a.getStore(), b: b.getStore() });
                  return id;
                };
            inCaller(op.caller, () => {
              if (op.kind === 'add') pool.add(task);
              else runs.push(pool.run(task).catch(() => undefined));
              // Queuing or starting work leaves the caller's own stores as they were.
              expect({ a: a.getStore(), b: b.getStore() }).toEqual(op.caller);
            });
          }
          for (const g of gates) if (!g.settled) g.resolve();
          await pool.drain();
          await Promise.all(runs);
          expect(a.getStore()).toBeUndefined();
          expect(b.getStore()).toBeUndefined();
          for (let id = 0; id < expected.length; id++) {
            expect(seen[id]!.length).toBeGreaterThan(0);
            for (const view of seen[id]!) expect(view).toEqual(expected[id]);
          }
        },
      ),
      { numRuns: 150 },
    );
  });
});
