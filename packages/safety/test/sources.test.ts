// Pluggable sources: an adaptive Limit, a fake async (remote) source, metrics and onReject.
import {
  type ConcurrencySource,
  Emitter,
  type Limit,
  type LimitSample,
  ManualClock,
  MetricsRegistry,
  type Permit,
} from '@valve/core';
import { deferred, flush, track } from '@valve/testkit';
import { describe, expect, it } from 'vitest';
import { type RejectEvent, SafetyValve } from '../src/index.js';
import { gated } from './helpers.js';

/** A Limit the test moves by hand, recording the samples it is fed. */
class FakeLimit implements Limit {
  limit = 1;
  readonly samples: LimitSample[] = [];
  private readonly change$ = new Emitter<number>();
  readonly onChange = this.change$.event;
  onSample(sample: LimitSample): void {
    this.samples.push(sample);
  }
  set(n: number): void {
    this.limit = n;
    this.change$.emit(n);
  }
}

describe('adaptive concurrency', () => {
  it('follows a Limit: raising it starts waiters, and finished work feeds it samples', async () => {
    const clock = new ManualClock();
    const limit = new FakeLimit();
    const valve = new SafetyValve({ size: 10, concurrency: limit, clock });
    const log: string[] = [];
    const jobs = ['a', 'b', 'c'].map((n) => gated(log, n));
    const runs = jobs.map((j) => track(valve.run(j.fn)));
    expect(log).toEqual(['a']);
    expect(valve.stats()).toMatchObject({ limit: 1, configuration: { concurrency: 'adaptive' } });
    limit.set(3);
    expect(log).toEqual(['a', 'b', 'c']);
    await clock.advanceAsync(40);
    jobs[0]!.finish();
    jobs[1]!.gate.reject(new Error('upstream failed'));
    await flush();
    expect(limit.samples).toEqual([
      { rttMs: 40, inflight: 1, dropped: false },
      { rttMs: 40, inflight: 2, dropped: true },
    ]);
    jobs[2]!.finish();
    await flush();
    expect(runs[1]!.state).toBe('rejected');
    valve.close();
  });
});

/** A remote concurrency source: every acquire is answered later by the test. */
class FakeAsyncSource implements ConcurrencySource {
  readonly async = true;
  limit = 1;
  inUse = 0;
  private readonly available$ = new Emitter<void>();
  readonly onAvailable = this.available$.event;
  readonly pending: { resolve: (p: Permit) => void; reject: (e: unknown) => void; signal?: AbortSignal }[] = [];
  tryAcquire(): Permit | undefined {
    throw new Error('an async source is never asked synchronously');
  }
  acquire(signal?: AbortSignal): Promise<Permit> {
    return new Promise((resolve, reject) => {
      this.pending.push({ resolve, reject, signal });
      signal?.addEventListener('abort', () => reject(signal.reason), { once: true });
    });
  }
  grant(): void {
    const w = this.pending.shift()!;
    this.inUse++;
    let released = false;
    w.resolve({
      release: () => {
        if (released) return;
        released = true;
        this.inUse--;
      },
    });
  }
  fail(error: unknown): void {
    this.pending.shift()!.reject(error);
  }
}

describe('async concurrency source', () => {
  it('keeps the valve queue order and asks the source for the head with acquire(signal)', async () => {
    const source = new FakeAsyncSource();
    const valve = new SafetyValve({ size: 10, concurrencySource: source, clock: new ManualClock() });
    const log: string[] = [];
    const jobs = ['a', 'b', 'c'].map((n) => gated(log, n));
    const runs = jobs.map((j) => track(valve.run(j.fn)));
    await flush();
    expect(source.pending).toHaveLength(1); // one acquire at a time, for the head
    expect(log).toEqual([]);
    source.grant();
    await flush();
    expect(log).toEqual(['a']);
    expect(source.pending).toHaveLength(1);
    // An error from acquire rejects that job with the error unchanged.
    const redisDown = new Error('redis down');
    source.fail(redisDown);
    await flush();
    expect(runs[1]!.error).toBe(redisDown);
    source.grant();
    await flush();
    expect(log).toEqual(['a', 'c']);
    for (const j of jobs) j.finish();
    await flush();
    expect(source.inUse).toBe(0);
    expect(runs[2]!.value).toBe('c');
    valve.close();
  });

  it('gives up the pending acquire when the queue empties or the valve closes', async () => {
    const source = new FakeAsyncSource();
    const valve = new SafetyValve({ size: 10, concurrencySource: source, clock: new ManualClock() });
    const ac = new AbortController();
    const r = track(valve.run(() => 1, { signal: ac.signal }));
    await flush();
    expect(source.pending[0]!.signal!.aborted).toBe(false);
    ac.abort('bye');
    await flush();
    expect(r.error).toBe('bye');
    expect(source.pending[0]!.signal!.aborted).toBe(true);
    const late = track(valve.run(() => 2));
    await flush();
    valve.close();
    await flush();
    expect(late.error).toMatchObject({ reason: 'shutdown' });
    expect(source.pending.at(-1)!.signal!.aborted).toBe(true);
  });
});

describe('metrics and onReject', () => {
  it('counts admitted, rejected by reason, queue length, running, tokens, limit and sojourn', async () => {
    const clock = new ManualClock();
    const metrics = new MetricsRegistry();
    const events: RejectEvent[] = [];
    const seen: RejectEvent[] = [];
    const valve = new SafetyValve({
      name: 'pg_q',
      tokenLimit: 5,
      rate: 1,
      size: 1,
      concurrency: 1,
      clock,
      metrics,
      onReject: (e) => events.push(e),
    });
    const sub = valve.onReject((e) => seen.push(e));
    const gate = deferred();
    const first = valve.run(() => gate.promise);
    const second = valve.run(() => 2);
    await expect(valve.run(() => 3)).rejects.toMatchObject({ reason: 'queue_full' });
    const text = metrics.toPrometheus();
    expect(text).toContain('valve_safety_queued_jobs{valve="pg_q"} 1');
    expect(text).toContain('valve_safety_running_jobs{valve="pg_q"} 1');
    expect(text).toContain('valve_safety_tokens{valve="pg_q"} 4');
    expect(text).toContain('valve_safety_limit_jobs{valve="pg_q"} 1');
    expect(text).toContain('valve_safety_rejected_total{reason="queue_full",valve="pg_q"} 1');
    await clock.advanceAsync(20);
    gate.resolve();
    await first;
    await second;
    const after = metrics.toPrometheus();
    expect(after).toContain('valve_safety_admitted_total{valve="pg_q"} 2');
    expect(after).toContain('valve_safety_sojourn_seconds_count{valve="pg_q"} 1');
    expect(after).toContain('valve_safety_sojourn_seconds_sum{valve="pg_q"} 0.02');
    expect(events).toEqual([{ valve: 'pg_q', reason: 'queue_full', waitedMs: 0 }]);
    expect(seen).toEqual(events);
    sub.dispose();
    valve.close();
  });
});
