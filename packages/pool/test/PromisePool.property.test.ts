import { ManualClock } from '@valve/core';
import { type Deferred, deferred, flush, track } from '@valve/testkit';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { PromisePool } from '../src/index.js';

/**
 * Model-based test (STYLE.md habit 8): random add/run/abort/advance/settle/pause/drain/done
 * sequences against a plain-array model. Checked on every step: no more than `maxWorkers` tasks
 * hold a slot, every start is the model's next task (highest priority, then first accepted),
 * and at the end every accepted task settled exactly once.
 */

type Op =
  | { kind: 'add' }
  | { kind: 'run'; priority: number; signal: boolean }
  | { kind: 'settle'; pick: number; ok: boolean }
  | { kind: 'abort'; pick: number }
  | { kind: 'advance'; ms: number }
  | { kind: 'pause' }
  | { kind: 'resume' }
  | { kind: 'drain' }
  | { kind: 'done' };

const opArb: fc.Arbitrary<Op> = fc.oneof(
  { weight: 4, arbitrary: fc.constant({ kind: 'add' as const }) },
  {
    weight: 4,
    arbitrary: fc.record({
      kind: fc.constant('run' as const),
      priority: fc.integer({ min: -2, max: 2 }),
      signal: fc.boolean(),
    }),
  },
  { weight: 5, arbitrary: fc.record({ kind: fc.constant('settle' as const), pick: fc.nat(), ok: fc.boolean() }) },
  { weight: 2, arbitrary: fc.record({ kind: fc.constant('abort' as const), pick: fc.nat() }) },
  { weight: 2, arbitrary: fc.record({ kind: fc.constant('advance' as const), ms: fc.integer({ min: 1, max: 60 }) }) },
  { weight: 1, arbitrary: fc.constant({ kind: 'pause' as const }) },
  { weight: 1, arbitrary: fc.constant({ kind: 'resume' as const }) },
  { weight: 1, arbitrary: fc.constant({ kind: 'drain' as const }) },
  { weight: 1, arbitrary: fc.constant({ kind: 'done' as const }) },
);

interface ModelTask {
  seq: number;
  priority: number;
  state: 'queued' | 'holding' | 'released';
  /** The pool called the task (so its gate's promise is the pool's to handle). */
  started: boolean;
  startedAt: number;
  gate: Deferred<void>;
  controller: AbortController | undefined;
  result: ReturnType<typeof track> | undefined;
}

describe('PromisePool model', () => {
  it('bounded concurrency, priority-then-FIFO order, every accepted task settles exactly once', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.integer({ min: 1, max: 3 }),
        fc.option(fc.integer({ min: 20, max: 100 }), { nil: undefined }),
        fc.array(opArb, { maxLength: 60, size: 'max' }),
        async (maxWorkers, taskTimeoutMs, ops) => {
          const clock = new ManualClock();
          let settledEvents = 0;
          const pool = new PromisePool({ maxWorkers, taskTimeoutMs, clock });
          pool.onSettled(() => settledEvents++);
          const tasks: ModelTask[] = [];
          const drains: ReturnType<typeof track>[] = [];
          let holding = 0;
          let closed = false;
          let seq = 0;

          const queued = () => tasks.filter((t) => t.state === 'queued');
          const release = (t: ModelTask) => {
            if (t.state === 'holding') holding--;
            t.state = 'released';
          };
          const body = (t: ModelTask) => () => {
            // The pool starts this task: it must be the model's next one.
            const best = queued().sort((a, b) => b.priority - a.priority || a.seq - b.seq)[0];
            expect(best).toBe(t);
            t.state = 'holding';
            t.started = true;
            t.startedAt = clock.now();
            holding++;
            expect(holding).toBeLessThanOrEqual(maxWorkers);
            return t.gate.promise;
          };
          const newTask = (priority: number, signal: boolean): ModelTask => {
            const t: ModelTask = {
              seq: seq++,
              priority,
              state: 'queued',
              started: false,
              startedAt: 0,
              gate: deferred<void>(),
              controller: signal ? new AbortController() : undefined,
              result: undefined,
            };
            tasks.push(t);
            return t;
          };

          for (const op of ops) {
            switch (op.kind) {
              case 'add': {
                if (closed) {
                  expect(() => pool.add(async () => {})).toThrow('closed');
                  break;
                }
                const t = newTask(0, false);
                pool.add(body(t));
                break;
              }
              case 'run': {
                if (closed) {
                  await expect(pool.run(async () => {})).rejects.toThrow('closed');
                  break;
                }
                const t = newTask(op.priority, op.signal);
                t.result = track(pool.run(body(t), { priority: op.priority, signal: t.controller?.signal }));
                break;
              }
              case 'settle': {
                const open = tasks.filter((t) => t.started && !t.gate.settled);
                if (open.length === 0) break;
                const t = open[op.pick % open.length]!;
                release(t);
                if (op.ok) t.gate.resolve();
                else t.gate.reject(new Error(`task ${t.seq}`));
                break;
              }
              case 'abort': {
                const abortable = tasks.filter((t) => t.controller && t.state !== 'released');
                if (abortable.length === 0) break;
                const t = abortable[op.pick % abortable.length]!;
                release(t);
                t.controller!.abort(new Error(`abort ${t.seq}`));
                break;
              }
              case 'advance': {
                // One ms at a time, so the model sees each timeout before the start it allows.
                for (let i = 0; i < op.ms; i++) {
                  const now = clock.now() + 1;
                  if (taskTimeoutMs !== undefined) {
                    for (const t of tasks) if (t.state === 'holding' && t.startedAt + taskTimeoutMs <= now) release(t);
                  }
                  await clock.advanceAsync(1);
                }
                break;
              }
              case 'pause':
                pool.pause();
                break;
              case 'resume':
                pool.resume();
                break;
              case 'drain':
                drains.push(track(pool.drain()));
                break;
              case 'done':
                closed = true;
                drains.push(track(pool.done()));
                break;
            }
            await flush();
            expect(pool.active).toBe(holding);
            expect(pool.size).toBe(queued().length);
          }

          // Let everything finish: resume, open every gate, run every timer.
          pool.resume();
          for (;;) {
            await flush();
            const open = tasks.filter((t) => t.state === 'holding');
            if (open.length === 0 && pool.size === 0) break;
            for (const t of open) {
              release(t);
              t.gate.resolve();
            }
          }
          await clock.runAllAsync();
          await flush();
          for (const t of tasks) if (t.result) expect(t.result.settleCount).toBe(1);
          expect(settledEvents).toBe(tasks.length);
          expect(pool.stats().completed + pool.stats().failed + pool.stats().rejectedByReason.aborted).toBe(
            tasks.length,
          );
          const final = track(pool.done());
          await flush();
          expect(final.state).not.toBe('pending');
          for (const d of drains) expect(d.state).not.toBe('pending');
          expect(clock.refedTimers).toBe(0);
        },
      ),
      { numRuns: 300 },
    );
  });
});
