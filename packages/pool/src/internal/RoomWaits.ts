import {
  abortReason,
  type ClosedError,
  describeValue,
  rejectUnknownOptions,
  validateObject,
  validateSignal,
} from '@valve/core';
import type { RunOptions, Task, WhenRoomOptions } from '../options.js';
import { runConfig } from './poolOptions.js';

/** A producer waiting for room in a bounded queue (`addWhenRoom` / `runWhenRoom`). */
interface RoomWaiter {
  /** Puts the producer's task on the pool (synchronously, so the room it was given is its own). */
  enter: () => void;
  /** The producer gave up (its signal) or the pool closed before there was room. */
  refuse: (reason: unknown) => void;
  signal: AbortSignal | undefined;
  onAbort: (() => void) | undefined;
}

/** What the producers' waits need of their pool. */
export interface RoomHost {
  /** Tasks that may still be queued now under `maxQueued`. */
  room(): number;
  closed(): boolean;
  trackRunning: boolean;
  run<T>(task: Task<T>, options?: RunOptions): Promise<T>;
  add(task: Task): number;
  /** Counts a refusal after `done()` and makes its error. */
  refuseClosed(): ClosedError;
  /** Counts a producer that gave up (its signal aborted). */
  aborted(): void;
}

/**
 * `runWhenRoom` / `addWhenRoom`: producers waiting for room under `maxQueued`, first come first
 * served. When the queue shrinks the pool calls `admit()` and the oldest producers put their
 * tasks on it at once, in order, so a producer that arrives later cannot take the room an earlier
 * one waited for. Costs the pool one field read (`waiting`) while nobody waits.
 */
export class RoomWaits {
  private readonly waiters: RoomWaiter[] = [];
  private head = 0;
  /** Somebody waits (a field, not a getter: the pool reads it each time tasks leave the queue). */
  waiting = false;

  constructor(private readonly host: RoomHost) {}

  runWhenRoom<T>(task: Task<T>, options: WhenRoomOptions | undefined): Promise<T> {
    const host = this.host;
    if (typeof task !== 'function') {
      throw new TypeError(`runWhenRoom(): task must be a function returning a promise, got ${describeValue(task)}`);
    }
    const signal = options === undefined ? undefined : runConfig(options, undefined, host.trackRunning).signal;
    // run() itself refuses a closed pool and an aborted signal.
    if ((!this.waiting && host.room() > 0) || host.closed() || signal?.aborted) return host.run(task, options);
    return new Promise<T>((resolve, reject) => {
      this.wait(() => host.run(task, options).then(resolve, reject), reject, signal);
    });
  }

  addWhenRoom(task: Task, options: { signal?: AbortSignal } | undefined): Promise<void> {
    const host = this.host;
    if (typeof task !== 'function') {
      throw new TypeError(`addWhenRoom(): task must be a function returning a promise, got ${describeValue(task)}`);
    }
    let signal: AbortSignal | undefined;
    if (options !== undefined) {
      validateObject(options, 'options');
      rejectUnknownOptions(options, 'options', ['signal']);
      signal = validateSignal(options.signal, 'signal');
    }
    if (host.closed()) return Promise.reject(host.refuseClosed());
    if (signal?.aborted) {
      host.aborted();
      return Promise.reject(abortReason(signal));
    }
    const enter = (resolve: () => void, reject: (e: unknown) => void) => {
      try {
        host.add(task);
        resolve();
      } catch (error) {
        reject(error);
      }
    };
    if (!this.waiting && host.room() > 0) return new Promise<void>(enter);
    return new Promise<void>((resolve, reject) => this.wait(() => enter(resolve, reject), reject, signal));
  }

  /** Lets producers in while there is room, oldest first. */
  admit(): void {
    const room = this.host;
    while (this.head < this.waiters.length && room.room() > 0) {
      const w = this.waiters[this.head]!;
      this.waiters[this.head++] = undefined as never;
      this.forget(w);
      w.enter();
    }
    this.compact();
  }

  /** Every waiting producer is refused with `ClosedError` (`done()` was called). */
  refuseAll(): void {
    while (this.head < this.waiters.length) {
      const w = this.waiters[this.head]!;
      this.waiters[this.head++] = undefined as never;
      this.forget(w);
      w.refuse(this.host.refuseClosed());
    }
    this.compact();
  }

  private wait(enter: () => void, reject: (reason: unknown) => void, signal: AbortSignal | undefined): void {
    const waiter: RoomWaiter = { enter, refuse: reject, signal, onAbort: undefined };
    if (signal !== undefined) {
      waiter.onAbort = () => {
        const i = this.waiters.indexOf(waiter, this.head);
        if (i < 0) return;
        this.waiters.splice(i, 1);
        this.waiting = this.head < this.waiters.length;
        this.host.aborted();
        reject(abortReason(signal));
      };
      signal.addEventListener('abort', waiter.onAbort, { once: true });
    }
    this.waiters.push(waiter);
    this.waiting = true;
  }

  private forget(w: RoomWaiter): void {
    if (w.onAbort !== undefined) w.signal!.removeEventListener('abort', w.onAbort);
  }

  private compact(): void {
    this.waiting = this.head < this.waiters.length;
    if (this.head === this.waiters.length) {
      this.waiters.length = 0;
      this.head = 0;
    } else if (this.head > 1024 && this.head * 2 > this.waiters.length) {
      this.waiters.splice(0, this.head);
      this.head = 0;
    }
  }
}
