import { isValveError, ManualClock, type Permit } from '@valve/core';
import { newUntyped, track } from '@valve/testkit';
import { Redis } from 'ioredis';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { type LeaseLost, RedisSemaphore, type RedisSemaphoreOptions } from '../src/index.js';
import {
  type Client,
  client,
  closeClients,
  deleteUnder,
  eventually,
  keysUnder,
  sleep,
  uniquePrefix,
  url,
} from './helpers.js';

describe('RedisSemaphore options', () => {
  const redis = new Redis({ lazyConnect: true });
  const base = (): RedisSemaphoreOptions => ({ redis, name: 's', limit: 1, redisErrorPolicy: 'fail-open' });
  const bad: [string, Record<string, unknown>, RegExp][] = [
    ['limit 0', { limit: 0 }, /limit must be an integer >= 1, got 0/],
    ['limit Infinity', { limit: Number.POSITIVE_INFINITY }, /limit must be an integer >= 1, got Infinity/],
    ['limit 2.5', { limit: 2.5 }, /limit must be an integer >= 1, got 2.5/],
    ['leaseMs 29', { leaseMs: 29 }, /leaseMs must be an integer >= 30, got 29/],
    ['leaseMs "1s"', { leaseMs: '1s' }, /leaseMs must be an integer >= 30, got "1s"/],
    [
      'leaseMs 3999 with the default timeouts',
      { leaseMs: 3999 },
      /leaseMs must be >= 3 \* commandTimeoutMs \+ probeIntervalMs \(3 \* 1000 \+ 1000 = 4000\), got 3999/,
    ],
    [
      'leaseMs 349 with commandTimeoutMs 100, probeIntervalMs 50',
      { leaseMs: 349, commandTimeoutMs: 100, probeIntervalMs: 50 },
      /leaseMs must be >= 3 \* commandTimeoutMs \+ probeIntervalMs \(3 \* 100 \+ 50 = 350\), got 349/,
    ],
    ['policy typo', { redisErrorPolicy: 'closed' }, /redisErrorPolicy must be one of/],
    ['unknown option', { lease: 100 }, /options.lease is not a known option/],
  ];
  for (const [title, patch, message] of bad) {
    it(`rejects ${title}`, () => {
      expect(() => new RedisSemaphore({ ...base(), ...patch } as RedisSemaphoreOptions)).toThrow(message);
    });
  }
  it('refuses an argument past the options (issue 14)', () => {
    expect(() => newUntyped(RedisSemaphore, base(), { leaseMs: 100 })).toThrow(
      new TypeError('new RedisSemaphore() takes at most 1 argument, got 2'),
    );
  });
  it('accepts the boundaries and defaults (limit 1, leaseMs 30, prefix valve:)', async () => {
    const s = new RedisSemaphore({ ...base(), leaseMs: 30, commandTimeoutMs: 10, probeIntervalMs: 0 });
    expect(new RedisSemaphore({ ...base(), leaseMs: 4000 }).leaseMs).toBe(4000);
    expect(new RedisSemaphore({ ...base(), leaseMs: 350, commandTimeoutMs: 100, probeIntervalMs: 50 }).leaseMs).toBe(
      350,
    );
    expect(s.key).toBe('valve:sem:s');
    expect(s.channel).toBe('valve:sem:s:released');
    expect(new RedisSemaphore(base()).leaseMs).toBe(30_000);
    expect(s.async).toBe(true);
    await s.close();
  });
  afterAll(() => redis.disconnect());
});

describe.skipIf(!url)('RedisSemaphore on Redis', () => {
  const prefix = uniquePrefix();
  const sems: RedisSemaphore[] = [];
  const make = (redis: Client, o: Partial<RedisSemaphoreOptions> = {}) => {
    const s = new RedisSemaphore({ redis, prefix, name: 'db', limit: 2, redisErrorPolicy: 'fail-closed', ...o });
    sems.push(s);
    return s;
  };
  afterEach(async () => {
    for (const s of sems.splice(0)) await s.close();
    await deleteUnder(client(), prefix);
  });
  afterAll(closeClients);

  it('caps permits across instances and wakes a waiter by pub/sub on release (not by lease expiry)', async () => {
    const a = make(client(), { leaseMs: 30_000 });
    const b = make(client(), { leaseMs: 30_000 });
    const p1 = await a.acquire();
    const p2 = await b.acquire();
    expect(await a.clusterInUse()).toBe(2);
    expect(a.inUse).toBe(1);
    expect(b.tryAcquire()).toBeUndefined();
    const waiting = track(b.acquire());
    await sleep(50);
    expect(waiting.state).toBe('pending');
    p1.release();
    // The lease would only expire in 30 s: resolving now proves the release was announced.
    await eventually(() => waiting.state === 'resolved', 2000, 5);
    expect(await a.clusterInUse()).toBe(2);
    p2.release();
    (waiting.value as Permit).release();
    await eventually(async () => (await a.clusterInUse()) === 0);
  }, 4000);

  it('release() is idempotent: a second call frees nothing more', async () => {
    const a = make(client(), { limit: 2 });
    const p = await a.acquire();
    const q = await a.acquire();
    p.release();
    p.release();
    await eventually(async () => (await a.clusterInUse()) === 1);
    await sleep(30);
    expect(await a.clusterInUse()).toBe(1);
    expect(a.inUse).toBe(1);
    q.release();
  });

  it('renews held leases while the work runs, so a long holder keeps its slot', async () => {
    const short = { limit: 1, leaseMs: 300, commandTimeoutMs: 80, probeIntervalMs: 60 };
    const a = make(client(), short);
    const b = make(client(), short);
    const p = await a.acquire();
    const controller = new AbortController();
    const waiting = track(b.acquire(controller.signal));
    await sleep(900); // three lease lengths
    expect(waiting.state).toBe('pending');
    expect(await a.clusterInUse()).toBe(1);
    controller.abort();
    p.release();
  }, 3000);

  it('reports a lease that expired under its holder (onLeaseLost) and stops renewing it', async () => {
    const redis = client();
    // Timers on a ManualClock: a 40 ms command timeout on real time also bounded the first
    // acquire's connection set-up, and failed it on a loaded machine (2 of 10 runs).
    const clock = new ManualClock();
    const a = make(redis, { limit: 1, leaseMs: 150, commandTimeoutMs: 40, probeIntervalMs: 30, clock });
    const lost: LeaseLost[] = [];
    a.onLeaseLost((l) => lost.push(l));
    const p = await a.acquire();
    // What a long pause looks like from Redis: the lease is gone before the next renewal.
    await redis.del(a.key);
    await clock.advanceAsync(50); // the renewal (every leaseMs / 3) finds it gone
    await eventually(() => lost.length === 1, 1000, 5);
    expect(lost[0]!.name).toBe('db');
    p.release();
  }, 3000);

  it('rejects an aborted waiter with signal.reason and keeps its slot free for others', async () => {
    const a = make(client(), { limit: 1 });
    const b = make(client(), { limit: 1 });
    const p = await a.acquire();
    const controller = new AbortController();
    const w = track(b.acquire(controller.signal));
    await sleep(20);
    controller.abort('gone');
    await sleep(0);
    expect(w.state).toBe('rejected');
    expect(w.error).toBe('gone');
    p.release();
    const q = await b.acquire();
    expect(await a.clusterInUse()).toBe(1);
    q.release();
    expect(w.settleCount).toBe(1);
  }, 3000);

  it('close() rejects waiters, settles each once, and leaves only leases that expire', async () => {
    const redis = client();
    // Timers on a ManualClock (nothing renews the lease, nothing times out): a 50 ms command
    // timeout on real time also bounded the first acquire's connection set-up, and rejected it
    // on a loaded machine (2 of 10 runs, before and after the circuit of issue 18). The lease
    // still expires on Redis's own clock.
    const clock = new ManualClock();
    const a = make(redis, { limit: 1, leaseMs: 200, commandTimeoutMs: 50, probeIntervalMs: 50, clock });
    const held = await a.acquire();
    const waiters = [track(a.acquire()), track(a.acquire())];
    await sleep(20);
    await a.close();
    await sleep(0);
    for (const w of waiters) {
      expect(w.settleCount).toBe(1);
      expect(isValveError(w.error, 'ERR_VALVE_CLOSED')).toBe(true);
    }
    // The held permit's lease is left to expire (its work may still be running).
    expect(await keysUnder(redis, prefix)).toEqual([a.key]);
    await eventually(async () => (await keysUnder(redis, prefix)).length === 0, 2000, 20);
    expect(clock.pendingTimers).toBe(0); // close() left no timer (retry, renewal, probe)
    held.release(); // after close, and after expiry: harmless
    expect(a.inUse).toBe(0);
  }, 3000);

  it('released permits leave no key behind', async () => {
    const redis = client();
    const a = make(redis, { limit: 3 });
    const permits = await Promise.all([a.acquire(), a.acquire(), a.acquire()]);
    for (const p of permits) p.release();
    await a.close();
    expect(await keysUnder(redis, prefix)).toEqual([]);
  });

  it('many waiters in one instance all get permits as others release (FIFO, none lost)', async () => {
    const a = make(client(), { limit: 2 });
    const b = make(client(), { limit: 2 });
    const order: number[] = [];
    const holders = [await a.acquire(), await a.acquire()];
    const waits = Array.from({ length: 6 }, (_, i) =>
      b.acquire().then(async (p) => {
        order.push(i);
        await sleep(5);
        p.release();
      }),
    );
    await sleep(20);
    for (const h of holders) h.release();
    await Promise.all(waits);
    expect(order).toEqual([0, 1, 2, 3, 4, 5]);
    await eventually(async () => (await a.clusterInUse()) === 0);
  }, 5000);
});
