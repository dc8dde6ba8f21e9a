import { type AddressInfo, connect, createServer, type Server, type Socket } from 'node:net';
import { randomUUID } from 'node:crypto';
import { requireService } from '@valve/testkit';
import { Cluster, Redis } from 'ioredis';
import { afterAll, afterEach } from 'vitest';

/**
 * Which Redis the shared suites run against. vitest.config.ts runs them twice: project `redis`
 * on the single server (REDIS_URL), project `cluster` with VALVE_REDIS_TOPOLOGY=cluster on the
 * Redis Cluster (VALVE_REDIS_CLUSTER_NODES, started by scripts/redis-cluster.sh in .ci/run),
 * where {@link client} is an ioredis `Cluster` that follows MOVED/ASK itself.
 */
export const topology: 'single' | 'cluster' = process.env.VALVE_REDIS_TOPOLOGY === 'cluster' ? 'cluster' : 'single';

/** What {@link client} returns: either kind of ioredis client, as the sources accept. */
export type Client = Redis | Cluster;

/**
 * REDIS_URL (or, in the cluster project, VALVE_REDIS_CLUSTER_NODES), or undefined after a loud
 * skip message (a failure under VALVE_REQUIRE_SERVICES=1).
 */
export const url =
  topology === 'cluster'
    ? requireService('VALVE_REDIS_CLUSTER_NODES', 'Redis Cluster')
    : requireService('REDIS_URL', 'redis');

/** The cluster's nodes as ioredis takes them, from `VALVE_REDIS_CLUSTER_NODES` ("host:port,..."). */
export function clusterNodes(list: string): { host: string; port: number }[] {
  return list.split(',').map((hp) => {
    const [host, port] = hp.trim().split(':');
    return { host: host as string, port: Number(port) };
  });
}

/** A key prefix no other test run (or engineer) shares, so parallel runs never collide. */
export function uniquePrefix(): string {
  return `valve-test:${randomUUID().slice(0, 8)}:`;
}

const clients: Client[] = [];

/** A fresh client on the topology under test, closed by {@link closeClients}. */
export function client(options: { lazyConnect?: boolean } = {}): Client {
  const lazyConnect = options.lazyConnect ?? false;
  const c =
    topology === 'cluster' ? new Cluster(clusterNodes(url!), { lazyConnect }) : new Redis(url!, { lazyConnect });
  c.on('error', () => {});
  clients.push(c);
  return c;
}

/** A client on the single server (REDIS_URL), for the files that only run there (proxies, child processes). */
export function singleClient(): Redis {
  const c = new Redis(process.env.REDIS_URL!);
  c.on('error', () => {});
  clients.push(c);
  return c;
}

/** The nodes a SCAN or a server-wide command must visit: the primaries of a cluster, or the server. */
function servers(redis: Client): Redis[] {
  return redis instanceof Cluster ? redis.nodes('master') : [redis];
}

/**
 * How many connections subscribe to `channel`, on every node: a Cluster's subscriber connection
 * may sit on any node (primary or replica), and `PUBSUB NUMSUB` counts only the node's own.
 */
export async function subscribers(redis: Client, channel: string): Promise<number> {
  if (redis instanceof Cluster && redis.status !== 'ready') await redis.ping(); // learn the nodes
  const nodes = redis instanceof Cluster ? redis.nodes('all') : [redis];
  const counts = await Promise.all(
    nodes.map(async (node) => Number(((await node.pubsub('NUMSUB', channel)) as [string, number])[1])),
  );
  return counts.reduce((a, b) => a + b, 0);
}

/** The channels under `prefix` that someone subscribes to, on every node (see {@link subscribers}). */
export async function channelsUnder(redis: Client, prefix: string): Promise<string[]> {
  if (redis instanceof Cluster && redis.status !== 'ready') await redis.ping(); // learn the nodes
  const nodes = redis instanceof Cluster ? redis.nodes('all') : [redis];
  const lists = await Promise.all(nodes.map((node) => node.pubsub('CHANNELS', `${prefix}*`) as Promise<string[]>));
  return [...new Set(lists.flat())].sort();
}

/** `SCRIPT FLUSH` on every primary (what a restart does to the script cache). */
export async function flushScripts(redis: Client): Promise<void> {
  if (redis instanceof Cluster && redis.status !== 'ready') await redis.ping(); // learn the nodes
  await Promise.all(servers(redis).map((node) => node.script('FLUSH')));
}

export async function closeClients(): Promise<void> {
  for (const c of clients.splice(0)) {
    if (c.status !== 'end') c.disconnect();
  }
}

/**
 * The lifecycle the real-server regression tests share: after each test, the clean-ups it
 * registered run (last first) and its keys under `prefix` are deleted; after the file, the
 * clients close. Returns the function a test registers a clean-up with.
 */
export function cleanupsPerTest(prefix: string): Defer {
  const cleanups: (() => Promise<unknown> | unknown)[] = [];
  afterEach(async () => {
    for (const c of cleanups.splice(0).reverse()) await c();
    await deleteUnder(client(), prefix);
  });
  afterAll(closeClients);
  return (...cleanup) => {
    cleanups.push(...cleanup);
  };
}

/** Registers clean-ups for the end of the current test (see {@link cleanupsPerTest}). */
export type Defer = (...cleanup: (() => Promise<unknown> | unknown)[]) => void;

/** A client whose replies go through a {@link slowProxy}; both are cleaned up by `defer`. */
export async function slowClient(
  defer: Defer,
): Promise<{ proxy: Awaited<ReturnType<typeof slowProxy>>; redis: Redis }> {
  const proxy = await slowProxy();
  defer(() => proxy.close());
  const redis = new Redis({ host: '127.0.0.1', port: proxy.port });
  redis.on('error', () => {});
  defer(() => redis.disconnect());
  return { proxy, redis };
}

/**
 * A proxy connection's other end: a new connection to Redis, both tracked in `sockets` and each
 * closed with the other. Commands flow inbound -> Redis; the caller forwards the replies.
 */
function toRedis(inbound: Socket, sockets: Set<Socket>): Socket {
  const target = new URL(process.env.REDIS_URL!); // proxies stand in front of the single server
  const outbound = connect(Number(target.port || 6379), target.hostname);
  for (const s of [inbound, outbound]) {
    sockets.add(s);
    s.on('error', () => {});
    s.on('close', () => {
      sockets.delete(s);
      inbound.destroy();
      outbound.destroy();
    });
  }
  inbound.pipe(outbound);
  return outbound;
}

/** Drops every connection and closes the server. */
function closeServer(server: Server, sockets: Set<Socket>): Promise<void> {
  return new Promise<void>((resolve) => {
    for (const s of sockets) s.destroy();
    server.close(() => resolve());
  });
}

/** Every key under `prefix`, found by SCAN on every primary (what a user would see left behind). */
export async function keysUnder(redis: Client, prefix: string): Promise<string[]> {
  if (redis instanceof Cluster && redis.status !== 'ready') await redis.ping(); // learn the nodes
  const found: string[] = [];
  for (const node of servers(redis)) {
    let cursor = '0';
    do {
      const [next, keys] = await node.scan(cursor, 'MATCH', `${prefix}*`, 'COUNT', 1000);
      cursor = next;
      found.push(...keys);
    } while (cursor !== '0');
  }
  return found.sort();
}

/** Deletes every key under `prefix` (cleanup after a test); one DEL per key: keys span slots. */
export async function deleteUnder(redis: Client, prefix: string): Promise<void> {
  const keys = await keysUnder(redis, prefix);
  await Promise.all(keys.map((key) => redis.del(key)));
}

/** Real time, for tests against a real server only (their waits are bounded by the test timeout). */
export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** A job that runs `ms` of real time and records how many of its calls ran at once (`max`). */
export function concurrencyProbe(ms = 5): { job: () => Promise<'ok'>; readonly max: number } {
  let running = 0;
  let max = 0;
  return {
    job: async () => {
      running++;
      max = Math.max(max, running);
      await sleep(ms);
      running--;
      return 'ok';
    },
    get max() {
      return max;
    },
  };
}

/** Resolves when `predicate` holds, checking every `everyMs`; throws after `withinMs`. */
export async function eventually(predicate: () => Promise<boolean> | boolean, withinMs = 3000, everyMs = 20) {
  const deadline = Date.now() + withinMs;
  for (;;) {
    if (await predicate()) return;
    if (Date.now() > deadline) throw new Error(`condition not met within ${withinMs} ms`);
    await sleep(everyMs);
  }
}

/**
 * A TCP proxy in front of Redis that a test can cut (every connection dropped, the port closed:
 * what clients see when Redis dies) and restore on the same port (Redis is back).
 */
export async function redisProxy(): Promise<{
  port: number;
  cut(): Promise<void>;
  restore(): Promise<void>;
  close(): Promise<void>;
}> {
  const sockets = new Set<Socket>();
  let server: Server | undefined;
  let port = 0;
  const listen = () =>
    new Promise<void>((resolve) => {
      server = createServer((inbound) => {
        toRedis(inbound, sockets).pipe(inbound);
      });
      server.listen(port, '127.0.0.1', () => {
        port = (server!.address() as AddressInfo).port;
        resolve();
      });
    });
  const cut = () => closeServer(server!, sockets);
  await listen();
  return { port, cut, restore: listen, close: cut };
}

/** A server that accepts connections and never answers: a Redis that hangs. */
export async function blackhole(): Promise<{ port: number; close(): Promise<void> }> {
  const sockets = new Set<Socket>();
  const server = createServer((s) => {
    sockets.add(s);
    s.on('error', () => {});
    s.on('close', () => sockets.delete(s));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { port: (server.address() as AddressInfo).port, close: () => closeServer(server, sockets) };
}

/** A port nothing listens on (bound, read, released). */
export async function deadPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as AddressInfo).port;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

/**
 * A TCP proxy in front of Redis whose replies are held back by `delayMs` while it is > 0 (a
 * GC pause on Redis, a congested link): the commands still run on time, only their replies come
 * late. Replies keep their order whatever `delayMs` does, so ioredis never mismatches them.
 */
export async function slowProxy(): Promise<{ port: number; delayMs: number; close(): Promise<void> }> {
  const sockets = new Set<Socket>();
  const proxy = { port: 0, delayMs: 0, close: async () => {} };
  const server = createServer((inbound) => {
    const outbound = toRedis(inbound, sockets);
    let releaseAt = 0;
    let held = 0; // chunks scheduled and not yet written
    outbound.on('data', (chunk: Buffer) => {
      // Never before an earlier chunk: a later, shorter delay must not overtake a longer one.
      releaseAt = Math.max(releaseAt, Date.now() + proxy.delayMs);
      const wait = releaseAt - Date.now();
      if (wait <= 0 && held === 0) {
        inbound.write(chunk);
        return;
      }
      held++;
      setTimeout(
        () => {
          held--;
          inbound.write(chunk);
        },
        Math.max(0, wait),
      );
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  proxy.port = (server.address() as AddressInfo).port;
  proxy.close = () => closeServer(server, sockets);
  return proxy;
}

/**
 * A TCP proxy in front of Redis that holds every reply while `hold()` is in force, and sends
 * the held ones on, in order, at `release()`. Commands always reach Redis at once, so a test
 * can make "the command ran on Redis, its reply is late" happen at a point it chooses instead
 * of racing a real-time delay against a timeout. `held()` resolves once at least one reply is
 * waiting (the command before it has run on Redis).
 */
export async function gatedProxy(): Promise<{
  port: number;
  hold(): void;
  release(): void;
  held(): Promise<void>;
  close(): Promise<void>;
}> {
  const sockets = new Set<Socket>();
  const queues = new Set<{ inbound: Socket; chunks: Buffer[] }>();
  let holding = false;
  let onHeld: (() => void) | undefined;
  const server = createServer((inbound) => {
    const outbound = toRedis(inbound, sockets);
    const queue = { inbound, chunks: [] as Buffer[] };
    queues.add(queue);
    inbound.on('close', () => queues.delete(queue));
    outbound.on('data', (chunk: Buffer) => {
      if (!holding) {
        inbound.write(chunk);
        return;
      }
      queue.chunks.push(chunk);
      onHeld?.();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const anyHeld = () => [...queues].some((q) => q.chunks.length > 0);
  return {
    port: (server.address() as AddressInfo).port,
    hold: () => {
      holding = true;
    },
    release: () => {
      holding = false;
      for (const q of queues) for (const chunk of q.chunks.splice(0)) q.inbound.write(chunk);
    },
    held: () =>
      anyHeld()
        ? Promise.resolve()
        : new Promise<void>((resolve) => {
            onHeld = () => {
              onHeld = undefined;
              resolve();
            };
          }),
    close: () => closeServer(server, sockets),
  };
}
