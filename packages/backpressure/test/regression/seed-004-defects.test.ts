/**
 * One test per defect of the seed controller (shared/seeds/004, "Anti-patterns" in STYLE.md).
 */
import { ManualClock } from '@valve/core';
import { flush as settle, track } from '@valve/testkit';
import { afterEach, describe, expect, expectTypeOf, it, vi } from 'vitest';
import { BackpressureController } from '../../src/BackpressureController.js';
import type { BackpressureStats } from '../../src/types.js';
import { gatedSink, recordingSink, setup } from '../helpers.js';

afterEach(() => {
  vi.restoreAllMocks();
});

describe('seed 004 defects, fixed', () => {
  it('a thrown flush is not logged and lost: its items reach onDeadLetter and drain() reports them', async () => {
    const consoleSpies = (['error', 'warn', 'log', 'info', 'debug'] as const).map((m) =>
      vi.spyOn(console, m).mockImplementation(() => {}),
    );
    const { controller, dead } = setup<number>(
      async () => {
        throw new Error('insert failed');
      },
      { batchSize: 2 },
    );
    controller.offer(1);
    controller.offer(2);
    controller.offer(3);
    const summary = await controller.drain();
    expect(summary).toMatchObject({ flushed: 0, deadLettered: 3 });
    expect(dead.flatMap((d) => d.items)).toEqual([1, 2, 3]);
    for (const spy of consoleSpies) expect(spy).not.toHaveBeenCalled();
  });

  it('a blocked push wakes when space frees, with no polling and no time passing', async () => {
    const sink = gatedSink<number>();
    const { clock, controller } = setup(sink.flush, { maxBufferSize: 1, batchSize: 1, strategy: 'block' });
    controller.offer(1);
    const p = track(controller.push(2));
    expect(clock.pendingTimers).toBe(1); // only its deadline: no 50 ms poll timer
    controller.start();
    await settle();
    expect(p.value).toBe(true);
    expect(clock.now()).toBe(0);
  });

  it('drop_oldest reports the evicted item (the seed dropped it silently with Array#shift)', () => {
    const { controller, drops } = setup(recordingSink<number>().flush, { maxBufferSize: 3 });
    for (let i = 0; i < 5; i++) controller.offer(i);
    expect(drops).toEqual([
      { items: [0], reason: 'evicted' },
      { items: [1], reason: 'evicted' },
    ]);
  });

  it('maxBlockTimeMs: 0 means do not wait (the seed turned 0 into 5 s)', async () => {
    const { controller, drops } = setup(recordingSink<number>().flush, {
      maxBufferSize: 1,
      strategy: 'block',
      maxBlockTimeMs: 0,
    });
    controller.offer(1);
    expect(await controller.push(2)).toBe(false);
    expect(drops).toEqual([{ items: [2], reason: 'timeout' }]);
  });

  it('config is validated (the seed spread it unchecked)', () => {
    const flush = async () => {};
    const onDeadLetter = () => {};
    expect(() => new BackpressureController(flush, { onDeadLetter, maxBufferSize: 0 })).toThrow(
      'maxBufferSize must be an integer >= 1, got 0',
    );
    expect(() => new BackpressureController(flush, { onDeadLetter, strategy: 'BLOCK' as never })).toThrow(TypeError);
  });

  it('DRAINING is not permanent: after drain() the state follows the fill again', async () => {
    const { controller } = setup(recordingSink<number>().flush, { maxBufferSize: 10, strategy: 'drop_newest' });
    await controller.drain();
    expect(controller.state).toBe('normal');
    for (let i = 0; i < 9; i++) controller.offer(i);
    expect(controller.state).toBe('critical');
  });

  it('SAMPLE samples above normal (the seed, counting accepted items, kept 0 of 1,000)', () => {
    const { controller } = setup(recordingSink<number>().flush, {
      maxBufferSize: 10_000,
      strategy: 'sample',
      sampleRate: 10,
      lowWatermark: 0,
      highWatermark: 0.9,
    });
    let kept = 0;
    for (let i = 0; i < 1000; i++) if (controller.offer(i)) kept++;
    expect(kept).toBe(100);
  });

  it('timers are not left ref d: an idle controller holds none, a busy one only while items wait', async () => {
    const sink = recordingSink<number>();
    const { clock, controller } = setup(sink.flush, { batchSize: 10 });
    controller.start();
    expect(clock.pendingTimers).toBe(0);
    controller.offer(1);
    expect(clock.refedTimers).toBe(1);
    await clock.advanceAsync(100);
    expect(sink.written()).toEqual([1]);
    expect(clock.pendingTimers).toBe(0);
  });

  it('stop() awaits the flush in flight', async () => {
    const sink = gatedSink<number>();
    const { controller } = setup(sink.flush, { batchSize: 1 });
    controller.start();
    controller.offer(1);
    const stopped = track(controller.stop());
    await settle();
    expect(stopped.state).toBe('pending');
    sink.calls[0]!.gate.resolve(undefined);
    await settle();
    expect(stopped.state).toBe('resolved');
    expect(controller.stats().flushed).toBe(1);
  });

  it('drain() and the timer flush never overlap', async () => {
    let running = 0;
    let most = 0;
    const sink = gatedSink<number>();
    const flush = (items: number[]) => {
      running++;
      most = Math.max(most, running);
      return sink.flush(items).finally(() => running--);
    };
    const { clock, controller } = setup(flush, { batchSize: 5 });
    controller.start();
    controller.offer(1);
    await clock.advanceAsync(100); // the timer flush starts
    controller.offer(2);
    const drained = track(controller.drain());
    await settle();
    expect(sink.calls).toHaveLength(1);
    sink.calls[0]!.gate.resolve(undefined);
    await settle();
    sink.calls[1]!.gate.resolve(undefined);
    await settle();
    expect(drained.state).toBe('resolved');
    expect(most).toBe(1);
  });

  it('latencies come from the injected clock, not Date.now()', async () => {
    const dateNow = vi.spyOn(Date, 'now');
    const sink = gatedSink<number>();
    const { clock, controller } = setup(sink.flush, { batchSize: 1 });
    controller.start();
    controller.offer(1);
    await clock.advanceAsync(42);
    sink.calls[0]!.gate.resolve(undefined);
    await settle();
    expect(controller.stats().lastFlushLatencyMs).toBe(42);
    expect(dateNow).not.toHaveBeenCalled();
  });

  it('getMetrics() is typed', () => {
    const c = new BackpressureController<number>(async () => {}, { onDeadLetter: () => {}, clock: new ManualClock() });
    expectTypeOf(c.getMetrics()).toEqualTypeOf<BackpressureStats>();
    expectTypeOf(c.getMetrics().state).toEqualTypeOf<'normal' | 'elevated' | 'critical' | 'blocked' | 'draining'>();
  });
});
