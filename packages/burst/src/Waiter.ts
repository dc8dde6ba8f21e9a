import type { SignalLinks, Timer } from '@valve/core';
import type { Call } from './Call.js';

/**
 * A caller with its own promise: it passed a signal or a per-call timeout, so it can stop
 * waiting without disturbing the other callers of its call.
 *
 * Fields are written by the valve and by core's `SignalGroups` (the three `signal*` links: the
 * group of this caller's signal, a doubly linked list, so leaving it is O(1)); `done` flips once,
 * on whichever comes first of settle, abort and timeout, which is what makes every caller settle
 * exactly once.
 */
export class Waiter implements SignalLinks<Waiter> {
  done = false;
  resolve: (value: unknown) => void = noop;
  reject: (error: unknown) => void = noop;
  timer: Timer | undefined = undefined;
  signalGroup: unknown = undefined;
  signalPrev: Waiter | undefined = undefined;
  signalNext: Waiter | undefined = undefined;

  constructor(readonly call: Call<unknown, unknown>) {}
}

function noop(): void {}
