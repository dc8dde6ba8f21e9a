/**
 * Review of issue 4 (P2): `failedItems` was not checked against the batch. An entry that is not
 * one of the batch's items (a copy, say) made the real item neither flushed nor dead-lettered
 * and handed a foreign object to `onDeadLetter`. Entries are matched by identity; any foreign
 * entry (or one named more often than the batch holds it) fails the whole batch.
 */
import { describe, expect, it } from 'vitest';
import type { FlushError } from '../../src/FlushError.js';
import type { FlushResult } from '../../src/types.js';
import { balanced, setup } from '../helpers.js';

interface Row {
  id: string;
}

describe('issue 4 review: failedItems must be the batch s own items', () => {
  it('a copy in failedItems dead-letters the real items, never the copy', async () => {
    const a: Row = { id: 'a' };
    const b: Row = { id: 'b' };
    const { controller, dead } = setup<Row>(
      async (): Promise<FlushResult<Row>> => ({ success: 1, failed: 1, errors: ['x'], failedItems: [{ id: 'a' }] }),
    );
    controller.offer(a);
    controller.offer(b);
    const summary = await controller.drain();
    expect(summary).toMatchObject({ flushed: 0, deadLettered: 2 });
    expect(dead).toHaveLength(1);
    expect(dead[0]!.items[0]).toBe(a);
    expect(dead[0]!.items[1]).toBe(b);
    const error = dead[0]!.error as FlushError<Row>;
    expect(error.items[0]).toBe(a);
    expect(String(error.errors.at(-1))).toContain('not an item of the batch');
    expect(balanced(controller)).toBe(true);
  });

  it('a retry after a foreign entry resends the whole batch, and only real items', async () => {
    const a: Row = { id: 'a' };
    const b: Row = { id: 'b' };
    const sent: Row[][] = [];
    const { clock, controller, dead } = setup<Row>(
      async (items): Promise<FlushResult<Row> | undefined> => {
        sent.push([...items]);
        if (sent.length === 1) return { success: 1, failed: 1, errors: [], failedItems: [{ id: 'a' }] };
        return undefined;
      },
      { retry: { retries: 1, minTimeout: 10 } },
    );
    controller.offer(a);
    controller.offer(b);
    const drained = controller.drain();
    await clock.advanceAsync(10);
    expect(await drained).toMatchObject({ flushed: 2, deadLettered: 0 });
    expect(sent[1]![0]).toBe(a);
    expect(sent[1]![1]).toBe(b);
    expect(dead).toEqual([]);
  });

  it('an item named more often than the batch holds it fails the whole batch', async () => {
    const a: Row = { id: 'a' };
    const b: Row = { id: 'b' };
    const { controller, dead } = setup<Row>(async () => ({ success: 0, failed: 2, errors: [], failedItems: [a, a] }));
    controller.offer(a);
    controller.offer(b);
    expect(await controller.drain()).toMatchObject({ flushed: 0, deadLettered: 2 });
    expect(dead[0]!.items).toEqual([a, b]);
  });

  it('repeated values are matched one for one: naming one of two equal numbers fails only one', async () => {
    const sent: number[][] = [];
    const { clock, controller, dead } = setup<number>(
      async (items): Promise<FlushResult<number> | undefined> => {
        sent.push([...items]);
        return { success: items.length - 1, failed: 1, errors: [], failedItems: [7] };
      },
      { retry: { retries: 1, minTimeout: 10 } },
    );
    controller.offer(7);
    controller.offer(7);
    controller.offer(8);
    const drained = controller.drain();
    await clock.advanceAsync(10);
    expect(await drained).toMatchObject({ flushed: 2, deadLettered: 1 });
    expect(sent).toEqual([[7, 7, 8], [7]]);
    expect(dead.flatMap((d) => d.items)).toEqual([7]);
  });
});
