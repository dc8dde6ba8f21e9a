/**
 * Review of issue 4 (P2): a flush that never settled held its items, `drain()` and `stop()`
 * forever, and the ref'd keep-alive kept the process alive for good. `flushTimeoutMs` (default
 * 30 s) bounds each attempt: the `signal` passed to `flush` aborts with a `TimeoutError`, the
 * attempt fails (retried, then dead-lettered), and a late answer from it is ignored.
 */
import { isValveError } from '@valve/core';
import { deferred, type Deferred, flush as settle, track } from '@valve/testkit';
import { describe, expect, it } from 'vitest';
import type { FlushError } from '../../src/FlushError.js';
import type { FlushResult } from '../../src/types.js';
import { balanced, setup } from '../helpers.js';

/** A sink that records each call's items, signal and gate; nothing settles unless the test says so. */
function hangingSink<T>() {
  const calls: { items: T[]; signal: AbortSignal; gate: Deferred<FlushResult<T> | undefined> }[] = [];
  const flush = (items: T[], context: { signal: AbortSignal }) => {
    const gate = deferred<FlushResult<T> | undefined>();
    calls.push({ items: [...items], signal: context.signal, gate });
    return gate.promise;
  };
  return { calls, flush };
}

describe('issue 4 review: a hung flush times out', () => {
  it('stop() settles after the default 30 s; the items are dead-lettered with a TimeoutError cause', async () => {
    const sink = hangingSink<number>();
    const { clock, controller, dead } = setup<number>(sink.flush);
    controller.offer(1);
    controller.offer(2);
    const drained = track(controller.drain());
    const stopped = track(controller.stop());
    await settle();
    expect(clock.refedTimers).toBeGreaterThan(0); // the items in flight keep the process alive...
    await clock.advanceAsync(29_999);
    expect(stopped.state).toBe('pending');
    expect(sink.calls[0]!.signal.aborted).toBe(false);
    await clock.advanceAsync(1);
    expect(stopped.state).toBe('resolved');
    expect(drained.value).toMatchObject({ flushed: 0, deadLettered: 2 });
    expect(clock.pendingTimers).toBe(0); // ...but not for good
    const signal = sink.calls[0]!.signal;
    expect(signal.aborted).toBe(true);
    expect(isValveError(signal.reason, 'ERR_VALVE_TIMEOUT')).toBe(true);
    expect(dead.flatMap((d) => d.items)).toEqual([1, 2]);
    const error = dead[0]!.error as FlushError<number>;
    expect(error.cause).toBe(signal.reason);
    expect(error.message).toBe(
      'flush failed for 2 item(s): flush of 2 item(s) did not settle within 30000 ms (flushTimeoutMs)',
    );
    expect(controller.stats()).toMatchObject({ flushed: 0, deadLettered: 2, inFlight: 0, flushFailures: 1 });
    expect(balanced(controller)).toBe(true);
  });

  it('a timed-out attempt is retried, and its late resolution is never counted', async () => {
    const sink = hangingSink<number>();
    const { clock, controller, dead } = setup<number>(sink.flush, {
      flushTimeoutMs: 100,
      retry: { retries: 1, minTimeout: 10 },
    });
    controller.offer(1);
    controller.offer(2);
    const drained = track(controller.drain());
    await clock.advanceAsync(100);
    expect(sink.calls[0]!.signal.aborted).toBe(true);
    await clock.advanceAsync(10); // backoff
    expect(sink.calls).toHaveLength(2);
    expect(sink.calls[1]!.items).toEqual([1, 2]);
    expect(sink.calls[1]!.signal.aborted).toBe(false);
    sink.calls[1]!.gate.resolve(undefined);
    await settle();
    expect(drained.value).toMatchObject({ flushed: 2, deadLettered: 0 });
    // The first attempt answers at last: ignored.
    sink.calls[0]!.gate.resolve(undefined);
    await settle();
    expect(controller.stats()).toMatchObject({ accepted: 2, flushed: 2, deadLettered: 0, inFlight: 0 });
    expect(dead).toEqual([]);
    expect(balanced(controller)).toBe(true);
    expect(clock.pendingTimers).toBe(0);
  });

  it('a late rejection or partial failure of a timed-out attempt is ignored too', async () => {
    const sink = hangingSink<number>();
    const { clock, controller, dead } = setup<number>(sink.flush, { flushTimeoutMs: 50 });
    controller.offer(1);
    controller.offer(2);
    controller.offer(3);
    const drained = track(controller.drain());
    await clock.advanceAsync(50);
    expect(drained.value).toMatchObject({ flushed: 0, deadLettered: 3 });
    sink.calls[0]!.gate.resolve({ success: 2, failed: 1, errors: [], failedItems: [1] });
    await settle();
    expect(controller.stats()).toMatchObject({ flushed: 0, deadLettered: 3, flushFailures: 1 });
    expect(dead).toHaveLength(1);
    expect(balanced(controller)).toBe(true);
  });

  it('a flush that settles in time clears its timer and never sees an abort', async () => {
    const sink = hangingSink<number>();
    const { clock, controller } = setup<number>(sink.flush, { flushTimeoutMs: 100 });
    controller.offer(1);
    const drained = track(controller.drain());
    await clock.advanceAsync(99);
    sink.calls[0]!.gate.resolve(undefined);
    await settle();
    expect(drained.value).toMatchObject({ flushed: 1 });
    expect(clock.pendingTimers).toBe(0);
    await clock.advanceAsync(1000);
    expect(sink.calls[0]!.signal.aborted).toBe(false);
  });

  it('a sync throw from flush still fails the attempt at once', async () => {
    const { controller, dead } = setup<number>(
      () => {
        throw new Error('sync');
      },
      { flushTimeoutMs: 100 },
    );
    controller.offer(1);
    expect(await controller.drain()).toMatchObject({ deadLettered: 1 });
    expect((dead[0]!.error as FlushError<number>).message).toBe('flush failed for 1 item(s): sync');
  });

  it('flushTimeoutMs: Infinity waits as long as the flush takes (no timer, the signal never aborts)', async () => {
    const sink = hangingSink<number>();
    const { clock, controller } = setup<number>(sink.flush, { flushTimeoutMs: Number.POSITIVE_INFINITY });
    controller.offer(1);
    const drained = track(controller.drain());
    await settle();
    expect(clock.pendingTimers).toBe(1); // only drain()'s keep-alive
    await clock.advanceAsync(10 ** 9);
    expect(drained.state).toBe('pending');
    expect(sink.calls[0]!.signal.aborted).toBe(false);
    sink.calls[0]!.gate.resolve(undefined);
    await settle();
    expect(drained.value).toMatchObject({ flushed: 1 });
  });
});
