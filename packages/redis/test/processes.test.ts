import { type ChildProcess, fork } from 'node:child_process';
import { mkdirSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { track } from '@valve/testkit';
import type { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RedisSemaphore } from '../src/index.js';
import { singleClient, closeClients, deleteUnder, keysUnder, sleep, uniquePrefix, url } from './helpers.js';

const here = dirname(fileURLToPath(import.meta.url));
// Inside the package's node_modules, so the bundle resolves `ioredis` like the package does.
const outDir = join(here, '..', 'node_modules', '.cache', 'valve-redis-test');
const childFile = join(outDir, 'child.cjs');

/** The slice of esbuild's API we use (esbuild is not a dependency of this package, so no types). */
type Build = (options: Record<string, unknown>) => Promise<unknown>;

/** Bundles the child fixture (TypeScript, importing src/) into one CommonJS file Node can run. */
async function bundleChild(): Promise<void> {
  const require = createRequire(import.meta.url);
  // esbuild comes with tsup (a root devDependency); resolve it from there.
  const esbuildPath = createRequire(require.resolve('tsup')).resolve('esbuild');
  const loaded = (await import(pathToFileURL(esbuildPath).href)) as { build?: Build; default?: { build: Build } };
  const build = loaded.build ?? loaded.default!.build;
  mkdirSync(outDir, { recursive: true });
  await build({
    entryPoints: [join(here, 'fixtures', 'child.ts')],
    outfile: childFile,
    bundle: true,
    platform: 'node',
    format: 'cjs',
    target: 'node20',
    external: ['ioredis'],
    logLevel: 'silent',
  });
}

interface ChildResult {
  done?: number;
  error?: string;
  held?: boolean;
  followed?: number;
}

function start(config: Record<string, unknown>): { child: ChildProcess; message: Promise<ChildResult> } {
  const child = fork(childFile, [JSON.stringify({ url, ...config })], {
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  });
  const message = new Promise<ChildResult>((resolve, reject) => {
    child.once('message', (m) => resolve(m as ChildResult));
    child.once('exit', (code, signal) => reject(new Error(`child exited (${code ?? signal}) before reporting`)));
  });
  message.catch(() => {});
  return { child, message };
}

/** Redis's own clock, in ms: the same clock the scripts use. */
async function redisNow(redis: Redis): Promise<number> {
  const [s, us] = await redis.time();
  return Number(s) * 1000 + Number(us) / 1000;
}

describe.skipIf(!url)('several processes on one key space', () => {
  const children: ChildProcess[] = [];
  beforeAll(bundleChild, 20_000);
  afterAll(async () => {
    for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
    await closeClients();
  });

  it('a holder killed with SIGKILL mid-work: its lease expires and the cap recovers', async () => {
    const prefix = uniquePrefix();
    const redis = singleClient();
    const leaseMs = 400;
    const holder = start({ mode: 'hold', prefix, limit: 1, leaseMs });
    children.push(holder.child);
    expect(await holder.message).toEqual({ held: true });
    const sem = new RedisSemaphore({
      redis,
      prefix,
      name: 'shared',
      limit: 1,
      leaseMs,
      commandTimeoutMs: 100,
      probeIntervalMs: 100,
      redisErrorPolicy: 'fail-closed',
    });
    // While the child lives it renews its lease: the slot stays taken past a lease length.
    const blocked = track(sem.acquire(AbortSignal.timeout(leaseMs + 200)));
    await sleep(leaseMs + 300);
    expect(blocked.state).toBe('rejected');
    const exited = new Promise((resolve) => holder.child.once('exit', resolve));
    holder.child.kill('SIGKILL');
    await exited;
    const killedAt = Date.now();
    // Nobody releases: the waiter wakes at the lease's expiry (its retry timer), not by polling.
    const permit = await sem.acquire(AbortSignal.timeout(leaseMs * 3));
    expect(Date.now() - killedAt).toBeLessThan(leaseMs * 3);
    expect(await sem.clusterInUse()).toBe(1);
    permit.release();
    await sem.close();
    await deleteUnder(redis, prefix);
  }, 8000);

  it('an idle process exits on its own: no timer or connection of ours keeps it alive', async () => {
    const prefix = uniquePrefix();
    const run = start({ mode: 'idle', prefix });
    children.push(run.child);
    const exited = new Promise<number | null>((resolve) => run.child.once('exit', (code) => resolve(code)));
    // It also followed a coalesced key, so a coalescer's pub/sub connection was open.
    expect(await run.message).toEqual({ done: 1, held: true, followed: 1 });
    // The permit it still holds renews on an unref'd timer; its lease (300 ms) then expires.
    const code = await Promise.race([exited, sleep(3000).then(() => 'still running')]);
    expect(code).toBe(0);
    const redis = singleClient();
    await sleep(400);
    expect(await keysUnder(redis, prefix)).toEqual([]);
  }, 8000);

  it('4 processes x 3 lanes hammering a cap of 3: the cap is never exceeded (measured in Redis)', async () => {
    const prefix = uniquePrefix();
    const redis = singleClient();
    const runs = Array.from({ length: 4 }, () =>
      start({ mode: 'cap', prefix, limit: 3, leaseMs: 4000, lanes: 3, durationMs: 1200 }),
    );
    for (const r of runs) children.push(r.child);
    const results = await Promise.all(runs.map((r) => r.message));
    for (const r of results) expect(r.error).toBeUndefined();
    const total = results.reduce((n, r) => n + r.done!, 0);
    const max = Number(await redis.get(`${prefix}max`));
    expect(total).toBeGreaterThan(50);
    expect(max).toBeLessThanOrEqual(3);
    expect(max).toBe(3); // the cap was actually contended, so "never exceeded" means something
    expect(Number(await redis.get(`${prefix}active`))).toBe(0);
    await deleteUnder(redis, `${prefix}active`);
    await deleteUnder(redis, `${prefix}max`);
    // Every child closed its semaphore after releasing everything: nothing is left.
    expect(await keysUnder(redis, prefix)).toEqual([]);
  }, 10_000);

  it('4 processes x 4 lanes on one bucket: the global rate holds within one burst (measured in Redis)', async () => {
    const prefix = uniquePrefix();
    const redis = singleClient();
    const rate = 5;
    const hz = 100;
    const tokenLimit = 10;
    const durationMs = 1500;
    const startedAt = await redisNow(redis); // before any grant
    const runs = Array.from({ length: 4 }, () =>
      start({ mode: 'rate', prefix, rate, hz, tokenLimit, lanes: 4, durationMs }),
    );
    for (const r of runs) children.push(r.child);
    const results = await Promise.all(runs.map((r) => r.message));
    const endedAt = await redisNow(redis); // after every grant
    for (const r of results) expect(r.error).toBeUndefined();
    const grants = Number(await redis.get(`${prefix}grants`));
    expect(results.reduce((n, r) => n + r.done!, 0)).toBe(grants);
    // At most the burst plus one refill per period started in the window, on Redis's clock.
    const bound = tokenLimit + rate * (Math.floor((endedAt - startedAt) / hz) + 1);
    expect(grants).toBeLessThanOrEqual(bound);
    // And the rate is actually delivered (not starved): at least half of what the bucket allows.
    expect(grants).toBeGreaterThanOrEqual(tokenLimit + Math.floor((rate * durationMs) / hz / 2));
    await deleteUnder(redis, prefix);
  }, 10_000);
});
