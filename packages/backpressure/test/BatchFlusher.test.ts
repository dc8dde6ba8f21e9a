import { isValveError, ManualClock } from '@valve/core';
import { flush as settle, track } from '@valve/testkit';
import { describe, expect, it } from 'vitest';
import { BatchFlusher } from '../src/BatchFlusher.js';
import type { FlushError } from '../src/FlushError.js';
import type { FlushResult } from '../src/types.js';

function make<T>(flush: (items: T[]) => unknown, retry?: number | object) {
  const clock = new ManualClock();
  const log = { flushed: 0, attempts: [] as boolean[], dead: [] as { items: T[]; error: FlushError<T> }[] };
  const flusher = new BatchFlusher<T>({
    flush: flush as never,
    clock,
    retry: retry as never,
    hooks: {
      flushed: (n) => {
        log.flushed += n;
      },
      attempted: (_ms, ok) => log.attempts.push(ok),
      deadLettered: (items, error) => log.dead.push({ items, error }),
    },
  });
  return { clock, flusher, log };
}

describe('BatchFlusher', () => {
  it('reports a batch written when flush resolves nothing', async () => {
    const { flusher, log } = make<number>(async () => undefined);
    await flusher.run([1, 2, 3]);
    expect(log).toMatchObject({ flushed: 3, attempts: [true], dead: [] });
  });

  it('dead-letters a thrown batch with a FlushError that carries the items and the cause', async () => {
    const boom = new Error('db down');
    const { flusher, log } = make<number>(() => {
      throw boom;
    });
    const run = track(flusher.run([1, 2]));
    await settle();
    expect(run.state).toBe('resolved');
    expect(log.flushed).toBe(0);
    expect(log.dead).toHaveLength(1);
    const { items, error } = log.dead[0]!;
    expect(items).toEqual([1, 2]);
    expect(isValveError(error, 'ERR_VALVE_FLUSH_FAILED')).toBe(true);
    expect(error.items).toEqual([1, 2]);
    expect(error.cause).toBe(boom);
    expect(error.message).toBe('flush failed for 2 item(s): db down');
  });

  it('retries only the failedItems of a partial failure, on the clock', async () => {
    const sent: number[][] = [];
    const { clock, flusher, log } = make<number>(
      async (items: number[]): Promise<FlushResult<number> | undefined> => {
        sent.push([...items]);
        if (sent.length === 1) return { success: 2, failed: 1, errors: [new Error('dup')], failedItems: [2] };
        return undefined;
      },
      { retries: 2, minTimeout: 1000 },
    );
    const run = track(flusher.run([1, 2, 3]));
    await settle();
    expect(log.flushed).toBe(2);
    expect(run.state).toBe('pending'); // backoff waits on the clock
    await clock.advanceAsync(999);
    expect(sent).toHaveLength(1);
    await clock.advanceAsync(1);
    expect(sent).toEqual([[1, 2, 3], [2]]);
    expect(run.state).toBe('resolved');
    expect(log).toMatchObject({ flushed: 3, attempts: [false, true], dead: [] });
  });

  it('treats failed > 0 without failedItems as the whole batch failing', async () => {
    const { flusher, log } = make<number>(async () => ({ success: 1, failed: 1, errors: ['x'] }));
    await flusher.run([1, 2]);
    expect(log.flushed).toBe(0);
    expect(log.dead[0]!.items).toEqual([1, 2]);
    expect(log.dead[0]!.error.errors).toEqual(['x']);
  });

  it('dead-letters after the last retry with the items still unwritten', async () => {
    let n = 0;
    const { clock, flusher, log } = make<number>(
      async (items: number[]) => {
        n++;
        return { success: items.length - 1, failed: 1, errors: [new Error(`e${n}`)], failedItems: [items[0]] };
      },
      { retries: 1, minTimeout: 10 },
    );
    const run = flusher.run([1, 2, 3]);
    await clock.runAllAsync();
    await run;
    expect(n).toBe(2);
    expect(log.flushed).toBe(2);
    expect(log.dead).toHaveLength(1);
    expect(log.dead[0]!.items).toEqual([1]);
    expect(log.dead[0]!.error.message).toBe('flush failed for 1 item(s): e2');
  });

  it('treats a failedItems list longer than the batch as the whole batch failing', async () => {
    const { flusher, log } = make<number>(async () => ({ success: 0, failed: 3, errors: [], failedItems: [1, 2, 3] }));
    await flusher.run([1, 2]);
    expect(log.flushed).toBe(0);
    expect(log.dead[0]!.items).toEqual([1, 2]);
  });
});
