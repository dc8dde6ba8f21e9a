// Where valve deliberately differs from safetyvalve (README, "Deviations").
import { ManualClock } from '@valve/core';
import { deferred, flush, track } from '@valve/testkit';
import { describe, expect, it } from 'vitest';
import { SafetyValve } from '../src/index.js';
import { gated } from './helpers.js';

describe('release in finally', () => {
  it('a job that throws, synchronously or not, gives its slot back and passes the error through', async () => {
    const valve = new SafetyValve({ size: 10, concurrency: 1, clock: new ManualClock() });
    const boom = new Error('boom');
    await expect(
      valve.run(() => {
        throw boom;
      }),
    ).rejects.toBe(boom);
    await expect(valve.run(() => Promise.reject('not an error'))).rejects.toBe('not an error');
    expect(await valve.run(() => 42)).toBe(42); // a non-promise value resolves
    expect(valve.stats()).toMatchObject({ running: 0, completed: 1, failed: 2 });
    // The same from the queue.
    const gate = deferred();
    const first = valve.run(() => gate.promise);
    const queued = track(
      valve.run(() => {
        throw boom;
      }),
    );
    const after = track(valve.run(() => 'after'));
    gate.resolve();
    await first;
    await flush();
    expect(queued.error).toBe(boom);
    expect(after.value).toBe('after');
    valve.close();
  });
});

describe('idempotent done()', () => {
  it('a second done() does not free a second slot', async () => {
    const valve = new SafetyValve({ size: 10, concurrency: 1, clock: new ManualClock() });
    const p1 = await valve.ask();
    const log: string[] = [];
    const b = gated(log, 'b');
    const c = gated(log, 'c');
    void valve.run(b.fn);
    void valve.run(c.fn);
    p1.done();
    expect(p1.released).toBe(true);
    p1.done(); // safetyvalve would admit c here as well
    expect(log).toEqual(['b']);
    expect(valve.stats().running).toBe(1);
    b.finish();
    await flush();
    expect(log).toEqual(['b', 'c']);
    c.finish();
    valve.close();
  });
});

describe('abort', () => {
  it('a queued caller whose signal aborts leaves the queue at once with signal.reason', async () => {
    const valve = new SafetyValve({ size: 1, concurrency: 1, clock: new ManualClock() });
    const log: string[] = [];
    const a = gated(log, 'a');
    void valve.run(a.fn);
    const ac = new AbortController();
    const b = track(valve.run(() => 'b', { signal: ac.signal }));
    const reason = new Error('client went away');
    ac.abort(reason);
    await flush();
    expect(b.error).toBe(reason);
    expect(valve.stats()).toMatchObject({ queued: 0, aborted: 1 });
    // Its place is free: size 1 admits another waiter, which starts next.
    const c = track(valve.run(() => 'c'));
    a.finish();
    await flush();
    expect(c.value).toBe('c');
    // An already-aborted signal rejects at once, with its reason.
    await expect(valve.run(() => 1, { signal: AbortSignal.abort('gone') })).rejects.toBe('gone');
    await expect(valve.ask({ signal: AbortSignal.abort('gone') })).rejects.toBe('gone');
    valve.close();
  });

  it('abort storms do not grow the queue without bound', async () => {
    const valve = new SafetyValve({ size: Number.POSITIVE_INFINITY, concurrency: 1, clock: new ManualClock() });
    const gate = deferred();
    const first = valve.run(() => gate.promise);
    const keep = track(valve.run(() => 'kept'));
    for (let i = 0; i < 10_000; i++) {
      const ac = new AbortController();
      const p = valve.run(() => i, { signal: ac.signal });
      p.catch(() => {});
      ac.abort();
    }
    // biome-ignore lint/complexity/useLiteralKeys: reading a private field in a test
    expect((valve as unknown as { queue: { capacityUsed: number } })['queue'].capacityUsed).toBeLessThan(200);
    gate.resolve();
    await first;
    await flush();
    expect(keep.value).toBe('kept');
    valve.close();
  });
});

describe('leaseMs', () => {
  it('reclaims a permit not released in time, counts it, and ignores a late done()', async () => {
    const clock = new ManualClock();
    const valve = new SafetyValve({ size: 10, concurrency: 1, leaseMs: 1000, clock });
    const lost = await valve.ask();
    const next = track(valve.run(() => 'next'));
    await clock.advanceAsync(999);
    expect(next.state).toBe('pending');
    expect(clock.refedTimers).toBe(0); // a lease does not keep the process alive
    await clock.advanceAsync(1);
    expect(next.value).toBe('next');
    expect(valve.stats()).toMatchObject({ reclaimed: 1, running: 0 });
    expect(lost.released).toBe(true);
    lost.done();
    expect(valve.stats()).toMatchObject({ running: 0, completed: 1, failed: 1 });
    valve.close();
  });

  it('reclaims the slot of a run() whose job hangs; the caller still gets its result later', async () => {
    const clock = new ManualClock();
    const valve = new SafetyValve({ size: 10, concurrency: 1, leaseMs: 50, clock });
    const gate = deferred<string>();
    const hung = track(valve.run(() => gate.promise));
    const next = track(valve.run(() => 'next'));
    await clock.advanceAsync(50);
    expect(next.value).toBe('next');
    gate.resolve('late');
    await flush();
    expect(hung.value).toBe('late');
    expect(valve.stats()).toMatchObject({ reclaimed: 1, running: 0, completed: 1, failed: 1 });
    valve.close();
  });
});

describe('close()', () => {
  it('rejects waiters with shutdown, stops timers, refuses new work, lets running jobs finish', async () => {
    const clock = new ManualClock();
    const valve = new SafetyValve({ hz: 100, rate: 1, tokenLimit: 1, size: 10, concurrency: 5, clock });
    const log: string[] = [];
    const a = gated(log, 'a');
    const pa = track(valve.run(a.fn));
    const b = track(valve.run(() => 'b')); // waits for a token
    expect(clock.refedTimers).toBeGreaterThan(0);
    valve.close();
    await flush();
    expect(b.error).toMatchObject({ reason: 'shutdown', code: 'ERR_VALVE_CLOSED' });
    expect(clock.pendingTimers).toBe(0);
    await expect(valve.run(() => 1)).rejects.toMatchObject({ reason: 'shutdown' });
    await expect(valve.ask()).rejects.toMatchObject({ reason: 'shutdown' });
    a.finish();
    await flush();
    expect(pa.value).toBe('a');
    expect(valve.stats()).toMatchObject({ running: 0, closed: true });
    valve.close(); // idempotent
  });
});

describe('timers', () => {
  it('an idle valve holds no ref()ed timer; jobs waiting for a refill do', async () => {
    const clock = new ManualClock();
    const valve = new SafetyValve({ hz: 100, rate: 1, tokenLimit: 1, size: 10, concurrency: 5, clock });
    await valve.run(() => 1);
    expect(clock.refedTimers).toBe(0); // the bucket refills on an unref'd timer
    const waiting = track(valve.run(() => 2));
    expect(clock.refedTimers).toBe(1);
    await clock.advanceAsync(100);
    expect(waiting.value).toBe(2);
    expect(clock.refedTimers).toBe(0);
    valve.close();
  });
});

describe('tryRun', () => {
  it("resolves with safetyvalve's tuple for refusals; the job's own errors still reject", async () => {
    const valve = new SafetyValve({ size: 0, concurrency: 1, clock: new ManualClock() });
    expect(await valve.tryRun(() => 'x')).toEqual({ ok: true, value: 'x' });
    const gate = deferred();
    const held = valve.run(() => gate.promise);
    const refused = await valve.tryRun(() => 'y');
    expect(refused).toMatchObject({ ok: false, reason: 'queue_full' });
    gate.resolve();
    await held;
    const boom = new Error('boom');
    await expect(
      valve.tryRun(() => {
        throw boom;
      }),
    ).rejects.toBe(boom);
    valve.close();
  });
});
