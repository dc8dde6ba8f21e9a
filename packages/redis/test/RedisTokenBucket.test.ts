import { ManualClock, isValveError } from '@valve/core';
import { newUntyped, track } from '@valve/testkit';
import { Redis } from 'ioredis';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { RedisTokenBucket, type RedisTokenBucketOptions } from '../src/index.js';
import {
  type Client,
  client,
  closeClients,
  deleteUnder,
  flushScripts,
  eventually,
  keysUnder,
  sleep,
  uniquePrefix,
  url,
} from './helpers.js';

describe('RedisTokenBucket options', () => {
  // A client that never connects: construction must not touch Redis.
  const redis = new Redis({ lazyConnect: true });
  const base = (): RedisTokenBucketOptions => ({
    redis,
    name: 'b',
    rate: 1,
    hz: 100,
    tokenLimit: 1,
    redisErrorPolicy: 'fail-closed',
  });
  const bad: [string, Record<string, unknown>, RegExp][] = [
    ['rate 0', { rate: 0 }, /rate must be an integer >= 1, got 0/],
    ['rate 1.5', { rate: 1.5 }, /rate must be an integer >= 1, got 1.5/],
    ['rate missing', { rate: undefined }, /rate must be an integer >= 1, got undefined/],
    ['hz 0', { hz: 0 }, /hz must be a finite number > 0, got 0/],
    ['hz Infinity', { hz: Number.POSITIVE_INFINITY }, /hz must be a finite number > 0, got Infinity/],
    ['tokenLimit 0', { tokenLimit: 0 }, /tokenLimit must be an integer >= 1, got 0/],
    [
      'policy typo',
      { redisErrorPolicy: 'open' },
      /redisErrorPolicy must be one of "fail-open", "fail-closed", got "open"/,
    ],
    ['policy missing', { redisErrorPolicy: undefined }, /redisErrorPolicy must be one of/],
    ['name empty', { name: '' }, /name must be a non-empty string, got ""/],
    ['name missing', { name: undefined }, /name must be a non-empty string, got undefined/],
    ['prefix number', { prefix: 1 }, /prefix must be a string, got 1/],
    ['commandTimeoutMs 0', { commandTimeoutMs: 0 }, /commandTimeoutMs must be an integer >= 1, got 0/],
    ['probeIntervalMs -1', { probeIntervalMs: -1 }, /probeIntervalMs must be an integer >= 0, got -1/],
    ['redis missing', { redis: undefined }, /redis must be an object, got undefined/],
    ['redis not a client', { redis: {} }, /redis.evalsha must be a function/],
    ['clock without setTimeout', { clock: { now: () => 0 } }, /clock must be a Clock/],
    ['unknown option', { onRedisError: 'fail-open' }, /options.onRedisError is not a known option/],
  ];
  for (const [title, patch, message] of bad) {
    it(`rejects ${title}`, () => {
      expect(() => new RedisTokenBucket({ ...base(), ...patch } as RedisTokenBucketOptions)).toThrow(message);
    });
  }
  it('refuses an argument past the options (issue 14)', () => {
    expect(() => newUntyped(RedisTokenBucket, base(), { leaseMs: 100 })).toThrow(
      new TypeError('new RedisTokenBucket() takes at most 1 argument, got 2'),
    );
  });
  it('accepts the boundaries (rate 1, tokenLimit 1, probeIntervalMs 0, empty prefix, fractional hz)', async () => {
    const b = new RedisTokenBucket({ ...base(), probeIntervalMs: 0, prefix: '', hz: 0.5, commandTimeoutMs: 1 });
    expect(b.key).toBe('bucket:b');
    expect(b.async).toBe(true);
    await b.close();
  });
  afterAll(() => redis.disconnect());
});

describe.skipIf(!url)('RedisTokenBucket on Redis', () => {
  const prefix = uniquePrefix();
  const buckets: RedisTokenBucket[] = [];
  const make = (redis: Client, o: Partial<RedisTokenBucketOptions> = {}) => {
    const b = new RedisTokenBucket({
      redis,
      prefix,
      name: 'api',
      rate: 1,
      hz: 200,
      tokenLimit: 3,
      redisErrorPolicy: 'fail-closed',
      ...o,
    });
    buckets.push(b);
    return b;
  };
  afterEach(async () => {
    for (const b of buckets.splice(0)) await b.close();
    await deleteUnder(client(), prefix);
  });
  afterAll(closeClients);

  it('starts full, shares tokens between instances, and refuses when empty', async () => {
    const a = make(client(), { hz: 60_000 });
    const b = make(client(), { hz: 60_000 });
    await a.acquire();
    await a.acquire();
    expect((await b.peek()).tokens).toBe(1);
    await b.acquire();
    const state = await a.peek();
    expect(state.tokens).toBe(0);
    expect(state.nextTokenInMs).toBeGreaterThan(59_000);
    expect(a.available).toBe(0);
    expect(a.nextTokenInMs()).toBeGreaterThan(59_000);
    // Synchronous answers cannot come from Redis: tryAcquire never takes a shared token.
    expect(a.tryAcquire()).toBe(false);
  });

  it('refills whole periods lazily on the grid, capped at tokenLimit, and deletes a full bucket', async () => {
    const redis = client();
    const a = make(redis, { rate: 2, hz: 200, tokenLimit: 5 });
    for (let i = 0; i < 5; i++) await a.acquire();
    expect((await a.peek()).tokens).toBe(0);
    await sleep(300); // one whole period (at 200 ms); the next is at 400 ms
    expect((await a.peek()).tokens).toBe(2);
    await sleep(700); // five periods in all: 10 tokens, capped at 5
    expect((await a.peek()).tokens).toBe(5);
    await a.acquire();
    await sleep(250);
    await a.acquire(); // refilled to full first (then took one): the key is only there while partial
    expect(await keysUnder(redis, prefix)).toEqual([a.key]);
  });

  it('measures time on Redis, not on the host: a frozen host clock still sees refills', async () => {
    const clock = new ManualClock();
    const a = make(client(), { hz: 100, tokenLimit: 1, clock });
    await a.acquire();
    expect((await a.peek()).tokens).toBe(0);
    await sleep(150);
    expect((await a.peek()).tokens).toBe(1);
  });

  it('waits for the refill the script reports, without polling Redis, and serves waiters in order', async () => {
    const redis = client();
    let evals = 0;
    const evalsha = redis.evalsha.bind(redis);
    redis.evalsha = ((...args: Parameters<typeof evalsha>) => {
      evals++;
      return evalsha(...args);
    }) as typeof redis.evalsha;
    const a = make(redis, { rate: 1, hz: 100, tokenLimit: 1 });
    await a.acquire();
    evals = 0;
    const order: number[] = [];
    const waits = [0, 1, 2].map((i) => a.acquire().then(() => order.push(i)));
    await Promise.all(waits);
    expect(order).toEqual([0, 1, 2]);
    // Three refills, three waiters: each refill costs about one probe and one grant, never a loop.
    expect(evals).toBeLessThanOrEqual(12);
  }, 5000);

  it('onAvailable fires after a refill a waiter waited for; nextTokenInMs counts down to it', async () => {
    const a = make(client(), { hz: 150, tokenLimit: 1 });
    await a.acquire();
    let fired = 0;
    const subscription = a.onAvailable(() => fired++);
    const waiting = a.acquire();
    await eventually(() => a.nextTokenInMs() > 0, 1000, 2);
    expect(a.nextTokenInMs()).toBeLessThanOrEqual(150);
    await waiting;
    expect(fired).toBeGreaterThanOrEqual(1);
    subscription.dispose();
  }, 3000);

  it('rejects an aborted waiter with signal.reason and gives no token away', async () => {
    const a = make(client(), { hz: 300, tokenLimit: 1 });
    await a.acquire();
    const controller = new AbortController();
    const reason = new Error('client went away');
    const waiting = track(a.acquire(controller.signal));
    await sleep(20);
    controller.abort(reason);
    await sleep(0);
    expect(waiting.state).toBe('rejected');
    expect(waiting.error).toBe(reason);
    await expect(a.acquire(AbortSignal.abort(reason))).rejects.toBe(reason);
    // The next token still goes to the next caller.
    await a.acquire();
    expect(waiting.settleCount).toBe(1);
  }, 3000);

  it('close() rejects waiters with ClosedError, settles each once, and leaves only an expiring key', async () => {
    const redis = client();
    const a = make(redis, { hz: 200, tokenLimit: 2, rate: 2 });
    await a.acquire();
    await a.acquire();
    const waiters = [track(a.acquire()), track(a.acquire())];
    await sleep(10);
    await a.close();
    await sleep(0);
    for (const w of waiters) {
      expect(w.state).toBe('rejected');
      expect(w.settleCount).toBe(1);
      expect(isValveError(w.error, 'ERR_VALVE_CLOSED')).toBe(true);
    }
    await expect(a.acquire()).rejects.toMatchObject({ code: 'ERR_VALVE_CLOSED' });
    const [key] = await keysUnder(redis, prefix);
    expect(key).toBe(a.key);
    const ttl = await redis.pttl(a.key);
    expect(ttl).toBeGreaterThan(0);
    expect(ttl).toBeLessThanOrEqual(201);
    await sleep(ttl + 50);
    expect(await keysUnder(redis, prefix)).toEqual([]);
  }, 3000);

  it('an abort during the direct round trip rejects with signal.reason and gives the token back', async () => {
    const a = make(client(), { hz: 60_000, tokenLimit: 1 });
    const controller = new AbortController();
    const taking = a.acquire(controller.signal);
    controller.abort('changed my mind');
    await expect(taking).rejects.toBe('changed my mind');
    expect((await a.peek()).tokens).toBe(1);
  });

  it('close() during the direct round trip rejects with ClosedError and gives the token back', async () => {
    const a = make(client(), { hz: 60_000, tokenLimit: 1 });
    const b = make(client(), { hz: 60_000, tokenLimit: 1 });
    const taking = track(a.acquire());
    await a.close();
    await sleep(0);
    expect(taking.state).toBe('rejected');
    expect(isValveError(taking.error, 'ERR_VALVE_CLOSED')).toBe(true);
    await eventually(async () => (await b.peek()).tokens === 1, 1000, 5);
  });

  it('falls back to EVAL when the server lost the script (NOSCRIPT)', async () => {
    const redis = client();
    const a = make(redis, { hz: 60_000 });
    await a.acquire();
    await flushScripts(redis);
    await a.acquire();
    expect((await a.peek()).tokens).toBe(1);
  });
});
