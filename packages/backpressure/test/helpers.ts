import { ManualClock } from '@valve/core';
import { deferred, type Deferred } from '@valve/testkit';
import { BackpressureController } from '../src/BackpressureController.js';
import type { BackpressureOptions } from '../src/options.js';
import type { BackpressureStats, DropReason, FlushContext, FlushResult } from '../src/types.js';

/** A sink whose flushes stay pending until the test opens their gate. */
export function gatedSink<T>() {
  const calls: { items: T[]; gate: Deferred<FlushResult<T> | undefined> }[] = [];
  const flush = (items: T[]) => {
    const gate = deferred<FlushResult<T> | undefined>();
    calls.push({ items, gate });
    return gate.promise;
  };
  return { calls, flush };
}

/** A sink that records every batch and resolves at once. */
export function recordingSink<T>() {
  const batches: T[][] = [];
  const flush = async (items: T[]) => {
    batches.push(items);
  };
  return { batches, flush, written: () => batches.flat() };
}

export function setup<T>(
  flush: (items: T[], context: FlushContext) => Promise<FlushResult<T> | undefined | void>,
  options: Partial<BackpressureOptions<T>> = {},
) {
  const clock = new ManualClock();
  const dead: { items: T[]; error: unknown }[] = [];
  const drops: { items: readonly T[]; reason: DropReason }[] = [];
  const controller = new BackpressureController<T>(flush, {
    clock,
    onDeadLetter: (items, error) => dead.push({ items, error }),
    onDrop: (items, reason) => drops.push({ items: [...items], reason }),
    ...options,
  });
  return { clock, controller, dead, drops };
}

/** The accounting invariant: every accepted item is in exactly one place. */
export function balanced(c: { stats(): BackpressureStats }): boolean {
  const s = c.stats();
  return s.accepted === s.flushed + s.deadLettered + s.dropped + s.bufferSize + s.inFlight;
}
