import { CountQueuingStrategy, WritableStream } from 'node:stream/web';
import { abortReason, validateInteger } from '@valve/core';
import type { PushTarget } from './writable.js';

export interface WritableStreamOptions {
  /** Chunks the stream queues before `desiredSize` reaches 0. @default 16 */
  highWaterMark?: number;
}

/**
 * A WHATWG WritableStream over a controller. Each chunk is `push()`ed; while the controller is
 * pressured the write does not complete until the pressure ends, so chunks queue in the stream
 * and `desiredSize` falls to 0 and below (`writer.ready` waits): it tracks the controller's
 * buffer through its watermarks. `close()` drains the controller; `abort()` cancels a waiting write.
 */
export function createWritableStream<T>(target: PushTarget<T>, options: WritableStreamOptions = {}): WritableStream<T> {
  const hwm = validateInteger(options.highWaterMark ?? 16, 'highWaterMark', { min: 1 });
  return new WritableStream<T>(
    {
      write: async (item, controller) => {
        // Node 20 has `signal` (WHATWG streams spec); @types/node 20 does not declare it yet.
        const signal = (controller as unknown as { signal: AbortSignal }).signal;
        await target.push(item, signal);
        if (target.pressured()) await pressureEnds(target, signal);
      },
      close: async () => {
        await target.drain();
      },
    },
    new CountQueuingStrategy({ highWaterMark: hwm }),
  );
}

function pressureEnds(target: PushTarget<unknown>, signal: AbortSignal): Promise<void> {
  return new Promise<void>((resolve, reject) => {
    if (signal.aborted) {
      reject(abortReason(signal));
      return;
    }
    const onAbort = () => {
      sub.dispose();
      reject(abortReason(signal));
    };
    const sub = target.onPressureChange((pressured) => {
      if (pressured) return;
      sub.dispose();
      signal.removeEventListener('abort', onAbort);
      resolve();
    });
    signal.addEventListener('abort', onAbort, { once: true });
  });
}
