import { describe, expect, it } from 'vitest';
import { emptyRejectedByReason, REASONS } from '../../src/index.js';

describe('emptyRejectedByReason', () => {
  it('has every Reason and aborted at 0, fresh each call', () => {
    const a = emptyRejectedByReason();
    expect(Object.keys(a).sort()).toEqual([...REASONS, 'aborted'].sort());
    expect(Object.values(a).every((v) => v === 0)).toBe(true);
    a.queue_full++;
    expect(emptyRejectedByReason().queue_full).toBe(0);
  });
});
