/**
 * Review of issue 4 (P1): a FlushResult `{ failed: 2, failedItems: [] }` was counted as written,
 * because an empty `failedItems` was trusted over the `failed` count: two items lost with no
 * dead letter. Whenever `failed` exceeds the items named, the result cannot say which items
 * failed, so the whole batch fails (retried, then dead-lettered).
 */
import { isValveError } from '@valve/core';
import { describe, expect, it } from 'vitest';
import type { FlushError } from '../../src/FlushError.js';
import type { FlushResult } from '../../src/types.js';
import { balanced, setup } from '../helpers.js';

describe('issue 4 review: failed > failedItems.length fails the whole batch', () => {
  it('{ failed: 2, failedItems: [] } dead-letters both items instead of counting them written', async () => {
    const { controller, dead } = setup<number>(async (items) => ({
      success: 0,
      failed: items.length,
      errors: ['db down'],
      failedItems: [],
    }));
    controller.offer(1);
    controller.offer(2);
    const summary = await controller.drain();
    expect(summary).toMatchObject({ flushed: 0, deadLettered: 2 });
    expect(dead.flatMap((d) => d.items)).toEqual([1, 2]);
    const error = dead[0]!.error as FlushError<number>;
    expect(isValveError(error, 'ERR_VALVE_FLUSH_FAILED')).toBe(true);
    expect(error.errors[0]).toBe('db down');
    expect(String(error.errors[1])).toContain('failed is 2 but failedItems names 0');
    expect(controller.stats()).toMatchObject({ flushed: 0, deadLettered: 2, flushFailures: 1 });
    expect(balanced(controller)).toBe(true);
  });

  it('failed above the named items retries the whole batch, not the named part', async () => {
    const sent: number[][] = [];
    const { clock, controller, dead } = setup<number>(
      async (items): Promise<FlushResult<number> | undefined> => {
        sent.push([...items]);
        if (sent.length === 1) return { success: 1, failed: 2, errors: [], failedItems: [items[0]!] };
        return undefined;
      },
      { retry: { retries: 1, minTimeout: 10 } },
    );
    controller.offer(1);
    controller.offer(2);
    controller.offer(3);
    const drained = controller.drain();
    await clock.advanceAsync(10);
    expect(await drained).toMatchObject({ flushed: 3, deadLettered: 0 });
    expect(sent).toEqual([
      [1, 2, 3],
      [1, 2, 3],
    ]);
    expect(dead).toEqual([]);
  });

  it('failed: 0 with an empty failedItems is still a success', async () => {
    const { controller } = setup<number>(async () => ({ success: 2, failed: 0, errors: [], failedItems: [] }));
    controller.offer(1);
    controller.offer(2);
    expect(await controller.drain()).toMatchObject({ flushed: 2, deadLettered: 0 });
  });
});
