/**
 * @valve/redis against bottleneck's Redis mode (ioredis connection) and rate-limiter-flexible's
 * RateLimiterRedis, all on the same Redis (REDIS_URL), single process. Every call is admitted
 * (limits far above the load), so the figure is the added latency per admitted call; an
 * `ioredis PING` row is the floor (one round trip, nothing decided).
 *
 * Cases: (a) rate limit, sequential (latency per call); (b) rate limit, 64 callers at once
 * (throughput, pipelined on one connection); (c) concurrency cap, acquire + release,
 * sequential; (d) concurrency cap, 16 callers at once; (e) rate limit throughput from 1, 4 and
 * (full runs only) 16 processes (16 callers each) on one key: this file forks itself as the worker
 * (VALVE_REDIS_BENCH_WORKER=1), workers connect untimed in `before`, and only the work from
 * "go" to the last "done" is timed. rate-limiter-flexible has no semaphore, so it appears in
 * the rate cases only.
 *
 * The suite is skipped, with a message, when REDIS_URL is unset. @valve/redis is loaded from the
 * workspace by path (bench/package.json does not list it), so build it first.
 */
import { type ChildProcess, fork } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import Bottleneck from 'bottleneck';
import { Redis } from 'ioredis';
import { RateLimiterRedis } from 'rate-limiter-flexible';
import { type Case, defineSuite } from '../harness.js';

/** The slice of @valve/redis this suite uses (no compile-time dependency on its build). */
interface RateSourceLike {
  acquire(signal?: AbortSignal): Promise<void>;
  close(): Promise<void>;
}
interface PermitLike {
  release(): void;
}
interface ConcurrencySourceLike {
  acquire(signal?: AbortSignal): Promise<PermitLike>;
  close(): Promise<void>;
}
interface RedisPackage {
  RedisTokenBucket: new (options: Record<string, unknown>) => RateSourceLike;
  RedisSemaphore: new (options: Record<string, unknown>) => ConcurrencySourceLike;
}

async function loadRedisPackage(): Promise<RedisPackage> {
  return (await import('@valve/redis')) as unknown as RedisPackage;
}

const noop = () => Promise.resolve();

function sequential(n: number, call: () => Promise<unknown>): () => Promise<void> {
  return async () => {
    for (let i = 0; i < n; i++) await call();
  };
}

/** `n` calls from `lanes` concurrent callers (each awaits its previous call). */
function concurrent(n: number, lanes: number, call: () => Promise<unknown>): () => Promise<void> {
  return async () => {
    let left = n;
    const lane = async () => {
      while (left-- > 0) await call();
    };
    await Promise.all(Array.from({ length: lanes }, lane));
  };
}

// ---- (e) multi-process: workers are this very file, forked ----

type RateContender = 'valve' | 'flexible' | 'bottleneck';

interface WorkerConfig {
  url: string;
  prefix: string;
  contender: RateContender;
  ops: number;
  lanes: number;
}

/** Builds one contender's rate limiter: `take()` admits one call; `close()` frees everything. */
async function rateLimiter(
  cfg: Pick<WorkerConfig, 'url' | 'prefix' | 'contender'>,
): Promise<{ take: () => Promise<unknown>; close: () => Promise<unknown> }> {
  const redis = new Redis(cfg.url);
  if (cfg.contender === 'valve') {
    const { RedisTokenBucket } = await loadRedisPackage();
    const bucket = new RedisTokenBucket({
      redis,
      prefix: cfg.prefix,
      name: 'mp',
      rate: 1e9,
      hz: 1000,
      tokenLimit: 1e9,
      redisErrorPolicy: 'fail-closed',
    });
    return {
      take: () => bucket.acquire(),
      close: async () => {
        await bucket.close();
        await redis.quit();
      },
    };
  }
  if (cfg.contender === 'flexible') {
    const limiter = new RateLimiterRedis({
      storeClient: redis,
      keyPrefix: `${cfg.prefix}mp`,
      points: 1e9,
      duration: 60,
    });
    return { take: () => limiter.consume('k'), close: () => redis.quit() };
  }
  const connection = new Bottleneck.IORedisConnection({ client: redis });
  // Same id in every worker: one shared limiter (clearDatastore off, so workers don't reset it).
  const limiter = new Bottleneck({
    id: `${cfg.prefix}mp-bottleneck`,
    datastore: 'ioredis',
    reservoir: 1e9,
    connection,
  });
  await limiter.ready();
  return {
    take: () => limiter.schedule(noop),
    close: async () => {
      await limiter.disconnect(false);
      await connection.disconnect(false);
    },
  };
}

async function worker(): Promise<void> {
  const cfg = JSON.parse(process.argv[2]!) as WorkerConfig;
  const limiter = await rateLimiter(cfg);
  process.on('message', async (m: string) => {
    if (m === 'go') {
      await concurrent(cfg.ops, cfg.lanes, limiter.take)();
      process.send!('done');
    } else if (m === 'exit') {
      await limiter.close();
      process.disconnect();
    }
  });
  process.send!('ready');
}

if (process.env.VALVE_REDIS_BENCH_WORKER === '1') await worker();

/** A contender whose `before` forks and readies `processes` workers and whose `run` times only the work. */
function multiProcess(
  name: string,
  base: Omit<WorkerConfig, 'ops'>,
  processes: number,
  ops: number,
): { name: string; before: () => Promise<void>; run: () => Promise<void> } {
  let workers: ChildProcess[] = [];
  const once = (child: ChildProcess, what: string) =>
    new Promise<void>((resolve, reject) => {
      const onMessage = (m: unknown) => {
        if (m !== what) return;
        child.off('message', onMessage);
        resolve();
      };
      child.on('message', onMessage);
      child.once('exit', (code) => reject(new Error(`bench worker exited (${code}) before "${what}"`)));
    });
  const stop = async () => {
    await Promise.all(
      workers.map((w) => {
        const exited = new Promise((resolve) => w.once('exit', resolve));
        w.send('exit');
        return exited;
      }),
    );
    workers = [];
  };
  cleanups.push(stop);
  return {
    name,
    before: async () => {
      await stop();
      workers = Array.from({ length: processes }, () =>
        fork(fileURLToPath(import.meta.url), [JSON.stringify({ ...base, ops: Math.ceil(ops / processes) })], {
          env: { ...process.env, VALVE_REDIS_BENCH_WORKER: '1' },
          stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
        }),
      );
      await Promise.all(workers.map((w) => once(w, 'ready')));
    },
    run: async () => {
      const done = workers.map((w) => once(w, 'done'));
      for (const w of workers) w.send('go');
      await Promise.all(done);
    },
  };
}

const cleanups: (() => Promise<unknown> | unknown)[] = [];

export default defineSuite({
  name: 'redis',
  description: 'cluster-wide rate limit and concurrency cap on Redis: added latency per admitted call',
  async cases(ctx) {
    const url = process.env.REDIS_URL;
    if (!url) {
      console.log('  skipped: REDIS_URL is not set (e.g. REDIS_URL=redis://127.0.0.1:6379)');
      return [];
    }
    const { RedisTokenBucket, RedisSemaphore } = await loadRedisPackage();
    const prefix = `valve-bench:${randomUUID().slice(0, 8)}:`;
    const connect = () => {
      const c = new Redis(url);
      cleanups.push(() => c.quit());
      return c;
    };
    const redis = connect();
    await redis.ping();
    cleanups.unshift(async () => {
      const keys = await redis.keys(`${prefix}*`);
      if (keys.length > 0) await redis.del(...keys);
    });

    // Limits far above the load, so every call is admitted.
    const bucket = new RedisTokenBucket({
      redis,
      prefix,
      name: 'rate',
      rate: 1e9,
      hz: 1000,
      tokenLimit: 1e9,
      redisErrorPolicy: 'fail-closed',
    });
    const semaphore = new RedisSemaphore({
      redis,
      prefix,
      name: 'conc',
      limit: 1000,
      leaseMs: 30_000,
      redisErrorPolicy: 'fail-closed',
    });
    cleanups.unshift(
      () => bucket.close(),
      () => semaphore.close(),
    );
    const flexible = new RateLimiterRedis({
      storeClient: redis,
      keyPrefix: `${prefix}rlflx`,
      points: 1e9,
      duration: 60,
    });
    const bottleneck = (options: Bottleneck.ConstructorOptions) => {
      // Its own connection (bottleneck adds a subscriber duplicate), closed with the connection:
      // a limiter given a connection does not close it on disconnect().
      const connection = new Bottleneck.IORedisConnection({ client: new Redis(url) });
      const limiter = new Bottleneck({
        ...options,
        id: `${prefix}bottleneck-${randomUUID().slice(0, 8)}`,
        datastore: 'ioredis',
        clearDatastore: true,
        connection,
      });
      cleanups.push(
        () => limiter.disconnect(false),
        () => connection.disconnect(false),
      );
      return limiter;
    };
    const bnRate = bottleneck({ reservoir: 1e9 });
    const bnConc = bottleneck({ maxConcurrent: 1000 });
    await Promise.all([bnRate.ready(), bnConc.ready()]);

    const acquireRelease = async () => (await semaphore.acquire()).release();
    const seqOps = ctx.scale(1000);
    const parOps = ctx.scale(5000);
    const cases: Case[] = [
      {
        title: `rate limit, sequential: ${seqOps} admitted calls (latency per call)`,
        ops: seqOps,
        unit: 'us/op',
        contenders: [
          { name: '@valve/redis RedisTokenBucket', run: sequential(seqOps, () => bucket.acquire()) },
          { name: 'bottleneck (ioredis, reservoir)', run: sequential(seqOps, () => bnRate.schedule(noop)) },
          { name: 'rate-limiter-flexible Redis', run: sequential(seqOps, () => flexible.consume('k')) },
          { name: 'ioredis PING (floor)', run: sequential(seqOps, () => redis.ping()) },
        ],
      },
      {
        title: `rate limit, 64 concurrent callers: ${parOps} admitted calls (throughput)`,
        ops: parOps,
        unit: 'us/op',
        contenders: [
          { name: '@valve/redis RedisTokenBucket', run: concurrent(parOps, 64, () => bucket.acquire()) },
          { name: 'bottleneck (ioredis, reservoir)', run: concurrent(parOps, 64, () => bnRate.schedule(noop)) },
          { name: 'rate-limiter-flexible Redis', run: concurrent(parOps, 64, () => flexible.consume('k')) },
          { name: 'ioredis PING (floor)', run: concurrent(parOps, 64, () => redis.ping()) },
        ],
      },
      {
        title: `concurrency cap, sequential acquire + release: ${seqOps} calls`,
        ops: seqOps,
        unit: 'us/op',
        contenders: [
          { name: '@valve/redis RedisSemaphore', run: sequential(seqOps, acquireRelease) },
          { name: 'bottleneck (ioredis, maxConcurrent)', run: sequential(seqOps, () => bnConc.schedule(noop)) },
          { name: 'ioredis PING (floor)', run: sequential(seqOps, () => redis.ping()) },
        ],
      },
      {
        title: `concurrency cap, 16 concurrent callers: ${parOps} calls`,
        ops: parOps,
        unit: 'us/op',
        contenders: [
          { name: '@valve/redis RedisSemaphore', run: concurrent(parOps, 16, acquireRelease) },
          { name: 'bottleneck (ioredis, maxConcurrent)', run: concurrent(parOps, 16, () => bnConc.schedule(noop)) },
          { name: 'ioredis PING (floor)', run: concurrent(parOps, 16, () => redis.ping()) },
        ],
      },
    ];
    const mpOps = ctx.scale(5000);
    // 16 processes only in full runs: on a small machine they mostly measure the scheduler.
    for (const processes of ctx.quick ? [1, 4] : [1, 4, 16]) {
      const base = (contender: RateContender) => ({ url, prefix: `${prefix}p${processes}:`, contender, lanes: 16 });
      cases.push({
        title: `rate limit, ${processes} process${processes > 1 ? 'es' : ''} x 16 callers on one key: ${mpOps} admitted calls (throughput)`,
        ops: mpOps,
        unit: 'us/op',
        contenders: [
          multiProcess('@valve/redis RedisTokenBucket', base('valve'), processes, mpOps),
          multiProcess(
            'bottleneck (ioredis, reservoir)',
            base('bottleneck'),
            processes,
            Math.min(mpOps, ctx.scale(2000)),
          ),
          multiProcess('rate-limiter-flexible Redis', base('flexible'), processes, mpOps),
        ],
      });
    }
    // Scale units: the harness divides ns by ops; report microseconds.
    for (const c of cases) c.ops = (c.ops ?? 1) * 1000;
    return cases;
  },
  async teardown() {
    for (const cleanup of cleanups.splice(0)) await cleanup();
  },
});
