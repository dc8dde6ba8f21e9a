import { ClosedError, isValveError, ManualClock, MetricsRegistry } from '@valve/core';
import { flush as settle, track } from '@valve/testkit';
import { describe, expect, it } from 'vitest';
import { BackpressureController } from '../src/BackpressureController.js';
import type { StateChange } from '../src/types.js';
import { balanced, gatedSink, recordingSink, setup } from './helpers.js';

describe('BackpressureController: flushing', () => {
  it('flushes a full batch at once, without waiting for the timer', async () => {
    const sink = recordingSink<number>();
    const { controller } = setup(sink.flush, { batchSize: 3 });
    controller.start();
    for (let i = 0; i < 3; i++) controller.offer(i);
    await settle();
    expect(sink.batches).toEqual([[0, 1, 2]]);
    expect(controller.stats()).toMatchObject({ accepted: 3, flushed: 3, bufferSize: 0, inFlight: 0 });
  });

  it('flushes a partial batch after it lingered for the interval (unref-free: the timer is ref d only while items wait)', async () => {
    const sink = recordingSink<number>();
    const { clock, controller } = setup(sink.flush, { batchSize: 10, minFlushIntervalMs: 100 });
    controller.start();
    expect(clock.pendingTimers).toBe(0); // idle: no timer at all
    controller.offer(1);
    expect(clock.refedTimers).toBe(1);
    await clock.advanceAsync(99);
    expect(sink.batches).toEqual([]);
    await clock.advanceAsync(1);
    expect(sink.batches).toEqual([[1]]);
    expect(clock.pendingTimers).toBe(0);
  });

  it('buffers before start() and flushes nothing until then', async () => {
    const sink = recordingSink<number>();
    const { clock, controller } = setup(sink.flush, { batchSize: 2 });
    controller.offer(1);
    controller.offer(2);
    controller.offer(3);
    await clock.advanceAsync(1000);
    expect(sink.batches).toEqual([]);
    controller.start();
    await settle();
    expect(sink.batches).toEqual([[1, 2], [3]]);
  });

  it('runs one flush at a time; items pushed during a flush form the next batch at once', async () => {
    const sink = gatedSink<number>();
    const { controller } = setup(sink.flush, { batchSize: 2 });
    controller.start();
    controller.offer(1);
    controller.offer(2);
    controller.offer(3);
    controller.offer(4);
    controller.offer(5);
    expect(sink.calls.map((c) => c.items)).toEqual([[1, 2]]);
    sink.calls[0]!.gate.resolve(undefined);
    await settle();
    expect(sink.calls.map((c) => c.items)).toEqual([
      [1, 2],
      [3, 4],
    ]);
    sink.calls[1]!.gate.resolve(undefined);
    await settle();
    // The leftover partial batch goes right after, not one interval later.
    expect(sink.calls.map((c) => c.items)).toEqual([[1, 2], [3, 4], [5]]);
  });

  it('allows flushConcurrency flushes at once', () => {
    const sink = gatedSink<number>();
    const { controller } = setup(sink.flush, { batchSize: 1, flushConcurrency: 2 });
    controller.start();
    for (let i = 0; i < 4; i++) controller.offer(i);
    expect(sink.calls).toHaveLength(2);
    expect(controller.stats()).toMatchObject({ inFlight: 2, bufferSize: 2 });
  });

  it('adapts the idle interval to the flush latency measured on the clock', async () => {
    const sink = gatedSink<number>();
    const { clock, controller } = setup(sink.flush, {
      batchSize: 1,
      minFlushIntervalMs: 100,
      maxFlushIntervalMs: 1000,
      targetLatencyMs: 100,
    });
    controller.start();
    controller.offer(1);
    await clock.advanceAsync(200);
    sink.calls[0]!.gate.resolve(undefined);
    await settle();
    expect(controller.stats()).toMatchObject({ lastFlushLatencyMs: 200, flushIntervalMs: 150 });
  });

  it('retries with the retry option and dead-letters what still fails', async () => {
    let attempts = 0;
    const { clock, controller, dead } = setup<number>(
      async () => {
        attempts++;
        throw new Error('sink down');
      },
      { batchSize: 2, retry: { retries: 2, minTimeout: 100 } },
    );
    controller.start();
    controller.offer(1);
    controller.offer(2);
    await settle();
    expect(attempts).toBe(1);
    await clock.advanceAsync(100);
    expect(attempts).toBe(2);
    await clock.advanceAsync(200);
    expect(attempts).toBe(3);
    expect(dead).toHaveLength(1);
    expect(dead[0]!.items).toEqual([1, 2]);
    expect(isValveError(dead[0]!.error, 'ERR_VALVE_FLUSH_FAILED')).toBe(true);
    expect(controller.stats()).toMatchObject({ deadLettered: 2, flushFailures: 3, flushed: 0, inFlight: 0 });
    expect(balanced(controller)).toBe(true);
  });
});

describe('BackpressureController: strategies', () => {
  it('drop_oldest evicts in O(1) and reports the evicted item', () => {
    const { controller, drops } = setup(recordingSink<number>().flush, { maxBufferSize: 2 });
    expect(controller.offer(1)).toBe(true);
    expect(controller.offer(2)).toBe(true);
    expect(controller.offer(3)).toBe(true);
    expect(drops).toEqual([{ items: [1], reason: 'evicted' }]);
    expect(controller.stats()).toMatchObject({ accepted: 3, dropped: 1, refused: 0, bufferSize: 2 });
    expect(balanced(controller)).toBe(true);
  });

  it('drop_newest refuses into a full buffer and reports it', async () => {
    const { controller, drops } = setup(recordingSink<number>().flush, { maxBufferSize: 1, strategy: 'drop_newest' });
    expect(await controller.push(1)).toBe(true);
    expect(await controller.push(2)).toBe(false);
    expect(drops).toEqual([{ items: [2], reason: 'queue_full' }]);
    expect(controller.stats()).toMatchObject({ accepted: 1, refused: 1, dropped: 0 });
  });

  it('sample keeps one in sampleRate offers above normal', () => {
    const { controller } = setup(recordingSink<number>().flush, {
      maxBufferSize: 1000,
      strategy: 'sample',
      sampleRate: 10,
      lowWatermark: 0.001,
      highWatermark: 0.5,
    });
    let kept = 0;
    for (let i = 0; i < 1000; i++) if (controller.offer(i)) kept++;
    // The first item is accepted at normal, then one in ten of the remaining 999 offers.
    expect(kept).toBe(1 + 100);
    expect(controller.stats().droppedByReason.sampled).toBe(899);
  });

  it('block: a push waits in FIFO order and is handed space when a flush takes a batch', async () => {
    const sink = gatedSink<number>();
    const { controller } = setup(sink.flush, { maxBufferSize: 2, batchSize: 1, strategy: 'block' });
    await controller.push(1);
    await controller.push(2);
    const p3 = track(controller.push(3));
    const p4 = track(controller.push(4));
    expect(controller.offer(5)).toBe(false); // offer cannot wait, and may not barge
    await settle();
    expect(p3.state).toBe('pending');
    controller.start(); // takes [1]: the slot goes to 3, not to anyone later
    await settle();
    expect(p3.value).toBe(true);
    expect(p4.state).toBe('pending');
    sink.calls[0]!.gate.resolve(undefined);
    await settle();
    expect(p4.value).toBe(true);
    expect(sink.calls.map((c) => c.items)).toEqual([[1], [2]]);
  });

  it('block: a push gives up after maxBlockTimeMs on the clock and is reported as timeout', async () => {
    const { clock, controller, drops } = setup(recordingSink<number>().flush, {
      maxBufferSize: 1,
      strategy: 'block',
      maxBlockTimeMs: 50,
    });
    controller.offer(1);
    const p = track(controller.push(2));
    expect(clock.refedTimers).toBe(1);
    await clock.advanceAsync(49);
    expect(p.state).toBe('pending');
    await clock.advanceAsync(1);
    expect(p.value).toBe(false);
    expect(drops).toEqual([{ items: [2], reason: 'timeout' }]);
    expect(clock.pendingTimers).toBe(0);
  });

  it('block: an aborted push rejects with signal.reason and is not a drop', async () => {
    const { controller, drops } = setup(recordingSink<number>().flush, { maxBufferSize: 1, strategy: 'block' });
    controller.offer(1);
    const ac = new AbortController();
    const p = track(controller.push(2, { signal: ac.signal }));
    const reason = new Error('client went away');
    ac.abort(reason);
    await settle();
    expect(p.state).toBe('rejected');
    expect(p.error).toBe(reason);
    expect(drops).toEqual([]);
    expect(controller.stats()).toMatchObject({ refused: 1, blockedPushes: 0 });
    const already = track(controller.push(3, { signal: ac.signal }));
    await settle();
    expect(already.error).toBe(reason);
  });

  it('byte budget: sizeOf makes the budget bytes, and drop_oldest evicts as many as needed', () => {
    const { controller, drops } = setup<string>(recordingSink<string>().flush, {
      sizeOf: (s) => s.length,
      maxBufferBytes: 10,
    });
    controller.offer('aaaa');
    controller.offer('bbbb');
    expect(controller.stats()).toMatchObject({ bufferBytes: 8, bufferUtilization: 0.8, state: 'critical' });
    controller.offer('cccccccc');
    expect(drops).toEqual([{ items: ['aaaa', 'bbbb'], reason: 'evicted' }]);
    expect(controller.offer('x'.repeat(11))).toBe(false);
    expect(drops.at(-1)).toEqual({ items: ['x'.repeat(11)], reason: 'queue_full' });
    expect(balanced(controller)).toBe(true);
  });
});

describe('BackpressureController: states and events', () => {
  it('reports state changes through the levels and onPressureChange', () => {
    const { controller } = setup(recordingSink<number>().flush, { maxBufferSize: 10, strategy: 'drop_newest' });
    const changes: StateChange[] = [];
    const pressure: boolean[] = [];
    controller.onStateChange((c) => changes.push(c));
    controller.onPressureChange((p) => pressure.push(p));
    for (let i = 0; i < 10; i++) controller.offer(i);
    expect(changes).toEqual([
      { from: 'normal', to: 'elevated' },
      { from: 'elevated', to: 'critical' },
      { from: 'critical', to: 'blocked' },
    ]);
    expect(pressure).toEqual([true]);
  });

  it('onDrop() listeners see drops with whether the item had been accepted; dispose stops them', () => {
    const { controller } = setup(recordingSink<number>().flush, { maxBufferSize: 1 });
    const seen: unknown[] = [];
    const sub = controller.onDrop((e) => seen.push(e));
    controller.offer(1);
    controller.offer(2);
    sub.dispose();
    controller.offer(3);
    expect(seen).toEqual([{ items: [1], reason: 'evicted', accepted: true }]);
  });

  it('a throwing onDrop callback does not corrupt the controller', async () => {
    const errors: unknown[] = [];
    const onError = (e: unknown) => errors.push(e);
    process.on('uncaughtException', onError);
    try {
      const c = new BackpressureController<number>(async () => {}, {
        clock: new ManualClock(),
        maxBufferSize: 1,
        onDeadLetter: () => {},
        onDrop: () => {
          throw new Error('listener bug');
        },
      });
      c.offer(1);
      expect(c.offer(2)).toBe(true);
      expect(balanced(c)).toBe(true);
      await settle();
    } finally {
      process.off('uncaughtException', onError);
    }
    expect(errors).toHaveLength(1);
  });

  it('exports metrics to a registry with the valve label', async () => {
    const metrics = new MetricsRegistry();
    const sink = recordingSink<number>();
    const { controller } = setup(sink.flush, { metrics, name: 'events', batchSize: 2, maxBufferSize: 4 });
    controller.start();
    for (let i = 0; i < 3; i++) controller.offer(i);
    await settle();
    const text = metrics.toPrometheus();
    expect(text).toContain('valve_backpressure_accepted_total{valve="events"} 3');
    // [0, 1] flushed on size; 2 arrived during that flush and went right after it.
    expect(text).toContain('valve_backpressure_flushed_total{valve="events"} 3');
    expect(text).toContain('valve_backpressure_buffer_items{valve="events"} 0');
    expect(text).toContain('valve_backpressure_dropped_total{reason="evicted",valve="events"} 0');
    expect(text).toContain('valve_backpressure_flush_duration_seconds_count{valve="events"} 2');
  });

  it('getMetrics() is stats()', () => {
    const { controller } = setup(recordingSink<number>().flush);
    controller.offer(1);
    expect(controller.getMetrics()).toEqual(controller.stats());
  });
});

describe('BackpressureController: drain and stop', () => {
  it('drain() flushes everything in batches, resolves a summary, and leaves the draining state', async () => {
    const sink = recordingSink<number>();
    const { controller } = setup(sink.flush, { batchSize: 2, maxBufferSize: 10 });
    const states: string[] = [];
    controller.onStateChange((c) => states.push(c.to));
    for (let i = 0; i < 5; i++) controller.offer(i);
    const summary = await controller.drain();
    expect(sink.batches).toEqual([[0, 1], [2, 3], [4]]);
    expect(summary).toEqual({ flushed: 5, deadLettered: 0, dropped: 0, durationMs: 0 });
    expect(controller.state).toBe('normal');
    expect(states).toEqual(['elevated', 'draining', 'normal']);
  });

  it('drain() keeps the process alive with one ref d timer while it waits, and none after', async () => {
    const sink = gatedSink<number>();
    const { clock, controller } = setup(sink.flush, { flushTimeoutMs: Number.POSITIVE_INFINITY });
    controller.offer(1);
    const d = track(controller.drain());
    await settle();
    expect(clock.refedTimers).toBe(1);
    sink.calls[0]!.gate.resolve(undefined);
    await settle();
    expect(d.state).toBe('resolved');
    expect(clock.pendingTimers).toBe(0);
  });

  it('stop() waits for the flush in flight, rejects blocked pushes, drops the rest as shutdown', async () => {
    const sink = gatedSink<number>();
    const { controller, drops } = setup(sink.flush, { batchSize: 1, maxBufferSize: 2, strategy: 'block' });
    controller.start();
    await controller.push(1); // in flight
    await controller.push(2);
    await controller.push(3);
    const blocked = track(controller.push(4));
    const stopped = track(controller.stop());
    await settle();
    expect(blocked.state).toBe('rejected');
    expect(isValveError(blocked.error, 'ERR_VALVE_CLOSED')).toBe(true);
    expect(stopped.state).toBe('pending');
    sink.calls[0]!.gate.resolve(undefined);
    await settle();
    expect(stopped.state).toBe('resolved');
    expect(sink.calls).toHaveLength(1);
    expect(drops).toEqual([
      { items: [4], reason: 'shutdown' },
      { items: [2, 3], reason: 'shutdown' },
    ]);
    expect(controller.stats()).toMatchObject({ accepted: 3, flushed: 1, dropped: 2, refused: 1 });
    expect(balanced(controller)).toBe(true);
  });

  it('stop({ drain: true }) flushes everything first; later pushes reject with ClosedError', async () => {
    const sink = recordingSink<number>();
    const { controller, drops } = setup(sink.flush, { batchSize: 2 });
    controller.start();
    controller.offer(1);
    await controller.stop({ drain: true });
    expect(sink.written()).toEqual([1]);
    await expect(controller.push(2)).rejects.toBeInstanceOf(ClosedError);
    expect(controller.offer(3)).toBe(false);
    expect(drops).toEqual([
      { items: [2], reason: 'shutdown' },
      { items: [3], reason: 'shutdown' },
    ]);
    expect(() => controller.start()).toThrow(ClosedError);
    await controller.stop(); // idempotent
  });

  it('consume() pushes an async iterable, slowed down by block', async () => {
    const sink = recordingSink<number>();
    const { controller } = setup(sink.flush, { batchSize: 2, maxBufferSize: 2, strategy: 'block' });
    controller.start();
    async function* source() {
      for (let i = 0; i < 7; i++) yield i;
    }
    const result = await controller.consume(source());
    await controller.drain();
    expect(result).toEqual({ accepted: 7, rejected: 0 });
    expect(sink.written()).toEqual([0, 1, 2, 3, 4, 5, 6]);
  });
});
