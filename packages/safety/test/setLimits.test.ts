// Issue 17 item 5: limits changed at run time (p-queue#38, supercharge#46).
import { AimdLimit, ManualClock } from '@valve/core';
import { deferred, flush } from '@valve/testkit';
import { describe, expect, it } from 'vitest';
import { SafetyValve } from '../src/index.js';

describe('setLimits() (issue 17 item 5)', () => {
  it('raising concurrency starts waiters at once; lowering it lets running jobs finish', async () => {
    const valve = new SafetyValve({ size: 10, concurrency: 1, clock: new ManualClock() });
    const gates = [deferred(), deferred(), deferred(), deferred()];
    const started: number[] = [];
    const done = gates.map((g, i) =>
      valve.run(() => {
        started.push(i);
        return g.promise;
      }),
    );
    expect(started).toEqual([0]);
    valve.setLimits({ concurrency: 3 });
    expect(started).toEqual([0, 1, 2]); // synchronously, in arrival order
    valve.setLimits({ concurrency: 1 });
    expect(valve.stats()).toMatchObject({ running: 3, queued: 1, limit: 1 });
    gates[0]!.resolve();
    gates[1]!.resolve();
    await flush();
    expect(started).toEqual([0, 1, 2]); // 1 running, the cap is 1: job 3 waits
    gates[2]!.resolve();
    await flush();
    expect(started).toEqual([0, 1, 2, 3]);
    gates[3]!.resolve();
    await Promise.all(done);
    expect(valve.stats().configuration.concurrency).toBe(1);
  });

  it('the bucket keeps its tokens: clamped to a lowered tokenLimit, refilling to a raised one', async () => {
    const clock = new ManualClock();
    const valve = new SafetyValve({ hz: 100, rate: 1, tokenLimit: 4, size: 0, concurrency: 10, clock });
    await valve.run(() => 1);
    expect(valve.stats().tokens).toBe(3);
    valve.setLimits({ tokenLimit: 2 });
    expect(valve.stats().tokens).toBe(2);
    valve.setLimits({ tokenLimit: 6, rate: 2 });
    expect(valve.stats().tokens).toBe(2); // no token appears from a raised limit
    expect(valve.stats().configuration).toMatchObject({ tokenLimit: 6, rate: 2, hz: 100 });
    await clock.advanceAsync(100);
    expect(valve.stats().tokens).toBe(4);
    await clock.advanceAsync(100);
    expect(valve.stats().tokens).toBe(6);
    await clock.advanceAsync(1000);
    expect(valve.stats().tokens).toBe(6);
    await valve.close();
  });

  it('a lowered size drops no waiting job; newcomers are refused until the line is shorter', async () => {
    const valve = new SafetyValve({ size: 3, concurrency: 1, clock: new ManualClock() });
    const gate = deferred();
    const first = valve.run(() => gate.promise);
    const waiting = [valve.run(() => 'a'), valve.run(() => 'b'), valve.run(() => 'c')];
    valve.setLimits({ size: 1 });
    await expect(valve.run(() => 'd')).rejects.toMatchObject({ reason: 'queue_full' });
    expect(valve.stats().queued).toBe(3);
    gate.resolve();
    await first;
    expect(await Promise.all(waiting)).toEqual(['a', 'b', 'c']);
    valve.setLimits({ size: 2 });
    expect(valve.stats().configuration.size).toBe(2);
  });

  it('deadlineMs applies to jobs queued from then on', async () => {
    const clock = new ManualClock();
    const valve = new SafetyValve({ size: 5, concurrency: 1, deadlineMs: 100, clock });
    const gate = deferred();
    const first = valve.run(() => gate.promise);
    const old = valve.run(() => 'old').catch((e: { reason: string }) => e.reason);
    valve.setLimits({ deadlineMs: 10 });
    const late = valve.run(() => 'late').catch((e: { reason: string }) => e.reason);
    await clock.advanceAsync(10);
    expect(await late).toBe('deadline');
    await clock.advanceAsync(50);
    gate.resolve();
    await first;
    expect(await old).toBe('old');
  });

  it('refuses limits it does not own or bad values, changing nothing', () => {
    const clock = new ManualClock();
    const noBucket = new SafetyValve({ size: 0, concurrency: 2, clock });
    expect(() => noBucket.setLimits({ rate: 5 })).toThrow(/has no built-in token bucket/);
    const adaptive = new SafetyValve({ size: 0, concurrency: new AimdLimit({ initialLimit: 2 }), clock });
    expect(() => adaptive.setLimits({ concurrency: 5 })).toThrow(/no fixed concurrency cap/);
    const valve = new SafetyValve({ size: 1, concurrency: 2, tokenLimit: 3, clock });
    expect(() => valve.setLimits({ concurrency: 0 })).toThrow('concurrency must be an integer or Infinity >= 1, got 0');
    expect(() => valve.setLimits({ size: -1 })).toThrow('size must be an integer or Infinity >= 0, got -1');
    expect(() => valve.setLimits({ tokenLimit: 1.5 })).toThrow(RangeError);
    expect(() => valve.setLimits({ deadlineMs: -1 })).toThrow(/deadlineMs/);
    expect(() => valve.setLimits({ hz: 5 } as never)).toThrow(/hz/);
    expect(() => valve.setLimits({ size: 5, concurrency: -1 })).toThrow(/concurrency/);
    expect(valve.stats().configuration).toMatchObject({ size: 1, concurrency: 2, tokenLimit: 3 });
    valve.setLimits({ concurrency: Number.POSITIVE_INFINITY });
    expect(valve.stats().limit).toBe(Number.POSITIVE_INFINITY);
  });
});
