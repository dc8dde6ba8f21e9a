/**
 * Model-based property test against a real Redis: random interleavings of acquire (with or
 * without a signal, on two instances), abort and waiting, then close(), on a bucket that does
 * not refill during the run. Invariants: every acquire settles exactly once, and no token is
 * lost or duplicated: the tokens granted plus those left in Redis equal `tokenLimit` (tokens
 * taken for callers that aborted or were closed meanwhile are given back).
 */
import { track } from '@valve/testkit';
import fc from 'fast-check';
import { afterAll, describe, expect, it } from 'vitest';
import { RedisTokenBucket } from '../src/index.js';
import { client, closeClients, eventually, sleep, uniquePrefix, url } from './helpers.js';

type Op = { kind: 'acquire'; withSignal: boolean } | { kind: 'abort'; i: number } | { kind: 'wait' };

const op: fc.Arbitrary<Op> = fc.oneof(
  fc.record({ kind: fc.constant('acquire' as const), withSignal: fc.boolean() }),
  fc.record({ kind: fc.constant('abort' as const), i: fc.nat(20) }),
  fc.record({ kind: fc.constant('wait' as const) }),
);

describe.skipIf(!url)('RedisTokenBucket, model-based', () => {
  afterAll(closeClients);

  it('every acquire settles exactly once; granted + left = tokenLimit (no token lost or doubled)', async () => {
    const observer = client();
    await fc.assert(
      fc.asyncProperty(
        fc.integer({ min: 1, max: 4 }),
        fc.array(op, { minLength: 1, maxLength: 25, size: 'max' }),
        async (tokenLimit, ops) => {
          const prefix = uniquePrefix();
          const instances = [client(), client()].map(
            (redis) =>
              new RedisTokenBucket({
                redis,
                prefix,
                name: 'm',
                rate: 1,
                hz: 600_000,
                tokenLimit,
                redisErrorPolicy: 'fail-closed',
              }),
          );
          const calls: { t: ReturnType<typeof track<void>>; controller?: AbortController }[] = [];
          let n = 0;
          for (const o of ops) {
            if (o.kind === 'acquire') {
              const controller = o.withSignal ? new AbortController() : undefined;
              calls.push({ t: track(instances[n++ % 2]!.acquire(controller?.signal)), controller });
            } else if (o.kind === 'abort') {
              calls[o.i % Math.max(1, calls.length)]?.controller?.abort(new Error('aborted'));
            } else {
              await sleep(3);
            }
          }
          await sleep(10);
          for (const b of instances) await b.close();
          await sleep(0);
          for (const c of calls) {
            expect(c.t.state).not.toBe('pending');
            expect(c.t.settleCount).toBe(1);
          }
          const granted = calls.filter((c) => c.t.state === 'resolved').length;
          expect(granted).toBeLessThanOrEqual(tokenLimit);
          const key = instances[0]!.key;
          const left = async () => {
            const state = await observer.get(key);
            return state === null ? tokenLimit : Number(state.split(' ')[0]);
          };
          // Give-backs after close() are on their way; they land within a round trip.
          await eventually(async () => granted + (await left()) === tokenLimit, 1000, 5);
          await observer.del(key);
        },
      ),
      // size 'max': ~12.6 ops a run against real Redis, up to 25 (default size: ~6.3, never past
      // 12); 15 runs explore as many operations as 30 shallow ones did.
      { numRuns: 15 },
    );
  }, 25_000);
});
