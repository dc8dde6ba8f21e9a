// Issue 14: no constructor may silently ignore an argument. Core's own option objects reject
// unknown keys (a typo such as `tokenlimit` used to be dropped without a word).
import { describe, expect, it } from 'vitest';
import { LocalConcurrency, RateMeter, TokenBucket } from '../../src/index.js';

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
});
