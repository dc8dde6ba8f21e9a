/**
 * Issue 18, item 1: one deeply nested event took the demo down ~5-10 s after it was acknowledged
 * (`RangeError: Maximum call stack size exceeded`, uncaught), losing every buffered event.
 * Whatever a flush throws, synchronously or not, stack overflow included, and whatever its
 * error turns into when it is described, must become a dead letter carrying the items: never an
 * unhandled rejection, never an item left in flight.
 */
import { isValveError } from '@valve/core';
import { flush as settle } from '@valve/testkit';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { FlushError } from '../../src/FlushError.js';
import { balanced, setup } from '../helpers.js';

/** Recurses until V8 throws its stack-overflow RangeError. */
function overflow(depth = 0): number {
  return overflow(depth + 1) + 1;
}

/** A serializer of nested arrays that, like `JSON.stringify`, recurses per level. */
function serialize(value: unknown): string {
  return Array.isArray(value) ? `[${value.map(serialize).join(',')}]` : JSON.stringify(value);
}

function nested(depth: number): unknown {
  let value: unknown = [];
  for (let i = 0; i < depth; i++) value = [value];
  return value;
}

describe('issue 18: a flush that overflows the stack becomes a dead letter', () => {
  const unhandled: unknown[] = [];
  const onUnhandled = (reason: unknown) => unhandled.push(reason);
  beforeEach(() => {
    unhandled.length = 0;
    process.on('unhandledRejection', onUnhandled);
    process.on('uncaughtException', onUnhandled);
  });
  afterEach(() => {
    process.off('unhandledRejection', onUnhandled);
    process.off('uncaughtException', onUnhandled);
  });

  it('a synchronous RangeError deep in recursion: retried, then dead-lettered with the items', async () => {
    let calls = 0;
    const { controller, dead, clock } = setup<unknown>(
      (items) => {
        calls++;
        // Not async: the throw happens inside the controller's call of flush.
        serialize(items);
        return Promise.resolve();
      },
      { retry: { retries: 2, minTimeout: 10 } },
    );
    const deep = nested(200_000);
    controller.offer({ id: 1 });
    controller.offer(deep);
    const drained = controller.drain();
    await clock.advanceAsync(1_000);
    await expect(drained).resolves.toMatchObject({ flushed: 0, deadLettered: 2 });
    expect(calls).toBe(3);
    expect(dead).toHaveLength(1);
    const error = dead[0]!.error as FlushError<unknown>;
    expect(isValveError(error, 'ERR_VALVE_FLUSH_FAILED')).toBe(true);
    expect(error.cause).toBeInstanceOf(RangeError);
    expect(dead[0]!.items).toEqual([{ id: 1 }, deep]);
    expect(balanced(controller)).toBe(true);
    await settle();
    expect(unhandled).toEqual([]);
  });

  it('an async stack overflow (a rejected promise) is dead-lettered the same way', async () => {
    const { controller, dead, clock } = setup<number>(async () => {
      overflow();
    });
    controller.offer(1);
    const drained = controller.drain();
    await clock.advanceAsync(0);
    await expect(drained).resolves.toMatchObject({ deadLettered: 1 });
    expect((dead[0]!.error as FlushError<number>).cause).toBeInstanceOf(RangeError);
    await settle();
    expect(unhandled).toEqual([]);
  });

  it('a thrown value whose conversion to text overflows the stack is still dead-lettered (failed on 7d9802f)', async () => {
    // What a serializer-heavy flush may reject with: an object whose toString recurses. The old
    // FlushError called String() on it unguarded, so BatchFlusher.run rejected: an unhandled
    // rejection (a crash under Node's default) and the batch stuck in flight, drain() hanging.
    const hostile = {
      toString(): string {
        return String(overflow());
      },
    };
    const { controller, dead, clock } = setup<number>(() => Promise.reject(hostile));
    controller.offer(1);
    controller.offer(2);
    const drained = controller.drain();
    await clock.advanceAsync(0);
    await settle();
    expect(unhandled).toEqual([]);
    await expect(drained).resolves.toMatchObject({ flushed: 0, deadLettered: 2 });
    expect(dead[0]!.items).toEqual([1, 2]);
    const error = dead[0]!.error as FlushError<number>;
    expect(error.errors).toEqual([hostile]);
    expect(error.message).toBe(
      'flush failed for 2 item(s): an error that could not be described (converting it to text threw RangeError)',
    );
    expect(controller.stats()).toMatchObject({ inFlight: 0, deadLettered: 2 });
    expect(balanced(controller)).toBe(true);
  });

  it('an Error whose message getter throws is dead-lettered too', async () => {
    const error = new Error('x');
    Object.defineProperty(error, 'message', {
      get() {
        throw new RangeError('Maximum call stack size exceeded');
      },
    });
    const { controller, dead, clock } = setup<number>(() => Promise.reject(error));
    controller.offer(1);
    const drained = controller.drain();
    await clock.advanceAsync(0);
    await settle();
    expect(unhandled).toEqual([]);
    await expect(drained).resolves.toMatchObject({ deadLettered: 1 });
    expect((dead[0]!.error as FlushError<number>).cause).toBe(error);
  });
});
