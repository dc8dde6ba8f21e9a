/**
 * Review of issue 7, finding 3 (P1): a coalescer CLAIM whose reply came after
 * `commandTimeoutMs` still took the lock on Redis. The caller fetched alone, nobody announced a
 * result, and every other instance asking for the key waited `waitTimeoutMs` for a leader that
 * did not exist. The coalescer now gives such a lock back (guarded by the claim's token) and
 * announces a failure, so the others lead or fetch at once.
 *
 * Deterministic: the late reply is a reply the proxy holds (not a real-time delay raced against
 * the timeout), the command timeout fires on a ManualClock, and the give-back is awaited as the
 * event it publishes (the ABANDON script's failure announcement, sent in the same script as its
 * DEL), not polled for against a wall-clock window. The earlier version (a 1500 ms reply delay
 * against a 1000 ms timeout, then SCAN every 10 ms for at most 4000 ms) failed on loaded CI
 * machines without any defect behind it.
 */
import { ManualClock } from '@valve/core';
import { Redis } from 'ioredis';
import { describe, expect, it } from 'vitest';
import { RedisCoalescer } from '../../src/index.js';
import { cleanupsPerTest, gatedProxy, singleClient, uniquePrefix, url } from '../helpers.js';

/**
 * The next message on `channel` (already subscribed on `sub`). The bound only turns a missing
 * message (the defect) into a clear failure; a passing run never waits on it.
 */
function nextMessage(sub: Redis, channel: string, withinMs: number): Promise<string> {
  return new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => {
      sub.off('message', onMessage);
      reject(new Error(`no message on ${channel} within ${withinMs} ms`));
    }, withinMs);
    const onMessage = (ch: string, message: string) => {
      if (ch !== channel) return;
      clearTimeout(timer);
      sub.off('message', onMessage);
      resolve(message);
    };
    sub.on('message', onMessage);
  });
}

describe.skipIf(!url)('issue 7: a timed-out claim leaves no orphan lock', () => {
  const prefix = uniquePrefix();
  const defer = cleanupsPerTest(prefix);

  it('the lock a late claim took is given back, so the next instance leads instead of waiting', async () => {
    const proxy = await gatedProxy();
    defer(() => proxy.close());
    const slow = new Redis({ host: '127.0.0.1', port: proxy.port });
    slow.on('error', () => {});
    defer(() => slow.disconnect());
    const direct = singleClient();
    const watcher = singleClient(); // subscribed below: only pub/sub on this one
    const clock = new ManualClock();
    const common = { prefix, name: 'c', redisErrorPolicy: 'fail-open', waitTimeoutMs: 3000 } as const;
    const a = new RedisCoalescer<string>({ ...common, redis: slow, clock, commandTimeoutMs: 1000 });
    const b = new RedisCoalescer<string>({ ...common, redis: direct });
    defer(
      () => a.close(),
      () => b.close(),
    );
    const lock = `${prefix}co:{c:k}:lock`;

    // Warm-up: connected and the scripts loaded. Its announcement is fire-and-forget; once it
    // has been published and a PING after it has come back through the proxy, no reply of the
    // warm-up is still on its way (nothing of it can be held below).
    await watcher.subscribe(a.channelFor('warm'), a.channelFor('k'));
    const warmAnnounced = nextMessage(watcher, a.channelFor('warm'), 10_000);
    expect(await a.fetch('warm', async () => 'warm')).toBe('warm');
    expect((await warmAnnounced).startsWith('1')).toBe(true); // a success
    await slow.ping();

    // The claim runs on Redis (and takes the lock); its reply is held.
    proxy.hold();
    const abandoned = nextMessage(watcher, a.channelFor('k'), 10_000);
    const fetched = a.fetch('k', async () => 'A');
    await proxy.held();
    expect(await direct.exists(lock)).toBe(1);

    // commandTimeoutMs passes with no reply: the caller fetches alone, and the give-back goes
    // out on the same connection, so Redis runs it after the claim.
    clock.advance(1000);
    expect(await fetched).toBe('A');
    expect(a.stats().fetchedAlone).toBe(1);

    // The late replies arrive (a NOSCRIPT for the give-back is retried as EVAL); the give-back
    // deletes the lock and announces a failure in one script.
    proxy.release();
    expect(await abandoned).toBe('0');
    expect(await direct.exists(lock)).toBe(0);
    expect(await b.fetch('k', async () => 'B')).toBe('B');
    expect(b.stats()).toEqual({ led: 1, hits: 0, followed: 0, fetchedAlone: 0 });
  });
});
