import { describe, expect, it } from 'vitest';
import { PriorityQueue } from '../src/PriorityQueue.js';

describe('PriorityQueue', () => {
  it('shifts highest priority first, FIFO within a priority, with each item’s tag', () => {
    const q = new PriorityQueue<string, string>();
    q.push('a', 0, 'x');
    q.push('b', 5, 'x');
    q.push('c', 0, 'y');
    q.push('d', -2, 'y');
    q.push('e', 5, 'y');
    q.push('f', 0, 'y');
    const out: string[] = [];
    while (q.size > 0) out.push(`${q.shift()}:${q.lastTag}`);
    expect(out).toEqual(['b:x', 'e:y', 'a:x', 'c:y', 'f:y', 'd:y']);
    expect(q.shift()).toBeUndefined();
  });

  it('unshift puts the item back at the head with its tag', () => {
    const q = new PriorityQueue<string, number>();
    q.push('a', 1, 1);
    q.push('b', 1, 2);
    expect(q.shift()).toBe('a');
    q.unshift('a', 1);
    expect([q.shift(), q.lastTag, q.shift(), q.lastTag]).toEqual(['a', 1, 'b', 2]);
  });

  it('a push above an emptied top level is found; a push below a non-empty top waits its turn', () => {
    const q = new PriorityQueue<string, number>();
    q.push('hi', 10, 0);
    q.push('mid', 0, 0);
    expect(q.shift()).toBe('hi');
    q.push('low', -5, 0);
    q.push('higher', 20, 0);
    expect([q.shift(), q.shift(), q.shift()]).toEqual(['higher', 'mid', 'low']);
  });

  it('filter keeps order and tags', () => {
    const q = new PriorityQueue<number, string>();
    for (let i = 0; i < 10; i++) q.push(i, i % 2, i < 5 ? 'early' : 'late');
    q.filter((n) => n % 3 !== 0);
    const out: string[] = [];
    while (q.size > 0) out.push(`${q.shift()}${q.lastTag![0]}`);
    expect(out).toEqual(['1e', '5l', '7l', '2e', '4e', '8l']);
  });

  it('prunes empty levels past 64 distinct priorities', () => {
    const q = new PriorityQueue<number, number>();
    for (let p = 1; p <= 200; p++) {
      q.push(p, p, 0);
      expect(q.shift()).toBe(p);
    }
    expect(q.levelCount).toBeLessThanOrEqual(65);
    q.push(1, 3, 0);
    q.push(2, 300, 0);
    expect([q.shift(), q.shift()]).toEqual([2, 1]);
  });
});
