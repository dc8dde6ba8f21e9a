/**
 * A tiny typed event emitter: `valve.onDrop(listener)` returns a {@link Disposable}.
 *
 * Cheap when nobody listens (`emit` checks one field), and copy-on-write, so a listener that
 * disposes itself (or adds another) while an event is being delivered does not disturb that
 * delivery. A listener that throws does not stop the others; its error is re-thrown on a
 * microtask so it surfaces as an uncaught exception instead of corrupting the valve's state.
 */

export interface Disposable {
  dispose(): void;
}

export type Listener<T> = (value: T) => void;

/** The subscribe function a valve exposes as `onX`. */
export type Event<T> = (listener: Listener<T>) => Disposable;

export class Emitter<T> {
  private listeners: readonly Listener<T>[] = [];

  /** Subscribe; pass this bound method out as the public `onX`. */
  readonly event: Event<T> = (listener) => {
    if (typeof listener !== 'function') {
      throw new TypeError(`listener must be a function, got ${typeof listener}`);
    }
    this.listeners = [...this.listeners, listener];
    let disposed = false;
    return {
      dispose: () => {
        if (disposed) return;
        disposed = true;
        const i = this.listeners.indexOf(listener);
        if (i >= 0) this.listeners = [...this.listeners.slice(0, i), ...this.listeners.slice(i + 1)];
      },
    };
  };

  /** Whether anybody listens: check it before computing an expensive event value. */
  get hasListeners(): boolean {
    return this.listeners.length > 0;
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
        queueMicrotask(() => {
          throw error;
        });
      }
    }
  }

  clear(): void {
    this.listeners = [];
  }
}
