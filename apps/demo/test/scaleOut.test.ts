/**
 * Issue 16, item 6: DEMO_PROCESSES=2 against one Redis and one PostgreSQL. The SafetyValve's rate
 * (SAFETY_RATE) is a RedisTokenBucket shared by both processes, so the requests admitted by both
 * together stay within one bucket (tokenLimit = SAFETY_RATE, refilled SAFETY_RATE per second),
 * not twice that; then SIGTERM to the primary stops every process.
 *
 * Real processes, real servers, real time (the bucket refills on Redis's clock); every wait is
 * bounded. `node dist/server.js` runs in its own process group so the test can check that none
 * of its processes is left.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { once } from 'node:events';
import { randomUUID } from 'node:crypto';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { requireService } from '@valve/testkit';
import { afterEach, describe, expect, it } from 'vitest';
import { groupAlive } from './helpers.js';

const SERVER = join(dirname(fileURLToPath(import.meta.url)), '..', 'dist', 'server.js');
const redisUrl = requireService('REDIS_URL', 'demo scale-out (Redis)');
const postgresUrl = requireService('VALVE_POSTGRES_URL', 'demo scale-out (PostgreSQL)');

let child: ChildProcess | undefined;
afterEach(() => {
  if (child?.pid !== undefined && groupAlive(child.pid)) process.kill(-child.pid, 'SIGKILL');
  child = undefined;
});

describe.skipIf(!redisUrl || !postgresUrl)('DEMO_PROCESSES=2 on one Redis', () => {
  it('the global rate holds across both processes, and SIGTERM stops them all', async () => {
    const rate = 20;
    const prefix = `so_${randomUUID().slice(0, 8)}_`;
    child = spawn(process.execPath, [SERVER], {
      detached: true, // its own process group
      stdio: ['ignore', 'pipe', 'pipe'],
      env: {
        ...process.env,
        PORT: '0',
        DEMO_PROCESSES: '2',
        REDIS_URL: redisUrl,
        DATABASE_URL: postgresUrl,
        DEMO_TABLE_PREFIX: prefix,
        SEED_CUSTOMERS: '1000',
        SAFETY_RATE: String(rate),
        SAFETY_DEADLINE_MS: '5',
      },
    });
    let output = '';
    child.stdout!.on('data', (d) => (output += d));
    child.stderr!.on('data', (d) => (output += d));
    const exited = once(child, 'exit');
    const deadline = Date.now() + 60_000;
    while (!/2 processes listening on port (\d+)/.test(output)) {
      if (Date.now() > deadline || child.exitCode !== null) throw new Error(`the demo did not start:\n${output}`);
      await new Promise((r) => setTimeout(r, 50));
    }
    const port = Number(/2 processes listening on port (\d+)/.exec(output)![1]);
    const pids = /\(pids ([\d ]+)\)/.exec(output)![1]!.split(' ').map(Number);
    expect(pids).toHaveLength(2);
    const base = `http://127.0.0.1:${port}`;

    // Both processes answer (node:cluster hands connections round-robin).
    const answered = new Set<number>();
    for (let i = 0; i < 20 && answered.size < 2; i++) {
      const res = await fetch(`${base}/healthz`, { headers: { connection: 'close' } });
      answered.add(((await res.json()) as { pid: number }).pid);
    }
    expect([...answered].sort()).toEqual([...pids].sort());

    // 1 s of requests from 16 clients on fresh connections (so both processes get them).
    const windowMs = 1000;
    const started = performance.now();
    let ok = 0;
    let shed = 0;
    const client = async () => {
      while (performance.now() - started < windowMs) {
        const res = await fetch(`${base}/direct/customers/${1 + Math.floor(Math.random() * 1000)}`, {
          headers: { connection: 'close' },
        });
        await res.arrayBuffer();
        if (res.status === 200) ok++;
        else if (res.status === 503) shed++;
        else throw new Error(`unexpected status ${res.status}`);
      }
    };
    await Promise.all(Array.from({ length: 16 }, client));
    const elapsedMs = performance.now() - started;
    // One bucket: at most tokenLimit (= rate) plus rate per elapsed second (one more for the
    // refill grid); two per-process buckets would admit twice that.
    const bound = rate + Math.ceil((rate * elapsedMs) / 1000) + 1;
    console.info(
      `[scale-out] 2 processes, SAFETY_RATE=${rate}: ${ok} admitted, ${shed} shed in ${Math.round(elapsedMs)} ms (bound ${bound})`,
    );
    expect(shed).toBeGreaterThan(0);
    expect(ok).toBeGreaterThan(0);
    expect(ok).toBeLessThanOrEqual(bound);

    process.kill(child.pid!, 'SIGTERM');
    const [code] = (await Promise.race([
      exited,
      new Promise((_, reject) => setTimeout(() => reject(new Error(`no exit within 30 s:\n${output}`)), 30_000)),
    ])) as [number | null];
    expect(code).toBe(0);
    // Every process of the group is gone (the workers exit before the primary does).
    await new Promise((r) => setTimeout(r, 200));
    expect(groupAlive(child.pid!)).toBe(false);
    for (const pid of pids) expect(() => process.kill(pid, 0)).toThrow();
  }, 120_000);
});
