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
import { balanced, gatedSink, setup } from '../helpers.js';

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

  it('without any drop listener the fast path still counts every eviction', () => {
    const c = new BackpressureController<number>(async () => {}, { onDeadLetter: () => {}, maxBufferSize: 2 });
    for (let i = 0; i < 100; i++) c.offer(i);
    expect(c.stats()).toMatchObject({ accepted: 100, dropped: 98, bufferSize: 2, droppedByReason: { evicted: 98 } });
    expect(balanced(c)).toBe(true);
  });
});
