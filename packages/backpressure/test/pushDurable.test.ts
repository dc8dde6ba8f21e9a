/**
 * The durable acknowledgement mode (issue 16, item 3): `pushDurable()` resolves only once the
 * item's batch is written, and rejects with a typed error when the item is dead-lettered,
 * refused or dropped. The property test (accounting.property.test.ts) checks that every one
 * settles exactly once over random sequences; these pin each outcome.
 */
import { isValveError } from '@valve/core';
import { flush as settle, track } from '@valve/testkit';
import { describe, expect, it } from 'vitest';
import type { FlushError } from '../src/FlushError.js';
import { balanced, gatedSink, setup } from './helpers.js';

describe('pushDurable()', () => {
  it('resolves only once the batch holding the item is written', async () => {
    const sink = gatedSink<number>();
    const { controller, clock } = setup<number>(sink.flush, { batchSize: 2 });
    controller.start();
    const a = track(controller.pushDurable(1));
    const b = track(controller.pushDurable(2));
    await settle();
    expect(sink.calls).toHaveLength(1);
    expect([a.state, b.state]).toEqual(['pending', 'pending']); // accepted, not yet written
    sink.calls[0]!.gate.resolve(undefined);
    await settle();
    expect([a.state, b.state]).toEqual(['resolved', 'resolved']);
    expect(clock.pendingTimers).toBe(0);
  });

  it('a partial failure resolves the written items and retries the rest; a dead letter rejects with the FlushError', async () => {
    const sink = gatedSink<{ id: number }>();
    const { controller, dead } = setup<{ id: number }>(sink.flush, { batchSize: 3 });
    controller.start();
    const items = [{ id: 1 }, { id: 2 }, { id: 3 }];
    const [a, b, c] = items.map((item) => track(controller.pushDurable(item)));
    await settle();
    sink.calls[0]!.gate.resolve({ success: 2, failed: 1, errors: ['bad row'], failedItems: [items[1]!] });
    await settle();
    expect([a!.state, b!.state, c!.state]).toEqual(['resolved', 'rejected', 'resolved']);
    expect(isValveError(b!.error, 'ERR_VALVE_FLUSH_FAILED')).toBe(true);
    expect((b!.error as FlushError<{ id: number }>).items).toEqual([items[1]]);
    expect(dead[0]!.error).toBe(b!.error);
    expect(balanced(controller)).toBe(true);
  });

  it('equal items are acknowledged by position, not by value', async () => {
    const sink = gatedSink<number>();
    const { controller } = setup<number>(sink.flush, { batchSize: 3 });
    controller.start();
    controller.offer(7); // not durable
    const durable = track(controller.pushDurable(7));
    controller.offer(8);
    await settle();
    // The sink names one 7 as failed: the first one (the offered item) takes the failure.
    sink.calls[0]!.gate.resolve({ success: 2, failed: 1, errors: [], failedItems: [7] });
    await settle();
    expect(durable.state).toBe('resolved');
  });

  it('refusals reject with the reason as a ValveError: queue_full, timeout', async () => {
    const full = setup<number>(gatedSink<number>().flush, { maxBufferSize: 1, strategy: 'drop_newest' });
    full.controller.offer(1);
    await expect(full.controller.pushDurable(2)).rejects.toMatchObject({ code: 'ERR_VALVE_QUEUE_FULL' });
    const blocked = setup<number>(gatedSink<number>().flush, {
      maxBufferSize: 1,
      strategy: 'block',
      maxBlockTimeMs: 10,
    });
    blocked.controller.offer(1);
    const waiting = track(blocked.controller.pushDurable(2));
    await blocked.clock.advanceAsync(10);
    expect(waiting.state).toBe('rejected');
    expect(waiting.error).toMatchObject({ code: 'ERR_VALVE_TIMEOUT', reason: 'timeout' });
  });

  it('an evicted item rejects with DroppedError(evicted); stop() without drain rejects with ClosedError', async () => {
    const { controller } = setup<number>(gatedSink<number>().flush, { maxBufferSize: 1, strategy: 'drop_oldest' });
    const first = track(controller.pushDurable(1));
    controller.offer(2); // the fast path evicts the durable item
    await settle();
    expect(first.error).toMatchObject({ code: 'ERR_VALVE_DROPPED', reason: 'evicted' });
    const second = track(controller.pushDurable(3));
    await controller.stop();
    expect(second.error).toMatchObject({ code: 'ERR_VALVE_CLOSED' });
    await expect(controller.pushDurable(4)).rejects.toMatchObject({ code: 'ERR_VALVE_CLOSED' });
  });

  it('a blocked durable push aborted by its signal rejects with the reason and is never written', async () => {
    const sink = gatedSink<number>();
    const { controller } = setup<number>(sink.flush, { maxBufferSize: 1, strategy: 'block', maxBlockTimeMs: 1000 });
    controller.offer(1);
    const ac = new AbortController();
    const waiting = track(controller.pushDurable(2, { signal: ac.signal }));
    ac.abort(new Error('client went away'));
    await settle();
    expect(waiting.error).toEqual(new Error('client went away'));
    expect(controller.stats().accepted).toBe(1);
  });
});
