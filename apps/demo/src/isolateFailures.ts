/**
 * A batch insert that names its failing rows instead of failing the whole batch.
 *
 * One multi-row INSERT is all-or-nothing: a single bad row (say, a payload the column cannot
 * hold) would make the BackpressureController retry and then dead-letter every acknowledged
 * event of its batch. When the batch insert fails, each row is inserted alone and only the
 * rows that still fail are reported as `failedItems` (so only they are retried and, at worst,
 * dead-lettered). When every row fails, the database itself is the problem (down, table
 * missing): the original error is rethrown so the whole batch is retried as one.
 */
import type { FlushResult } from '@valve/backpressure';

export async function insertIsolatingFailures<T>(
  batch: readonly T[],
  insert: (rows: readonly T[]) => Promise<void>,
): Promise<FlushResult<T> | undefined> {
  try {
    await insert(batch);
    return undefined;
  } catch (batchError) {
    if (batch.length <= 1) throw batchError;
    const failedItems: T[] = [];
    const errors: unknown[] = [];
    for (const row of batch) {
      try {
        await insert([row]);
      } catch (error) {
        failedItems.push(row);
        errors.push(error);
      }
    }
    if (failedItems.length === batch.length) throw batchError;
    return { success: batch.length - failedItems.length, failed: failedItems.length, errors, failedItems };
  }
}
