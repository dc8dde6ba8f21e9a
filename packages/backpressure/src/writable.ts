import { Writable } from 'node:stream';
import type { Event } from '@valve/core';
import type { DrainSummary } from './types.js';

/** What the stream adapters need from a controller (built by the controller itself). */
export interface PushTarget<T> {
  /** Admits at once (a boolean) or parks (a promise); throws when closed or aborted. */
  push(item: T, signal?: AbortSignal): boolean | Promise<boolean>;
  drain(): Promise<DrainSummary>;
  pressured(): boolean;
  readonly onPressureChange: Event<boolean>;
}

export interface WritableOptions {
  /** Items the Writable itself may buffer before `write()` returns false (objectMode count). @default 16 */
  highWaterMark?: number;
}

/**
 * A Node object-mode Writable over a controller. `write()` returns false when the Writable's own
 * buffer is full (Node's rule) *or* while the controller is pressured (from the high watermark
 * down to the low one), and `'drain'` is emitted when the pressure ends, so `pipe()` and
 * `pipeline()` pause the source instead of filling the buffer. Each chunk is `push()`ed, so
 * `block` holds the write callback until the item is accepted. `end()` drains the controller
 * before `'finish'`, so when a pipeline finishes no item is still buffered or in flight: each
 * was flushed, dead-lettered (`onDeadLetter`), or dropped or refused by the strategy (evicted,
 * sampled out, refused when full or after a block timeout), which `onDrop` reports. A write
 * refused that way still completes without an error: count drops with `onDrop`, not by the
 * pipeline's outcome.
 */
class ControllerWritable<T> extends Writable {
  /** Set when write() returned false because of pressure; cleared when 'drain' is emitted. */
  private pressureDrain = false;

  constructor(
    private readonly target: PushTarget<T>,
    highWaterMark: number,
  ) {
    super({
      objectMode: true,
      highWaterMark,
      write: (item: T, _encoding, callback) => {
        let r: boolean | Promise<boolean>;
        try {
          r = target.push(item);
        } catch (error) {
          callback(error as Error);
          return;
        }
        // An immediate answer completes the write synchronously, so the controller's fill (and
        // so write()'s return value) is current; only a parked `block` push holds the callback.
        if (typeof r === 'boolean') callback();
        else
          r.then(
            () => callback(),
            (error: unknown) => callback(error as Error),
          );
      },
      final: (callback) => {
        target.drain().then(
          () => callback(),
          (error: unknown) => callback(error as Error),
        );
      },
      destroy: (error, callback) => {
        subscription.dispose();
        callback(error);
      },
    });
    const subscription = target.onPressureChange((pressured) => {
      if (!pressured && this.pressureDrain) {
        this.pressureDrain = false;
        this.emit('drain');
      }
    });
  }

  override write(
    chunk: T,
    encoding?: BufferEncoding | ((error: Error | null | undefined) => void),
    callback?: (error: Error | null | undefined) => void,
  ): boolean {
    const ok = super.write(chunk, encoding as BufferEncoding, callback);
    if (this.target.pressured()) {
      this.pressureDrain = true;
      return false;
    }
    return ok;
  }
}

export function createWritable<T>(target: PushTarget<T>, options: WritableOptions = {}): Writable {
  const hwm = options.highWaterMark ?? 16;
  if (!Number.isSafeInteger(hwm) || hwm < 1) {
    throw new RangeError(`highWaterMark must be an integer >= 1, got ${String(hwm)}`);
  }
  return new ControllerWritable(target, hwm);
}
