// The pool's two paths (issue 14): the plain fast path (no record per task) and the reference
// path (a Job per task: taken whenever the pool has metrics, timeouts, retries or a source) must
// behave the same. Random add/run/settle/pause/resume/drain sequences run on one pool of each
// kind, and everything a user can observe is compared after every step.
import { ManualClock, MetricsRegistry } from '@valve/core';
import { type Deferred, deferred, flush, track } from '@valve/testkit';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { PromisePool } from '../src/index.js';

type Op =
  | { kind: 'add' }
  | { kind: 'run'; priority: number }
  | { kind: 'settle'; pick: number; ok: boolean }
  | { kind: 'pause' }
  | { kind: 'resume' }
  | { kind: 'drain' };

const opArb: fc.Arbitrary<Op> = fc.oneof(
  { weight: 4, arbitrary: fc.constant({ kind: 'add' as const }) },
  { weight: 4, arbitrary: fc.record({ kind: fc.constant('run' as const), priority: fc.integer({ min: -1, max: 1 }) }) },
  { weight: 6, arbitrary: fc.record({ kind: fc.constant('settle' as const), pick: fc.nat(), ok: fc.boolean() }) },
  { weight: 1, arbitrary: fc.constant({ kind: 'pause' as const }) },
  { weight: 1, arbitrary: fc.constant({ kind: 'resume' as const }) },
  { weight: 1, arbitrary: fc.constant({ kind: 'drain' as const }) },
);

/** size 'max': the default size never generates more than 10 of the 50 (average ~5). */
const ops = fc.array(opArb, { maxLength: 50, size: 'max' });

/** One pool and what a user sees of it. */
class Side {
  readonly pool: PromisePool;
  readonly started: number[] = [];
  readonly gates = new Map<number, Deferred<number>>();
  readonly results: ReturnType<typeof track>[] = [];
  readonly drains: ReturnType<typeof track>[] = [];
  readonly errors: string[] = [];
  readonly addReturns: number[] = [];

  constructor(reference: boolean, maxWorkers: number) {
    this.pool = new PromisePool({
      maxWorkers,
      clock: new ManualClock(),
      metrics: reference ? new MetricsRegistry() : undefined,
      onError: (e) => this.errors.push((e as Error).message),
    });
  }

  task(id: number) {
    return () => {
      this.started.push(id);
      const gate = deferred<number>();
      this.gates.set(id, gate);
      return gate.promise;
    };
  }

  view() {
    const { queued, running, admitted, completed, failed, rejected, active, paused } = this.pool.stats();
    return {
      stats: { queued, running, admitted, completed, failed, rejected, active, paused },
      started: [...this.started],
      results: this.results.map((r) => [r.state, r.value, (r.error as Error | undefined)?.message]),
      drains: this.drains.map((d) => [d.state, JSON.stringify(d.value)]),
      errors: [...this.errors],
      addReturns: [...this.addReturns],
    };
  }
}

describe('PromisePool: the plain path and the reference path agree', () => {
  it('same starts, results, stats, drain summaries and onError calls for any sequence', async () => {
    await fc.assert(
      fc.asyncProperty(fc.integer({ min: 1, max: 3 }), ops, async (maxWorkers, ops) => {
        const plain = new Side(false, maxWorkers);
        const reference = new Side(true, maxWorkers);
        const sides = [plain, reference];
        let next = 0;
        for (const op of ops) {
          const id = next;
          for (const side of sides) {
            switch (op.kind) {
              case 'add':
                side.addReturns.push(side.pool.add(side.task(id)));
                break;
              case 'run':
                side.results.push(track(side.pool.run(side.task(id), { priority: op.priority })));
                break;
              case 'settle': {
                const open = [...side.gates.entries()].filter(([, g]) => !g.settled).map(([k]) => k);
                if (open.length === 0) break;
                const k = open[op.pick % open.length]!;
                if (op.ok) side.gates.get(k)!.resolve(k);
                else side.gates.get(k)!.reject(new Error(`task ${k}`));
                break;
              }
              case 'pause':
                side.pool.pause();
                break;
              case 'resume':
                side.pool.resume();
                break;
              case 'drain':
                side.drains.push(track(side.pool.drain().then((s) => ({ ...s, durationMs: 0 }))));
                break;
            }
          }
          if (op.kind === 'add' || op.kind === 'run') next++;
          await flush();
          expect(reference.view()).toEqual(plain.view());
        }
        // Settle everything, then both must have drained the same way.
        for (const side of sides) side.pool.resume();
        for (let round = 0; round < 100; round++) {
          await flush();
          let open = 0;
          for (const side of sides) {
            for (const [k, g] of side.gates) {
              if (g.settled) continue;
              open++;
              g.resolve(k);
            }
          }
          if (open === 0 && plain.pool.size === 0 && reference.pool.size === 0) break;
        }
        await flush();
        expect(reference.view()).toEqual(plain.view());
        expect(plain.pool.stats()).toMatchObject({ queued: 0, running: 0 });
      }),
      { numRuns: 200 },
    );
  });
});
