import { ManualClock, MetricsRegistry } from '@valve/core';
import { deferred, flush, track } from '@valve/testkit';
import { describe, expect, it } from 'vitest';
import { PromisePool } from '../src/index.js';

describe('retry', () => {
  it('is off by default', async () => {
    let calls = 0;
    const pool = new PromisePool();
    await expect(
      pool.run(() => {
        calls++;
        return Promise.reject(new Error('x'));
      }),
    ).rejects.toThrow('x');
    expect(calls).toBe(1);
  });

  it('retries with backoff on the clock; the task sees its attempt number; retries are counted', async () => {
    const clock = new ManualClock();
    const pool = new PromisePool({ retry: { retries: 2, minTimeout: 100, factor: 2 }, clock, maxWorkers: 1 });
    const attempts: number[] = [];
    const call = track(
      pool.run(({ attempt }) => {
        attempts.push(attempt);
        return attempt < 3 ? Promise.reject(new Error(`fail ${attempt}`)) : Promise.resolve('ok');
      }),
    );
    await flush();
    expect(attempts).toEqual([1]);
    expect(clock.refedTimers).toBe(1); // the backoff keeps the process alive
    await clock.advanceAsync(100);
    expect(attempts).toEqual([1, 2]);
    await clock.advanceAsync(199);
    expect(attempts).toEqual([1, 2]);
    await clock.advanceAsync(1);
    expect(call.value).toBe('ok');
    expect(pool.stats()).toMatchObject({ completed: 1, failed: 0, retried: 2 });
  });

  it('gives up with the last error, unchanged, reported to onError with the attempts', async () => {
    const clock = new ManualClock();
    const seen: unknown[] = [];
    const pool = new PromisePool({
      retry: { retries: 1, minTimeout: 10, shouldRetry: ({ error }) => error !== 'fatal' },
      clock,
      onError: (e, info) => seen.push([e, info]),
    });
    pool.add(({ attempt }) => Promise.reject(attempt === 1 ? 'a' : 'b'));
    pool.add(() => Promise.reject('fatal'));
    await clock.advanceAsync(10);
    const s = await pool.drain();
    expect(s).toMatchObject({ failed: 2, errors: ['fatal', 'b'] });
    expect(seen).toEqual([
      ['fatal', { priority: 0, attempts: 1 }],
      ['b', { priority: 0, attempts: 2 }],
    ]);
  });

  it('a timeout stops the retries', async () => {
    const clock = new ManualClock();
    const pool = new PromisePool({ retry: { retries: 5, minTimeout: 100 }, taskTimeoutMs: 150, clock });
    let calls = 0;
    const call = track(
      pool.run(() => {
        calls++;
        return Promise.reject(new Error('x'));
      }),
    );
    await clock.advanceAsync(1000);
    expect((call.error as Error).name).toBe('TimeoutError');
    expect(calls).toBe(2);
  });
});

describe('metrics', () => {
  it('registers counters, gauges and histograms under valve="<name>", and stats() adds the histograms', async () => {
    const clock = new ManualClock();
    const metrics = new MetricsRegistry();
    const pool = new PromisePool({ maxWorkers: 1, metrics, name: 'mail', clock });
    const gate = deferred();
    pool.add(() => gate.promise);
    pool.add(() => Promise.reject('no'));
    await clock.advanceAsync(250);
    gate.resolve();
    await pool.drain();
    const stats = pool.stats();
    expect(stats.runMs).toMatchObject({ count: 2, max: expect.closeTo(250, 0) });
    expect(stats.waitMs).toMatchObject({ count: 2, max: expect.closeTo(250, 0) });
    const text = metrics.toPrometheus();
    expect(text).toContain('valve_pool_completed_total{valve="mail"} 1');
    expect(text).toContain('valve_pool_failed_total{valve="mail"} 1');
    expect(text).toContain('valve_pool_queued_tasks{valve="mail"} 0');
    expect(text).toContain('valve_pool_limit_tasks{valve="mail"} 1');
    expect(text).toContain('valve_pool_run_seconds_count{valve="mail"} 2');
    expect(text).toContain('valve_pool_wait_seconds_bucket{valve="mail",le="0.5"} 2');
    // Get-or-create: a second pool with the same name shares the series, one HELP per name.
    new PromisePool({ metrics, name: 'mail', clock });
    expect(metrics.toPrometheus().match(/# HELP valve_pool_completed_total/g)).toHaveLength(1);
  });
});
