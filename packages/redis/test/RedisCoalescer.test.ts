import { BurstValve } from '@valve/burst';
import { ManualClock } from '@valve/core';
import { deferred, newUntyped, track } from '@valve/testkit';
import { Redis } from 'ioredis';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { type Codec, RedisCoalescer, type RedisCoalescerOptions } from '../src/index.js';
import {
  client,
  closeClients,
  deadPort,
  deleteUnder,
  eventually,
  keysUnder,
  subscribers,
  sleep,
  uniquePrefix,
  url,
} from './helpers.js';

describe('RedisCoalescer options', () => {
  const redis = new Redis({ lazyConnect: true });
  const base = (): RedisCoalescerOptions<unknown, string> => ({ redis, name: 'c', redisErrorPolicy: 'fail-open' });
  const bad: [string, Record<string, unknown>, RegExp][] = [
    ['lockMs 9', { lockMs: 9 }, /lockMs must be an integer >= 10, got 9/],
    ['waitTimeoutMs 0', { waitTimeoutMs: 0 }, /waitTimeoutMs must be an integer >= 1, got 0/],
    ['lingerMs -1', { lingerMs: -1 }, /lingerMs must be an integer >= 0, got -1/],
    ['codec without decode', { codec: { encode: String } }, /codec.decode must be a function/],
    ['keyToString not a function', { keyToString: 'id' }, /keyToString must be a function, got "id"/],
    ['unknown option', { ttlMs: 5 }, /options.ttlMs is not a known option/],
  ];
  for (const [title, patch, message] of bad) {
    it(`rejects ${title}`, () => {
      expect(() => new RedisCoalescer({ ...base(), ...patch } as RedisCoalescerOptions<unknown, string>)).toThrow(
        message,
      );
    });
  }
  it('refuses an argument past the options (issue 14)', () => {
    expect(() => newUntyped(RedisCoalescer, base(), { leaseMs: 100 })).toThrow(
      new TypeError('new RedisCoalescer() takes at most 1 argument, got 2'),
    );
  });
  it('accepts the boundaries (lockMs 10, waitTimeoutMs 1, lingerMs 0) and has documented defaults', () => {
    const c = new RedisCoalescer({ ...base(), lockMs: 10, waitTimeoutMs: 1, lingerMs: 0 });
    expect(c.lockMs).toBe(10);
    const d = new RedisCoalescer(base());
    expect([d.lockMs, d.waitTimeoutMs, d.lingerMs, d.channelFor('42')]).toEqual([
      10_000,
      5000,
      0,
      'valve:co:{c:42}:done',
    ]);
  });
  afterAll(() => redis.disconnect());
});

describe.skipIf(!url)('RedisCoalescer on Redis, under BurstValve', () => {
  const prefix = uniquePrefix();
  const coalescers: RedisCoalescer<unknown, string>[] = [];
  const make = <T>(o: Partial<RedisCoalescerOptions<T, string>> = {}) => {
    const c = new RedisCoalescer<T, string>({
      redis: client(),
      prefix,
      name: 'users',
      redisErrorPolicy: 'fail-closed',
      ...o,
    });
    coalescers.push(c as RedisCoalescer<unknown, string>);
    return c;
  };
  afterEach(async () => {
    for (const c of coalescers.splice(0)) await c.close();
    await deleteUnder(client(), prefix);
  });
  afterAll(closeClients);
  /**
   * Resolves once `key`'s lock is taken: the leader's claim has run. (A fixed sleep here lost the
   * race to a Cluster client's first connection, and the follower became the leader.)
   */
  const leading = async (key: string) => {
    const observer = client();
    await eventually(async () => (await observer.exists(`${prefix}co:{users:${key}}:lock`)) === 1, 2000, 5);
  };

  it('two instances x 5 callers: the fetcher runs once in the whole cluster and everyone gets its value', async () => {
    const gate = deferred<void>();
    let runs = 0;
    const fetchUser = async (id: string) => {
      runs++;
      await gate.promise;
      return { id, name: `user ${id}` };
    };
    const instances = [make<{ id: string; name: string }>(), make<{ id: string; name: string }>()];
    const valves = instances.map(
      (c) => new BurstValve<{ id: string; name: string }, string>({ fetch: c.wrap(fetchUser) }),
    );
    const calls = valves.flatMap((v) => Array.from({ length: 5 }, () => v.fetch('42')));
    await eventually(() => runs === 1, 1000, 5);
    // The other instance is now waiting on Redis, not fetching: subscribed to the key's channel
    // (a fixed sleep lost the race to a Cluster client's first pub/sub connection; subscribed
    // after the announcement, it finds the lock free and fetches itself, as documented).
    const observer = client();
    await eventually(async () => (await subscribers(observer, instances[0]!.channelFor('42'))) === 1, 2000, 5);
    expect(runs).toBe(1);
    gate.resolve();
    const values = await Promise.all(calls);
    for (const v of values) expect(v).toEqual({ id: '42', name: 'user 42' });
    expect(runs).toBe(1);
    const stats = instances.map((c) => c.stats());
    expect(stats.map((s) => s.led).sort()).toEqual([0, 1]);
    expect(stats.map((s) => s.followed).sort()).toEqual([0, 1]); // one Redis follower: BurstValve coalesced the rest
  });

  it('a follower whose second claim runs after the leader announced uses the announced value (no second fetch)', async () => {
    // The race behind a flaky CI run: the follower subscribes, the leader finishes and frees the
    // lock, and only then does the follower's re-claim reach Redis, which finds the lock free.
    const gate = deferred<void>();
    let runs = 0;
    const fetchUser = async (id: string) => {
      runs++;
      await gate.promise;
      return `user ${id}`;
    };
    const [a, b] = [make<string>(), make<string>()];
    const first = a.fetch('7', fetchUser);
    await leading('7');
    const announced = deferred<void>();
    const inner = b as unknown as { claim(k: string, token: string): Promise<string[]> };
    const claim = inner.claim.bind(b);
    let claims = 0;
    inner.claim = async (k, token) => {
      if (++claims === 2) {
        gate.resolve();
        await first;
        await announced.promise;
      }
      return claim(k, token);
    };
    const second = b.fetch('7', fetchUser);
    // The announcement reaches b's subscription before its second claim is sent.
    await eventually(() => claims === 2, 2000, 5);
    await eventually(() => (b as unknown as { followers: Map<string, unknown> }).followers.size === 0, 2000, 5);
    announced.resolve();
    expect(await second).toBe('user 7');
    expect(runs).toBe(1);
    expect(b.stats().followed).toBe(1);
    // The lock b took to learn it was free is given back: a third instance is not kept waiting.
    const c = make<string>();
    expect(await c.fetch('7', async () => 'fresh')).toBe('fresh');
  });

  it('stores the result for lingerMs: a later instance is served without a fetch, then it expires', async () => {
    const a = make<number>({ lingerMs: 150 });
    const b = make<number>({ lingerMs: 150 });
    let runs = 0;
    const fetcher = () => ++runs;
    expect(await a.fetch('k', fetcher)).toBe(1);
    expect(await b.fetch('k', fetcher)).toBe(1);
    expect(b.stats().hits).toBe(1);
    await sleep(200);
    expect(await b.fetch('k', fetcher)).toBe(2);
  });

  it('a leader that never answers costs a follower waitTimeoutMs (injected clock), then it fetches itself', async () => {
    const clock = new ManualClock();
    const a = make<string>();
    const b = make<string>({ waitTimeoutMs: 1000, clock });
    const never = deferred<string>();
    const leader = track(a.fetch('slow', () => never.promise));
    await eventually(async () => (await keysUnder(client(), prefix)).length === 1, 1000, 5); // the lock
    const follower = track(b.fetch('slow', () => 'fetched myself'));
    // Waiting: subscribed, its second claim answered, so the one timer left on its clock is the
    // wait (a fixed sleep lost the race to a Cluster client's first pub/sub connection, and the
    // advance below then timed out the subscription instead).
    const observer = client();
    await eventually(
      async () => (await subscribers(observer, b.channelFor('slow'))) === 1 && clock.pendingTimers === 1,
      2000,
      5,
    );
    await clock.advanceAsync(999);
    expect(follower.state).toBe('pending');
    await clock.advanceAsync(1);
    await eventually(() => follower.state === 'resolved', 1000, 5);
    expect(follower.value).toBe('fetched myself');
    expect(b.stats().fetchedAlone).toBe(1);
    never.resolve('late');
    await eventually(() => leader.state === 'resolved');
  });

  it('a failed leader wakes followers at once; they fetch themselves (errors are not shared)', async () => {
    const a = make<string>();
    const b = make<string>();
    const gate = deferred<void>();
    const boom = new Error('db down');
    const leader = track(
      a.fetch('e', async () => {
        await gate.promise;
        throw boom;
      }),
    );
    await leading('e');
    const follower = track(b.fetch('e', () => 'own value'));
    await sleep(20);
    expect(follower.state).toBe('pending');
    gate.resolve();
    await eventually(() => follower.state === 'resolved', 1000, 5); // far below waitTimeoutMs (5 s)
    expect(follower.value).toBe('own value');
    expect(leader.error).toBe(boom);
  });

  it('uses the codec: a custom one round-trips what JSON cannot', async () => {
    const dateCodec: Codec<Date> = { encode: (d) => String(d.getTime()), decode: (t) => new Date(Number(t)) };
    const a = make<Date>({ codec: dateCodec, lingerMs: 1000 });
    const b = make<Date>({ codec: dateCodec, lingerMs: 1000 });
    const when = new Date(1_700_000_000_000);
    await a.fetch('d', () => when);
    const got = await b.fetch('d', () => new Date(0));
    expect(got).toBeInstanceOf(Date);
    expect(got.getTime()).toBe(when.getTime());
  });

  it('an aborted follower rejects with signal.reason; close() rejects the rest with ClosedError', async () => {
    const a = make<string>();
    const b = make<string>();
    const never = deferred<string>();
    const leader = track(a.fetch('x', () => never.promise));
    await leading('x');
    const controller = new AbortController();
    const aborted = track(b.fetch('x', () => 'no', controller.signal));
    const closed = track(b.fetch('x', () => 'no'));
    await sleep(20);
    controller.abort('bye');
    // The follower may still be in its claim round trip on a loaded machine: wait for it, bounded.
    await eventually(() => aborted.state === 'rejected');
    expect(aborted.error).toBe('bye');
    await b.close();
    await eventually(() => closed.state === 'rejected');
    expect((closed.error as { code?: string }).code).toBe('ERR_VALVE_CLOSED');
    never.resolve('done');
    await eventually(() => leader.state === 'resolved');
    // Nothing left but what expires: no lock (released), no result (lingerMs 0).
    await eventually(async () => (await keysUnder(client(), prefix)).length === 0, 1000, 10);
  });

  it("Redis down: 'fail-open' fetches alone, 'fail-closed' rejects with ERR_VALVE_REDIS_UNAVAILABLE", async () => {
    const port = await deadPort();
    const dead = () => {
      const c = new Redis({ port, host: '127.0.0.1', retryStrategy: () => 20 });
      c.on('error', () => {});
      return c;
    };
    const r1 = dead();
    const r2 = dead();
    const open = new RedisCoalescer<string, string>({
      redis: r1,
      name: 'n',
      redisErrorPolicy: 'fail-open',
      commandTimeoutMs: 200,
    });
    const closed = new RedisCoalescer<string, string>({
      redis: r2,
      name: 'n',
      redisErrorPolicy: 'fail-closed',
      commandTimeoutMs: 200,
    });
    expect(await open.fetch('k', () => 'local')).toBe('local');
    await expect(closed.fetch('k', () => 'local')).rejects.toMatchObject({ code: 'ERR_VALVE_REDIS_UNAVAILABLE' });
    await open.close();
    await closed.close();
    r1.disconnect();
    r2.disconnect();
  });
});
