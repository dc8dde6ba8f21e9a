// The valve with core's AimdLimit: slow work (beyond timeoutMs) shrinks the concurrency cap.
import { AimdLimit, ManualClock } from '@valve/core';
import { deferred, flush } from '@valve/testkit';
import { describe, expect, it } from 'vitest';
import { SafetyValve } from '../src/index.js';

describe('SafetyValve + AimdLimit', () => {
  it('backs off when work runs past timeoutMs, so fewer jobs run at once', async () => {
    const clock = new ManualClock();
    const limit = new AimdLimit({ initialLimit: 10, minLimit: 2, maxLimit: 10, backoffRatio: 0.5, timeoutMs: 50 });
    const valve = new SafetyValve({ size: 100, concurrency: limit, clock });
    expect(valve.stats().limit).toBe(10);
    const gate = deferred();
    const slow = Array.from({ length: 10 }, () => valve.run(() => gate.promise));
    await clock.advanceAsync(100); // every job runs 100 ms > timeoutMs
    gate.resolve();
    await Promise.all(slow);
    await flush();
    expect(valve.stats().limit).toBeLessThan(10);
    expect(valve.stats().limit).toBeGreaterThanOrEqual(2);
    valve.close();
  });
});
