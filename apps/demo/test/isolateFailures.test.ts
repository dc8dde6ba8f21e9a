import { describe, expect, it } from 'vitest';
import { insertIsolatingFailures } from '../src/isolateFailures.js';

// Stands in for a table whose column rejects one row (a payload over its limit).
function table(bad: (row: string) => boolean) {
  const stored: string[] = [];
  const insert = async (rows: readonly string[]) => {
    if (rows.some(bad)) throw new Error(`row too long in a batch of ${rows.length}`);
    stored.push(...rows);
  };
  return { stored, insert };
}

describe('insertIsolatingFailures', () => {
  it('inserts a good batch in one statement', async () => {
    const t = table(() => false);
    expect(await insertIsolatingFailures(['a', 'b', 'c'], t.insert)).toBeUndefined();
    expect(t.stored).toEqual(['a', 'b', 'c']);
  });

  it('names only the bad rows and stores the rest', async () => {
    const t = table((r) => r === 'bad');
    const batch = ['a', 'bad', 'c'];
    const result = await insertIsolatingFailures(batch, t.insert);
    expect(t.stored).toEqual(['a', 'c']);
    expect(result).toMatchObject({ success: 2, failed: 1 });
    // The batch's own objects, as the controller requires.
    expect(result?.failedItems?.[0]).toBe(batch[1]);
    expect(String(result?.errors[0])).toContain('batch of 1');
  });

  it('rethrows the batch error when every row fails (the database, not a row, is the problem)', async () => {
    const t = table(() => true);
    await expect(insertIsolatingFailures(['a', 'b'], t.insert)).rejects.toThrow('batch of 2');
    expect(t.stored).toEqual([]);
  });

  it('rethrows for a batch of one', async () => {
    const t = table(() => true);
    await expect(insertIsolatingFailures(['a'], t.insert)).rejects.toThrow('batch of 1');
  });
});
