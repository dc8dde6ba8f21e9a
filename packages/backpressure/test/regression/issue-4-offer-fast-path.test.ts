/**
 * Review of issue 4 (performance): `offer()` with drop_oldest and a full buffer did shift +
 * push + afterEnqueue + the drop bookkeeping, and re-synced timers on every item while a flush
 * was in flight. It now replaces the oldest item in place (`pushEvict`) and skips the
 * scheduling, which nothing it changes can affect. These tests pin that the shortcut keeps the
 * accounting, the metrics, the events and the scheduling exactly as the long path did.
 */
import { MetricsRegistry } from '@valve/core';
import { flush as settle } from '@valve/testkit';
import { describe, expect, it } from 'vitest';
import { BackpressureController } from '../../src/BackpressureController.js';
import { balanced, gatedSink, recordingSink, setup } from '../helpers.js';

describe('issue 4 review: drop_oldest offer() fast path', () => {
  it('evicting in place while a flush is in flight keeps stats, metrics and events exact', async () => {
    const metrics = new MetricsRegistry();
    const sink = gatedSink<number>();
    const { clock, controller, drops } = setup(sink.flush, { metrics, name: 'fp', batchSize: 2, maxBufferSize: 3 });
    const seen: unknown[] = [];
    controller.onDrop((e) => seen.push(e));
    controller.start();
    for (let i = 0; i < 2; i++) controller.offer(i); // a full batch: flushes at once
    await settle();
    expect(sink.calls.map((c) => c.items)).toEqual([[0, 1]]);
    for (let i = 2; i < 10; i++) expect(controller.offer(i)).toBe(true); // 3 fill, 5 evict in place
    expect(drops.flatMap((d) => d.items)).toEqual([2, 3, 4, 5, 6]);
    expect(seen).toHaveLength(5);
    expect(seen[0]).toEqual({ items: [2], reason: 'evicted', accepted: true });
    expect(controller.stats()).toMatchObject({
      state: 'blocked',
      bufferSize: 3,
      inFlight: 2,
      accepted: 10,
      dropped: 5,
      droppedByReason: { evicted: 5 },
    });
    expect(balanced(controller)).toBe(true);
    const text = metrics.toPrometheus();
    expect(text).toContain('valve_backpressure_accepted_total{valve="fp"} 10');
    expect(text).toContain('valve_backpressure_dropped_total{reason="evicted",valve="fp"} 5');
    // No linger timer while the only flush slot is busy; the backlog goes as soon as it frees.
    expect(clock.pendingTimers).toBe(1); // the flush timeout only
    sink.calls[0]!.gate.resolve(undefined);
    await settle();
    expect(sink.calls.map((c) => c.items)).toEqual([
      [0, 1],
      [7, 8],
    ]);
    sink.calls[1]!.gate.resolve(undefined);
    await settle();
    // Item 9 arrived during a flush, so it formed the next batch at once.
    expect(sink.calls.map((c) => c.items)).toEqual([[0, 1], [7, 8], [9]]);
    sink.calls[2]!.gate.resolve(undefined);
    await settle();
    expect(controller.stats()).toMatchObject({ flushed: 5, dropped: 5, bufferSize: 0, state: 'normal' });
    expect(clock.pendingTimers).toBe(0);
    // Idle again: a partial batch arms the linger timer and goes when it fires.
    controller.offer(10);
    expect(clock.pendingTimers).toBe(1);
    await clock.advanceAsync(controller.stats().flushIntervalMs);
    expect(sink.calls.at(-1)!.items).toEqual([10]);
    sink.calls.at(-1)!.gate.resolve(undefined);
    await settle();
    expect(balanced(controller)).toBe(true);
  });

  it('a full drop_oldest buffer stops evicting once stop() begins: offers are refused as shutdown', async () => {
    const sink = gatedSink<number>();
    const { controller, drops } = setup(sink.flush, { batchSize: 2, maxBufferSize: 2 });
    controller.start();
    controller.offer(0);
    controller.offer(1); // a full batch: in flight, held by the gate
    await settle();
    controller.offer(2);
    controller.offer(3); // the buffer is full again
    expect(controller.offer(4)).toBe(true); // evicts 2 in place
    const stopped = controller.stop(); // waits for the flush in flight, the buffer still full
    expect(controller.offer(5)).toBe(false);
    expect(drops).toEqual([
      { items: [2], reason: 'evicted' },
      { items: [5], reason: 'shutdown' },
    ]);
    expect(controller.stats()).toMatchObject({ accepted: 5, refused: 1, dropped: 1, bufferSize: 2 });
    sink.calls[0]!.gate.resolve(undefined);
    await stopped;
    expect(drops.at(-1)).toEqual({ items: [3, 4], reason: 'shutdown' });
    expect(controller.stats()).toMatchObject({
      accepted: 5,
      flushed: 2,
      dropped: 3,
      droppedByReason: { evicted: 1, shutdown: 3 },
    });
    expect(balanced(controller)).toBe(true);
  });

  it.each(['drop_newest', 'block'] as const)(
    '%s: offer() into a full buffer is refused as queue_full, and as shutdown once stop() begins',
    async (strategy) => {
      const sink = gatedSink<number>();
      const { controller, drops } = setup(sink.flush, { strategy, batchSize: 2, maxBufferSize: 2 });
      controller.start();
      controller.offer(0);
      controller.offer(1); // in flight, held by the gate
      await settle();
      controller.offer(2);
      controller.offer(3);
      expect(controller.offer(4)).toBe(false);
      const stopped = controller.stop();
      expect(controller.offer(5)).toBe(false);
      expect(drops).toEqual([
        { items: [4], reason: 'queue_full' },
        { items: [5], reason: 'shutdown' },
      ]);
      expect(controller.stats()).toMatchObject({ accepted: 4, refused: 2, droppedByReason: { queue_full: 1 } });
      sink.calls[0]!.gate.resolve(undefined);
      await stopped;
      expect(balanced(controller)).toBe(true);
    },
  );

  it('onDrop and onDrop() listeners get the same one-item array for an in-place eviction', () => {
    const { controller, drops } = setup(recordingSink<number>().flush, { maxBufferSize: 1 });
    const seen: { items: readonly number[] }[] = [];
    let fromOption: readonly number[] | undefined;
    const c = new BackpressureController<number>(async () => {}, {
      onDeadLetter: () => {},
      maxBufferSize: 1,
      onDrop: (items) => {
        fromOption = items;
      },
    });
    c.onDrop((e) => seen.push(e));
    c.offer(1);
    c.offer(2);
    expect(seen).toEqual([{ items: [1], reason: 'evicted', accepted: true }]);
    expect(seen[0]!.items).toBe(fromOption);
    controller.offer(1);
    controller.offer(2);
    expect(drops).toEqual([{ items: [1], reason: 'evicted' }]);
  });

  it('without any drop listener the fast path still counts every eviction', () => {
    const c = new BackpressureController<number>(async () => {}, { onDeadLetter: () => {}, maxBufferSize: 2 });
    for (let i = 0; i < 100; i++) c.offer(i);
    expect(c.stats()).toMatchObject({ accepted: 100, dropped: 98, bufferSize: 2, droppedByReason: { evicted: 98 } });
    expect(balanced(c)).toBe(true);
  });
});
