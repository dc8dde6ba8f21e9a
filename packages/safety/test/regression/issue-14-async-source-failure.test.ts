// Issue 14, the Valve contract's words: a job whose async source failed to grant it (its
// `acquire` rejected) never started and was counted nowhere: not `rejected`, not `admitted`, so
// `offered = rejected + queued + admitted` did not hold and `onReject` stayed silent. It is now
// `rejected` under `overload` (as in PromisePool) and still rejects with the source's error.
import { Emitter, ManualClock, type ConcurrencySource, type Permit, type RateSource } from '@valve/core';
import { flush, track } from '@valve/testkit';
import { describe, expect, it } from 'vitest';
import { type RejectEvent, SafetyValve } from '../../src/index.js';

class FailingConcurrency implements ConcurrencySource {
  readonly async = true;
  readonly limit = 1;
  readonly inUse = 0;
  private readonly available$ = new Emitter<void>();
  readonly onAvailable = this.available$.event;
  constructor(private readonly error: Error) {}
  tryAcquire(): Permit | undefined {
    throw new Error('an async source is never asked synchronously');
  }
  acquire(): Promise<Permit> {
    return Promise.reject(this.error);
  }
}

class FailingRate implements RateSource {
  readonly async = true;
  readonly available = 0;
  private readonly available$ = new Emitter<void>();
  readonly onAvailable = this.available$.event;
  constructor(private readonly error: Error) {}
  tryAcquire(): boolean {
    throw new Error('an async source is never asked synchronously');
  }
  acquire(): Promise<void> {
    return Promise.reject(this.error);
  }
  nextTokenInMs(): number {
    return 0;
  }
}

describe('issue 14: a job an async source failed to grant is rejected under overload', () => {
  it('concurrencySource: run() and ask() reject with the error, counted and announced once each', async () => {
    const down = new Error('redis down');
    const events: RejectEvent[] = [];
    const valve = new SafetyValve({
      name: 'src',
      size: 10,
      concurrencySource: new FailingConcurrency(down),
      clock: new ManualClock(),
      onReject: (e) => events.push(e),
    });
    let ran = 0;
    const run = track(valve.run(() => ran++));
    const ask = track(valve.ask());
    await flush();
    expect(run.error).toBe(down);
    expect(ask.error).toBe(down);
    expect(ran).toBe(0);
    const s = valve.stats();
    expect(s).toMatchObject({ admitted: 0, failed: 0, completed: 0, rejected: 2, queued: 0, running: 0 });
    expect(s.rejectedByReason.overload).toBe(2);
    expect(s.rejected + s.queued + s.admitted).toBe(2); // offered
    expect(events.map((e) => [e.valve, e.reason])).toEqual([
      ['src', 'overload'],
      ['src', 'overload'],
    ]);
    await valve.close();
  });

  it('rateSource: the same; tryRun() passes the source error through', async () => {
    const down = new Error('rate store down');
    const valve = new SafetyValve({
      size: 10,
      concurrency: 1,
      rateSource: new FailingRate(down),
      clock: new ManualClock(),
    });
    await expect(valve.run(() => 1)).rejects.toBe(down);
    await expect(valve.tryRun(() => 1)).rejects.toBe(down);
    const s = valve.stats();
    expect(s).toMatchObject({ admitted: 0, failed: 0, rejected: 2 });
    expect(s.rejectedByReason.overload).toBe(2);
    await valve.close();
  });
});
