import { describe, expect, it } from 'vitest';
import { flush, track } from '@valve/testkit';
import {
  AimdLimit,
  ClosedError,
  type Limit,
  type LimitSample,
  LocalConcurrency,
  ManualClock,
} from '../../src/index.js';
import { Emitter } from '../../src/index.js';

/** A Limit the test sets by hand, recording the samples it receives. */
class ScriptedLimit implements Limit {
  limit: number;
  samples: LimitSample[] = [];
  private readonly change$ = new Emitter<number>();
  readonly onChange = this.change$.event;
  constructor(limit: number) {
    this.limit = limit;
  }
  onSample(sample: LimitSample): void {
    this.samples.push(sample);
  }
  set(limit: number): void {
    this.limit = limit;
    this.change$.emit(limit);
  }
}

describe('LocalConcurrency', () => {
  it('caps permits at a fixed limit; release is idempotent', () => {
    const c = new LocalConcurrency({ limit: 2 });
    const a = c.tryAcquire()!;
    const b = c.tryAcquire()!;
    expect(c.tryAcquire()).toBeUndefined();
    expect(c.inUse).toBe(2);
    a.release();
    a.release(); // a double release must not over-admit
    expect(c.inUse).toBe(1);
    expect(c.tryAcquire()).toBeDefined();
    expect(c.tryAcquire()).toBeUndefined();
    b.release();
  });

  it('acquire waits FIFO and is woken by a release; onAvailable fires', async () => {
    const c = new LocalConcurrency({ limit: 1 });
    let available = 0;
    c.onAvailable(() => available++);
    const held = await c.acquire();
    const first = track(c.acquire());
    const second = track(c.acquire());
    held.release();
    await flush();
    expect([first.state, second.state]).toEqual(['resolved', 'pending']);
    expect(available).toBe(0); // the freed slot went straight to the waiter
    first.value!.release();
    await flush();
    expect(second.state).toBe('resolved');
    second.value!.release();
    expect(available).toBe(1);
  });

  it('samples latency on the clock into an adaptive Limit, with in-flight count and drop', () => {
    const clock = new ManualClock();
    const limit = new ScriptedLimit(3);
    const c = new LocalConcurrency({ limit, clock });
    const a = c.tryAcquire()!;
    clock.advance(5);
    const b = c.tryAcquire()!;
    clock.advance(20);
    b.release({ dropped: true });
    a.release();
    b.release();
    expect(limit.samples).toEqual([
      { rttMs: 20, inflight: 2, dropped: true },
      { rttMs: 25, inflight: 1, dropped: false },
    ]);
  });

  it('follows the adaptive limit and wakes waiters when it rises', async () => {
    const limit = new ScriptedLimit(1);
    const c = new LocalConcurrency({ limit, clock: new ManualClock() });
    c.tryAcquire();
    const waiting = track(c.acquire());
    expect(c.limit).toBe(1);
    limit.set(2);
    await flush();
    expect(waiting.state).toBe('resolved');
    expect(c.inUse).toBe(2);
  });

  it('with AimdLimit: drops shrink the cap', () => {
    const limit = new AimdLimit({ initialLimit: 10, backoffRatio: 0.5 });
    const c = new LocalConcurrency({ limit, clock: new ManualClock() });
    c.tryAcquire()!.release({ dropped: true });
    expect(c.limit).toBe(5);
  });

  it('close() rejects waiters and further acquires, and unsubscribes from the limit', async () => {
    const limit = new ScriptedLimit(1);
    const c = new LocalConcurrency({ limit, clock: new ManualClock() });
    c.tryAcquire();
    const waiting = track(c.acquire());
    c.close();
    await flush();
    expect(waiting.error).toBeInstanceOf(ClosedError);
    await expect(c.acquire()).rejects.toBeInstanceOf(ClosedError);
    expect(c.tryAcquire()).toBeUndefined();
    limit.set(5);
    expect(c.inUse).toBe(1);
  });

  it('aborting acquire rejects with signal.reason', async () => {
    const c = new LocalConcurrency({ limit: 1 });
    c.tryAcquire();
    const reason = new Error('abort');
    await expect(c.acquire(AbortSignal.abort(reason))).rejects.toBe(reason);
  });

  it('tryTake()/give() count slots without permits, share the cap with tryAcquire and wake waiters', async () => {
    const c = new LocalConcurrency({ limit: 2 });
    let available = 0;
    c.onAvailable(() => available++);
    expect(c.tryTake()).toBe(true);
    const p = c.tryAcquire()!;
    expect(c.inUse).toBe(2);
    expect(c.tryTake()).toBe(false);
    expect(c.tryAcquire()).toBeUndefined();
    const waiting = track(c.acquire());
    c.give(); // the freed slot goes straight to the waiter
    await flush();
    expect(waiting.state).toBe('resolved');
    expect(c.inUse).toBe(2);
    expect(available).toBe(0);
    p.release();
    expect(available).toBe(1);
    waiting.value!.release();
    expect(c.inUse).toBe(0);
    expect(available).toBe(2);
  });

  it('give() without a slot taken throws instead of over-admitting', () => {
    const c = new LocalConcurrency({ limit: 1 });
    expect(() => c.give()).toThrow(new RangeError('give() without a slot taken: 0 in use'));
    expect(c.tryTake()).toBe(true);
    c.give();
    expect(() => c.give()).toThrow(RangeError);
    expect(c.inUse).toBe(0);
  });

  it('tryTake() refuses once closed; slots taken before close are still given back', () => {
    const c = new LocalConcurrency({ limit: 2 });
    expect(c.tryTake()).toBe(true);
    c.close();
    expect(c.tryTake()).toBe(false);
    c.give();
    expect(c.inUse).toBe(0);
  });

  it('tryTake() is refused with an adaptive limit (it needs a permit per job to sample)', () => {
    const c = new LocalConcurrency({ limit: new ScriptedLimit(2), clock: new ManualClock() });
    expect(() => c.tryTake()).toThrow(
      new TypeError('tryTake() needs a fixed limit: an adaptive Limit samples each permit, use tryAcquire()'),
    );
    expect(c.inUse).toBe(0);
  });

  it('validates limit', () => {
    expect(() => new LocalConcurrency({ limit: 0 })).toThrow(
      new RangeError('limit must be an integer or Infinity >= 1, got 0'),
    );
    expect(() => new LocalConcurrency({ limit: 'x' as never })).toThrow(
      new TypeError('limit must be an integer >= 1, Infinity or a Limit, got "x"'),
    );
    expect(new LocalConcurrency({ limit: Number.POSITIVE_INFINITY }).limit).toBe(Number.POSITIVE_INFINITY);
  });
});
