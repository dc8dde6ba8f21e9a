import { describe, expect, it } from 'vitest';
import { Block } from '../../src/strategies/Block.js';
import { createStrategy } from '../../src/strategies/createStrategy.js';
import { DropNewest } from '../../src/strategies/DropNewest.js';
import { DropOldest } from '../../src/strategies/DropOldest.js';
import { Sample } from '../../src/strategies/Sample.js';

describe('drop strategies', () => {
  it('DropOldest evicts when full', () => {
    const s = new DropOldest();
    expect(s.admit(false)).toBe('accept');
    expect(s.admit(true)).toBe('evict');
  });

  it('DropNewest rejects when full', () => {
    const s = new DropNewest();
    expect(s.admit(false)).toBe('accept');
    expect(s.admit(true)).toBe('reject');
  });

  it('Block waits when full', () => {
    const s = new Block();
    expect(s.admit(false)).toBe('accept');
    expect(s.admit(true)).toBe('wait');
  });

  it('Sample keeps everything at normal', () => {
    const s = new Sample(3);
    for (let i = 0; i < 10; i++) expect(s.admit(false, 'normal')).toBe('accept');
  });

  it('Sample keeps one in sampleRate offered items above normal, even after dropping', () => {
    const s = new Sample(3);
    const got = Array.from({ length: 9 }, () => s.admit(false, 'elevated'));
    expect(got).toEqual([
      'accept',
      'sample_out',
      'sample_out',
      'accept',
      'sample_out',
      'sample_out',
      'accept',
      'sample_out',
      'sample_out',
    ]);
  });

  it('Sample refuses a kept item that does not fit as full', () => {
    const s = new Sample(1);
    expect(s.admit(true, 'blocked')).toBe('reject');
  });

  it('createStrategy maps names and validates', () => {
    expect(createStrategy('block').name).toBe('block');
    expect(createStrategy('drop_oldest').name).toBe('drop_oldest');
    expect(createStrategy('drop_newest').name).toBe('drop_newest');
    expect((createStrategy('sample', { sampleRate: 4 }) as Sample).sampleRate).toBe(4);
    expect(() => createStrategy('DROP' as never)).toThrow(
      'strategy must be one of "block", "drop_oldest", "drop_newest", "sample", got "DROP"',
    );
    expect(() => new Sample(0)).toThrow('sampleRate must be an integer >= 1, got 0');
  });
});
