/**
 * Issue 16, item 6: the Redis sources against a real Redis Cluster (3 primaries on loopback,
 * started by scripts/redis-cluster.sh from .ci/run; VALVE_REDIS_CLUSTER_NODES lists them). Each
 * source is given an ioredis `Cluster`, which follows MOVED/ASK redirections itself; every
 * multi-key script's keys share a hash tag, so they run on one node. Names are picked so the
 * sources' keys land on all three primaries. Real server, real time, bounded waits.
 */
import { BurstValve } from '@valve/burst';
import { SafetyValve } from '@valve/safety';
import { requireService } from '@valve/testkit';
import { Cluster } from 'ioredis';
import { afterAll, describe, expect, it } from 'vitest';
import { RedisCoalescer, RedisSemaphore, RedisTokenBucket } from '../../src/index.js';
import { concurrencyProbe, sleep, uniquePrefix } from '../helpers.js';

const nodes = requireService('VALVE_REDIS_CLUSTER_NODES', 'Redis Cluster');

const clusters: Cluster[] = [];
function cluster(): Cluster {
  const startup = (nodes ?? '').split(',').map((hp) => {
    const [host, port] = hp.trim().split(':');
    return { host: host as string, port: Number(port) };
  });
  const c = new Cluster(startup, { redisOptions: { maxRetriesPerRequest: 2 } });
  c.on('error', () => {});
  clusters.push(c);
  return c;
}

describe.skipIf(!nodes)('@valve/redis on a Redis Cluster', () => {
  const prefix = uniquePrefix();
  afterAll(async () => {
    const c = cluster();
    await Promise.all(
      c.nodes('master').map(async (node) => {
        const keys = await node.keys(`${prefix}*`);
        for (const k of keys) await node.del(k);
      }),
    );
    for (const c of clusters.splice(0)) c.disconnect();
  });

  it('the names used here put the keys on every primary', async () => {
    const c = cluster();
    const slotsByNode = new Set<string>();
    const ranges = (await c.cluster('SLOTS')) as unknown as [number, number, [string, number]][];
    for (const name of ['a', 'b', 'c', 'd', 'e', 'f']) {
      const slot = (await c.cluster('KEYSLOT', `${prefix}sem:${name}`)) as number;
      const owner = ranges.find(([lo, hi]) => slot >= lo && slot <= hi);
      slotsByNode.add(`${owner?.[2][0]}:${owner?.[2][1]}`);
    }
    expect(slotsByNode.size).toBe(3);
  });

  it('SafetyValves on three cluster connections share one concurrency cap and one bucket, per name, on every node', async () => {
    for (const name of ['a', 'b', 'c', 'd', 'e', 'f']) {
      const instances = [cluster(), cluster(), cluster()].map((redis) => {
        const rateSource = new RedisTokenBucket({
          redis,
          prefix,
          name,
          rate: 200,
          hz: 200,
          tokenLimit: 200,
          redisErrorPolicy: 'fail-closed',
        });
        const concurrencySource = new RedisSemaphore({
          redis,
          prefix,
          name,
          limit: 3,
          leaseMs: 4000,
          redisErrorPolicy: 'fail-closed',
        });
        return {
          valve: new SafetyValve({ name, size: 100, rateSource, concurrencySource }),
          rateSource,
          concurrencySource,
        };
      });
      const probe = concurrencyProbe();
      const job = probe.job;
      const results = await Promise.all(
        instances.flatMap(({ valve }) => Array.from({ length: 10 }, () => valve.run(job))),
      );
      expect(results.filter((r) => r === 'ok')).toHaveLength(30);
      expect(probe.max, name).toBeLessThanOrEqual(3);
      expect(probe.max, name).toBeGreaterThan(1);
      for (const { valve, rateSource, concurrencySource } of instances) {
        valve.close();
        await rateSource.close();
        await concurrencySource.close();
      }
    }
  });

  it('coalesces one key across instances on different connections: the fetcher runs once', async () => {
    const coalescers = [cluster(), cluster()].map(
      (redis) => new RedisCoalescer<string, string>({ redis, prefix, name: 'users', redisErrorPolicy: 'fail-closed' }),
    );
    let runs = 0;
    const fetchUser = async (id: string) => {
      runs++;
      await sleep(100);
      return `user ${id}`;
    };
    for (const key of ['1', '2', '3', '4', '5', '6']) {
      const before = runs;
      const valves = coalescers.map((c) => new BurstValve<string, string>({ fetch: c.wrap(fetchUser) }));
      const values = await Promise.all(valves.flatMap((v) => Array.from({ length: 5 }, () => v.fetch(key))));
      expect(values).toEqual(Array.from({ length: 10 }, () => `user ${key}`));
      expect(runs - before, key).toBe(1);
    }
    for (const c of coalescers) await c.close();
  });
});
