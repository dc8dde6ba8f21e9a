/**
 * A tiny typed event emitter: `valve.onDrop(listener)` returns a {@link Disposable}.
 *
 * Cheap when nobody listens (`emit` checks one field), and copy-on-write, so a listener that
 * disposes itself (or adds another) while an event is being delivered does not disturb that
 * delivery. A listener that throws does not stop the others; its error is re-thrown on a
 * microtask so it surfaces as an uncaught exception instead of corrupting the valve's state.
 */

import { rethrowLater } from './rethrowLater.js';
import { rejectExtraArguments } from '../validate.js';

/**
 * What `onX(listener)` returns. `dispose()` unsubscribes (idempotent); `[Symbol.dispose]` is the
 * same call, so `using sub = valve.onDrop(...)` unsubscribes at the end of the block.
 */
export interface Disposable {
  dispose(): void;
  [Symbol.dispose](): void;
}

/** A {@link Disposable} around `dispose` (called at most once). */
export function disposable(dispose: () => void): Disposable {
  let disposed = false;
  const once = () => {
    if (disposed) return;
    disposed = true;
    dispose();
  };
  return { dispose: once, [Symbol.dispose]: once };
}

export type Listener<T> = (value: T) => void;

/** The subscribe function a valve exposes as `onX`. */
export type Event<T> = (listener: Listener<T>) => Disposable;

export class Emitter<T> {
  private listeners: readonly Listener<T>[] = [];

  /**
   * Whether anybody listens: check it before computing an expensive event value. A field kept in
   * step with the listeners (not a getter): hot paths read it once per unit of work, and in a
   * fresh process's interpreted code a getter is a call (issue 14's cold burst).
   */
  readonly hasListeners: boolean = false;

  /** Subscribe; pass this bound method out as the public `onX`. */
  readonly event: Event<T> = (listener) => {
    if (typeof listener !== 'function') {
      throw new TypeError(`listener must be a function, got ${typeof listener}`);
    }
    this.setListeners([...this.listeners, listener]);
    return disposable(() => {
      const i = this.listeners.indexOf(listener);
      if (i >= 0) this.setListeners([...this.listeners.slice(0, i), ...this.listeners.slice(i + 1)]);
    });
  };

  constructor() {
    // biome-ignore lint/complexity/noArguments: counts the arguments to refuse an extra one; a rest parameter would allocate
    rejectExtraArguments(arguments.length, 0, 'new Emitter()');
  }

  get size(): number {
    return this.listeners.length;
  }

  emit(value: T): void {
    const list = this.listeners;
    for (let i = 0; i < list.length; i++) {
      try {
        list[i]!(value);
      } catch (error) {
        rethrowLater(error);
      }
    }
  }

  clear(): void {
    this.setListeners([]);
  }

  private setListeners(list: readonly Listener<T>[]): void {
    this.listeners = list;
    (this as { hasListeners: boolean }).hasListeners = list.length > 0;
  }
}
