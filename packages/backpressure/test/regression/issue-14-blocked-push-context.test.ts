/**
 * Issue 14, defect 1 (backpressure part): a BLOCKed push must resume in its caller's
 * AsyncLocalStorage context, whoever frees the space (a flush completing, the deadline, a
 * stop). Checked on 7d9802f too: backpressure already held (the parked push is a promise the
 * caller awaits, and Node restores the awaiting caller's context); this pins it, since the
 * admission rework moves waiting into shared code where a callback-based hand-off would not.
 */
import { AsyncLocalStorage } from 'node:async_hooks';
import { flush as settle } from '@valve/testkit';
import { describe, expect, it } from 'vitest';
import { gatedSink, setup } from '../helpers.js';

describe('issue 14: a blocked push resumes in its caller context', () => {
  it('handed space by a flush, timed out or refused by stop(): each resumes with its own store', async () => {
    const store = new AsyncLocalStorage<{ id: number }>();
    const sink = gatedSink<number>();
    const { controller, clock } = setup<number>(sink.flush, {
      maxBufferSize: 1,
      batchSize: 1,
      strategy: 'block',
      maxBlockTimeMs: 100,
    });
    controller.offer(0);
    const seen: [number, string, number | undefined][] = [];
    const push = (id: number) =>
      store.run({ id }, async () => {
        const how = await controller.push(id).then(
          (accepted) => (accepted ? 'accepted' : 'timed out'),
          () => 'refused',
        );
        seen.push([id, how, store.getStore()?.id]);
      });
    const done = [push(1), push(2)];
    controller.start(); // flushes 0; its completion hands the slot to 1
    await settle();
    sink.calls[0]!.gate.resolve(undefined);
    await settle();
    await clock.advanceAsync(100); // 2 times out
    done.push(push(3));
    await settle();
    const stopped = controller.stop();
    await settle();
    for (const call of sink.calls) if (!call.gate.settled) call.gate.resolve(undefined);
    await Promise.all([...done, stopped]);
    expect(seen).toHaveLength(3);
    for (const [id, , context] of seen) expect({ id, context }).toEqual({ id, context: id });
    // Each way out was taken by one of them (which one depends on flush scheduling).
    expect(new Set(seen.map(([, how]) => how)).size).toBeGreaterThanOrEqual(2);
  });
});
