/**
 * Issue 18, item 2 (major): fail-open wedged when Redis hung instead of refusing. A SafetyValve
 * asks its async sources for the head of its queue only; each source kept its own failure gate
 * and let the first call after `probeIntervalMs` probe Redis in the foreground, so with Redis
 * blackholed (connections accepted, nothing answered) the queue settled about one call per
 * timeout (20 queued calls: 0 settled at 2 s, 9 at 20 s). Now one failure opens the client's
 * circuit for every source on it, every waiter goes to the in-process fallback at once, and a
 * background PING (unref'd timer, on the injected clock) closes the circuit when Redis answers.
 *
 * All on a ManualClock: no assertion depends on how fast the machine is.
 */
import { isValveError, ManualClock } from '@valve/core';
import { SafetyValve } from '@valve/safety';
import { track } from '@valve/testkit';
import { Redis } from 'ioredis';
import { afterEach, describe, expect, it } from 'vitest';
import { ERR_VALVE_REDIS_UNAVAILABLE, RedisSemaphore, RedisTokenBucket } from '../../src/index.js';
import { blackhole, client, closeClients, deleteUnder, eventually, gatedProxy, uniquePrefix, url } from '../helpers.js';

const COMMAND_TIMEOUT_MS = 500;
/** What "at once" means after the first timeout: the fallback's own steps, no Redis wait. */
const MARGIN_MS = 10;

const cleanups: (() => Promise<unknown> | unknown)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

/** A client of a server that accepts connections and never answers (a hung Redis). */
async function hungClient(): Promise<Redis> {
  const hole = await blackhole();
  cleanups.push(() => hole.close());
  const redis = new Redis({ host: '127.0.0.1', port: hole.port, retryStrategy: () => 20 });
  redis.on('error', () => {});
  cleanups.push(() => redis.disconnect());
  // Connected; its handshake is never answered, so every command waits forever.
  await eventually(() => redis.status === 'connect', 2000, 5);
  return redis;
}

/** A SafetyValve on a Redis semaphore and bucket that share `redis`, generous fallbacks. */
function valveOn(redis: Redis, clock: ManualClock, redisErrorPolicy: 'fail-open' | 'fail-closed') {
  const common = { redis, clock, redisErrorPolicy, commandTimeoutMs: COMMAND_TIMEOUT_MS } as const;
  const concurrencySource = new RedisSemaphore({ ...common, name: 'api', limit: 4 });
  const rateSource = new RedisTokenBucket({ ...common, name: 'api', rate: 100, hz: 1000, tokenLimit: 100 });
  const valve = new SafetyValve({ name: 'api', size: 100, clock, rateSource, concurrencySource });
  cleanups.push(
    () => concurrencySource.close(),
    () => rateSource.close(),
    () => valve.close(),
  );
  return { valve, concurrencySource, rateSource };
}

describe('issue 18: a hung Redis does not wedge fail-open', () => {
  it('fail-open admits every queued call within commandTimeoutMs (plus a margin), not one per timeout', async () => {
    const clock = new ManualClock();
    const { valve, concurrencySource, rateSource } = valveOn(await hungClient(), clock, 'fail-open');
    const calls = Array.from({ length: 20 }, (_, i) => track(valve.run(async () => i)));
    await clock.advanceAsync(COMMAND_TIMEOUT_MS - 1);
    expect(calls.filter((c) => c.state !== 'pending')).toHaveLength(0); // nobody is admitted before the timeout
    await clock.advanceAsync(1 + MARGIN_MS);
    expect(calls.map((c) => c.state)).toEqual(calls.map(() => 'resolved'));
    expect(calls.map((c) => c.value)).toEqual(calls.map((_, i) => i));
    // One timeout opened the circuit for both sources on the client.
    expect(concurrencySource.failingOpen).toBe(true);
    expect(rateSource.failingOpen).toBe(true);
    // Later calls do not wait for Redis at all.
    const later = track(valve.run(async () => 'later'));
    await clock.advanceAsync(0);
    expect(later.state).toBe('resolved');
    // The background probe is armed but keeps nothing alive.
    expect(clock.pendingTimers).toBeGreaterThan(0);
    expect(clock.refedTimers).toBe(0);
  });

  it('fail-closed is unchanged: every queued call is refused with ERR_VALVE_REDIS_UNAVAILABLE in the same bound', async () => {
    const clock = new ManualClock();
    const { valve } = valveOn(await hungClient(), clock, 'fail-closed');
    const calls = Array.from({ length: 20 }, (_, i) => track(valve.run(async () => i)));
    await clock.advanceAsync(COMMAND_TIMEOUT_MS + MARGIN_MS);
    expect(calls.map((c) => c.state)).toEqual(calls.map(() => 'rejected'));
    expect(calls.every((c) => isValveError(c.error, ERR_VALVE_REDIS_UNAVAILABLE))).toBe(true);
  });

  it('close() rejects the waiters queued on the fallback with ERR_VALVE_CLOSED and stops the probe', async () => {
    const redis = await hungClient();
    const readyListeners = redis.listenerCount('ready');
    const clock = new ManualClock();
    const sem = new RedisSemaphore({
      redis,
      clock,
      name: 's',
      limit: 1,
      redisErrorPolicy: 'fail-open',
      commandTimeoutMs: COMMAND_TIMEOUT_MS,
    });
    const waiters = [track(sem.acquire()), track(sem.acquire()), track(sem.acquire())];
    await clock.advanceAsync(COMMAND_TIMEOUT_MS);
    // The fallback's cap is 1: one admitted, two queued on it.
    expect(waiters.map((w) => w.state)).toEqual(['resolved', 'pending', 'pending']);
    expect(redis.listenerCount('ready')).toBe(readyListeners + 1); // the probe waits for a reconnect too
    await sem.close();
    await clock.advanceAsync(0);
    for (const w of waiters.slice(1)) {
      expect(w.state).toBe('rejected');
      expect(w.settleCount).toBe(1);
      expect(isValveError(w.error, 'ERR_VALVE_CLOSED')).toBe(true);
    }
    expect(clock.pendingTimers).toBe(0);
    expect(redis.listenerCount('ready')).toBe(readyListeners);
  });
});

describe.skipIf(!url)('issue 18: the circuit closes again when Redis answers', () => {
  const prefix = uniquePrefix();
  afterEach(async () => {
    await deleteUnder(client(), prefix);
    await closeClients();
  });

  /** A client whose replies a {@link gatedProxy} can hold, and fail-open options on a ManualClock. */
  async function gated() {
    const proxy = await gatedProxy();
    cleanups.push(() => proxy.close());
    const redis = new Redis({ host: '127.0.0.1', port: proxy.port });
    redis.on('error', () => {});
    cleanups.push(() => redis.disconnect());
    const clock = new ManualClock();
    const common = {
      redis,
      clock,
      prefix,
      redisErrorPolicy: 'fail-open',
      commandTimeoutMs: COMMAND_TIMEOUT_MS,
    } as const;
    return { proxy, redis, clock, common };
  }

  it('a background PING on the injected clock finds Redis back; nobody waits on it meanwhile', async () => {
    const { proxy, redis, clock, common } = await gated();
    const observer = client();
    const sem = new RedisSemaphore({ ...common, name: 'r', limit: 10, probeIntervalMs: 1000 });
    const bucket = new RedisTokenBucket({ ...common, name: 'r', rate: 100, hz: 1000, tokenLimit: 100 });
    cleanups.push(
      () => sem.close(),
      () => bucket.close(),
    );
    (await sem.acquire()).release();
    await eventually(async () => (await observer.zcard(sem.key)) === 0, 2000, 5);
    await redis.ping(); // nothing of the warm-up is still on its way

    // Redis hangs: replies are held. The waiters' commands time out together.
    proxy.hold();
    const waiters = Array.from({ length: 5 }, () => track(sem.acquire()));
    await proxy.held();
    await clock.advanceAsync(COMMAND_TIMEOUT_MS);
    expect(waiters.map((w) => w.state)).toEqual(waiters.map(() => 'resolved'));
    expect(sem.failingOpen).toBe(true);
    expect(bucket.failingOpen).toBe(true); // it never sent anything: the circuit is the client's
    for (const w of waiters) (w.value as { release(): void }).release();

    // The probe's PING goes unanswered too: still open, and callers still do not wait.
    await clock.advanceAsync(1000);
    await clock.advanceAsync(COMMAND_TIMEOUT_MS);
    expect(sem.failingOpen).toBe(true);
    const during = track(bucket.acquire());
    await clock.advanceAsync(0);
    expect(during.state).toBe('resolved');

    // Redis answers again (the late replies arrive, and are ignored); the next probe closes it.
    proxy.release();
    await clock.advanceAsync(1000);
    // Our PING is answered after the probe's (one connection, replies in order); setImmediate
    // lets the probe's reply handling finish.
    await redis.ping();
    await new Promise((resolve) => setImmediate(resolve));
    expect(sem.failingOpen).toBe(false);
    expect(bucket.failingOpen).toBe(false);
    const shared = await sem.acquire();
    expect(await observer.zcard(sem.key)).toBe(1); // from Redis again
    shared.release();
  }, 10_000);

  it('a waiter asleep on a full cap moves to the fallback as soon as another source on the client opens the circuit', async () => {
    const { proxy, redis, clock, common } = await gated();
    const other = new RedisSemaphore({
      redis: client(),
      prefix,
      name: 'full',
      limit: 1,
      redisErrorPolicy: 'fail-closed',
    });
    const sem = new RedisSemaphore({ ...common, name: 'full', limit: 1 });
    const bucket = new RedisTokenBucket({ ...common, name: 'b', rate: 100, hz: 1000, tokenLimit: 100 });
    cleanups.push(
      () => other.close(),
      () => sem.close(),
      () => bucket.close(),
    );
    const held = await other.acquire(); // the shared cap is full
    await bucket.acquire(); // connected, script loaded
    const waiter = track(sem.acquire());
    // Refused by Redis: asleep until a release or the lease's expiry (30 s on the clock). Our
    // PING is answered after that ACQUIRE (one connection, replies in order); setImmediate lets
    // the reply's handling finish.
    await redis.ping();
    await new Promise((resolve) => setImmediate(resolve));
    expect(waiter.state).toBe('pending');
    expect(clock.refedTimers).toBe(1); // the retry timer, no command in flight

    proxy.hold();
    const take = track(bucket.acquire());
    await proxy.held();
    await clock.advanceAsync(COMMAND_TIMEOUT_MS); // the bucket's take times out: the circuit opens
    expect(take.state).toBe('resolved');
    expect(waiter.state).toBe('resolved'); // from the fallback, not 30 s later
    expect(sem.failingOpen).toBe(true);
    (waiter.value as { release(): void }).release();
    proxy.release();
    held.release();
  }, 10_000);
});
