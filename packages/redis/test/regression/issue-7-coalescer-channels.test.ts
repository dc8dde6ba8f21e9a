/**
 * Review of issue 7, findings 4, 6 and 7 (RedisCoalescer):
 * - 4 (P1): its pub/sub connection lived until close(), so an idle process never exited (see
 *   also the idle child in processes.test.ts). It now exists only while a follower waits.
 * - 6 (P2): the two keys of its scripts had no common hash tag (CROSSSLOT on Redis Cluster).
 * - 7 (P4): every result was published on one channel shared by every key, so each instance
 *   received (and parsed) every other instance's results. Each key now has its own channel,
 *   subscribed only while a follower of that key waits.
 */
import { deferred } from '@valve/testkit';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { RedisCoalescer } from '../../src/index.js';
import {
  channelsUnder,
  client,
  closeClients,
  deleteUnder,
  eventually,
  keysUnder,
  uniquePrefix,
  url,
} from '../helpers.js';

/** Redis Cluster's hash tag: what is between the first '{' and the next '}', if not empty. */
function hashTag(key: string): string {
  const open = key.indexOf('{');
  const close = key.indexOf('}', open + 1);
  return open >= 0 && close > open + 1 ? key.slice(open + 1, close) : key;
}

describe.skipIf(!url)('issue 7: coalescer channels, subscriptions and hash tags', () => {
  const prefix = uniquePrefix();
  const coalescers: RedisCoalescer<string>[] = [];
  const make = () => {
    const c = new RedisCoalescer<string>({
      redis: client(),
      prefix,
      name: 'c',
      redisErrorPolicy: 'fail-closed',
      lingerMs: 5000,
    });
    coalescers.push(c);
    return c;
  };
  afterEach(async () => {
    for (const c of coalescers.splice(0)) await c.close();
    await deleteUnder(client(), prefix);
  });
  afterAll(closeClients);

  it('a follower subscribes to its key’s channel only, and nothing once no follower waits', async () => {
    const redis = client();
    const a = make();
    const b = make();
    const gate = deferred<void>();
    const leading = a.fetch('k1', async () => {
      await gate.promise;
      return 'v1';
    });
    // Leaders (and hits) never subscribe.
    await eventually(async () => (await keysUnder(redis, prefix)).length === 1, 1000, 5);
    expect(await channelsUnder(redis, prefix)).toEqual([]);

    const following = b.fetch('k1', async () => 'not run');
    await eventually(async () => (await channelsUnder(redis, prefix)).length > 0, 1000, 5);
    expect(await channelsUnder(redis, prefix)).toEqual([b.channelFor('k1')]);

    gate.resolve();
    expect(await leading).toBe('v1');
    expect(await following).toBe('v1');
    expect(b.stats().followed).toBe(1);
    await eventually(async () => (await channelsUnder(redis, prefix)).length === 0, 1000, 5);
  }, 5000);

  it('a key’s lock, stored result and channel share one non-empty hash tag (one Cluster slot)', async () => {
    const redis = client();
    const a = make();
    const gate = deferred<void>();
    const leading = a.fetch('user:{7}', async () => {
      await gate.promise;
      return 'v';
    });
    await eventually(async () => (await keysUnder(redis, prefix)).length === 1, 1000, 5);
    const [lock] = await keysUnder(redis, prefix);
    gate.resolve();
    await leading;
    // The announcement (which stores the result and unlocks) is not awaited by the leader.
    await eventually(async () => (await keysUnder(redis, prefix))[0]?.endsWith(':result') === true, 1000, 5);
    const [result] = await keysUnder(redis, prefix);
    expect(lock).toMatch(/:lock$/);
    expect(result).toMatch(/:result$/);
    expect(hashTag(lock!)).not.toBe(lock);
    expect(hashTag(result!)).toBe(hashTag(lock!));
    expect(hashTag(a.channelFor('user:{7}'))).toBe(hashTag(lock!));
  }, 5000);
});
