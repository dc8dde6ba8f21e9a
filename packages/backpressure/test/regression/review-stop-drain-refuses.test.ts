/**
 * Review (2026-11-23): `stop({ drain: true })` kept accepting pushes while it drained, although
 * `stop()` is documented to refuse new pushes: a producer that kept pushing could hold a
 * graceful stop open. Now every push after `stop()` is called is refused as `shutdown`, on the
 * full-buffer fast path too, while what was accepted before is still flushed.
 */
import { ClosedError } from '@valve/core';
import { flush as flushMicrotasks } from '@valve/testkit';
import { describe, expect, it } from 'vitest';
import { balanced, gatedSink, setup } from '../helpers.js';

describe('review: stop({ drain: true }) refuses pushes while it drains', () => {
  it.each(['drop_oldest', 'drop_newest', 'block', 'sample'] as const)('%s', async (strategy) => {
    const sink = gatedSink<number>();
    const { controller, drops } = setup(sink.flush, { strategy, maxBufferSize: 4, batchSize: 2 });
    controller.start();
    for (let i = 1; i <= 4; i++) expect(controller.offer(i)).toBe(true);
    const stopped = controller.stop({ drain: true });
    // The buffer is full: drop_oldest would evict on its fast path if it did not know of the stop.
    expect(controller.offer(5)).toBe(false);
    await expect(controller.push(6)).rejects.toBeInstanceOf(ClosedError);
    expect(drops).toEqual([
      { items: [5], reason: 'shutdown' },
      { items: [6], reason: 'shutdown' },
    ]);
    // What was accepted before the stop is still flushed.
    while (sink.calls.length > 0 || controller.stats().bufferSize > 0) {
      await flushMicrotasks();
      for (const call of sink.calls.splice(0)) call.gate.resolve(undefined);
      await flushMicrotasks();
    }
    await stopped;
    expect(controller.stats()).toMatchObject({ accepted: 4, flushed: 4, dropped: 0 });
    expect(balanced(controller)).toBe(true);
  });
});
