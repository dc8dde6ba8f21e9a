// Issue 14: no constructor may silently ignore an argument. Core's own option objects reject
// unknown keys (a typo such as `tokenlimit` used to be dropped without a word).
import { describe, expect, it } from 'vitest';
import { Gauge, Histogram, LocalConcurrency, RateMeter, TokenBucket } from '../../src/index.js';

describe('issue 14: core constructors refuse what they would ignore', () => {
  it('TokenBucket', () => {
    expect(() => new TokenBucket({ tokenLimit: 5, burst: 2 } as never)).toThrow(
      'options.burst is not a known option; known options are rate, hz, tokenLimit, clock',
    );
    expect(() => new TokenBucket(null as never)).toThrow('options must be an object, got null');
  });

  it('LocalConcurrency', () => {
    expect(() => new LocalConcurrency({ limit: 2, max: 3 } as never)).toThrow('options.max is not a known option');
    expect(() => new LocalConcurrency(undefined as never)).toThrow('options must be an object, got undefined');
  });

  it('RateMeter', () => {
    expect(() => new RateMeter({ window: 1000 } as never)).toThrow('options.window is not a known option');
    expect(new RateMeter({ windowMs: 1000 }).rate()).toBe(0);
  });

  it('Histogram', () => {
    expect(() => new Histogram({ bucket: [1, 2] } as never)).toThrow(
      'options.bucket is not a known option; known options are buckets, exportScale',
    );
    expect(() => new Histogram(null as never)).toThrow('options must be an object, got null');
    expect(new Histogram({ buckets: [1, 2], exportScale: 0.001 }).buckets).toEqual([1, 2]);
  });

  it('Gauge: collect is a function or nothing', () => {
    expect(() => new Gauge(5 as never)).toThrow('collect must be a function, got 5');
    expect(new Gauge(() => 3).value).toBe(3);
  });
});
