import { describe, expect, it } from 'vitest';
import { MemoryCache } from '../src/cache/MemoryCache.js';

describe('MemoryCache', () => {
  it('expires entries after their TTL, by the injected clock', async () => {
    let now = 1000;
    const cache = new MemoryCache({ now: () => now });
    await cache.set('a', '1', 100);
    expect(await cache.get('a')).toBe('1');
    now = 1099;
    expect(await cache.get('a')).toBe('1');
    now = 1100;
    expect(await cache.get('a')).toBeUndefined();
    expect(cache.size).toBe(0);
  });

  it('evicts the oldest-written entry when full', async () => {
    const cache = new MemoryCache({ maxEntries: 2, now: () => 0 });
    await cache.set('a', '1', 1000);
    await cache.set('b', '2', 1000);
    await cache.set('a', '3', 1000); // rewriting a makes b the oldest
    await cache.set('c', '4', 1000);
    expect(await cache.get('b')).toBeUndefined();
    expect(await cache.get('a')).toBe('3');
    expect(await cache.get('c')).toBe('4');
  });

  it('validates maxEntries', () => {
    expect(() => new MemoryCache({ maxEntries: 0 })).toThrow('maxEntries must be an integer >= 1, got 0');
  });
});
