/**
 * Model-based property test (STYLE habit 8) against a real Redis: random interleavings of
 * acquire (with or without a signal), abort, release and waiting, then close(). Checks that every
 * acquire settles exactly once, that the cap is never exceeded (counted by this test and by
 * Redis), and that nothing is left under the prefix once every permit is released.
 */
import type { Permit } from '@valve/core';
import { track } from '@valve/testkit';
import fc from 'fast-check';
import { afterAll, describe, expect, it } from 'vitest';
import { RedisSemaphore } from '../src/index.js';
import { client, closeClients, eventually, keysUnder, sleep, uniquePrefix, url } from './helpers.js';

type Op =
  | { kind: 'acquire'; withSignal: boolean }
  | { kind: 'abort'; i: number }
  | { kind: 'release'; i: number }
  | { kind: 'wait' };

const op: fc.Arbitrary<Op> = fc.oneof(
  fc.record({ kind: fc.constant('acquire' as const), withSignal: fc.boolean() }),
  fc.record({ kind: fc.constant('abort' as const), i: fc.nat(20) }),
  fc.record({ kind: fc.constant('release' as const), i: fc.nat(20) }),
  fc.record({ kind: fc.constant('wait' as const) }),
);

describe.skipIf(!url)('RedisSemaphore, model-based', () => {
  afterAll(closeClients);

  it('every acquire settles exactly once; the cap holds; close() leaves nothing once released', async () => {
    const observer = client();
    await fc.assert(
      fc.asyncProperty(
        fc.integer({ min: 1, max: 3 }),
        fc.array(op, { minLength: 1, maxLength: 25, size: 'max' }),
        async (limit, ops) => {
          const prefix = uniquePrefix();
          // Two instances, as two services would be.
          const instances = [client(), client()].map(
            (redis) =>
              new RedisSemaphore({ redis, prefix, name: 'm', limit, leaseMs: 5000, redisErrorPolicy: 'fail-closed' }),
          );
          const calls: { t: ReturnType<typeof track<Permit>>; controller?: AbortController; released: boolean }[] = [];
          let n = 0;
          for (const o of ops) {
            if (o.kind === 'acquire') {
              const controller = o.withSignal ? new AbortController() : undefined;
              calls.push({ t: track(instances[n++ % 2]!.acquire(controller?.signal)), controller, released: false });
            } else if (o.kind === 'abort') {
              calls[o.i % Math.max(1, calls.length)]?.controller?.abort(new Error('aborted'));
            } else if (o.kind === 'release') {
              const c = calls[o.i % Math.max(1, calls.length)];
              if (c?.t.state === 'resolved') {
                c.t.value!.release();
                c.released = true;
              }
            } else {
              await sleep(5);
            }
            const holding = calls.filter((c) => c.t.state === 'resolved' && !c.released).length;
            expect(holding).toBeLessThanOrEqual(limit);
          }
          await sleep(20);
          expect(await observer.zcount(instances[0]!.key, '-inf', '+inf')).toBeLessThanOrEqual(limit);
          for (const s of instances) await s.close();
          await sleep(0); // let the settled promises' callbacks (track) run
          for (const c of calls) {
            expect(c.t.state).not.toBe('pending');
            expect(c.t.settleCount).toBe(1);
            if (c.t.state === 'resolved' && !c.released) c.t.value!.release();
          }
          await eventually(async () => (await keysUnder(observer, prefix)).length === 0, 2000, 10);
        },
      ),
      // size 'max': ~12.6 ops a run against real Redis, up to 25 (default size: ~6.3, never past
      // 12); 15 runs explore as many operations as 30 shallow ones did.
      { numRuns: 15 },
    );
  }, 25_000);
});
