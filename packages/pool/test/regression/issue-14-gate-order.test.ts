// Issue 14: the pool took the token before the slot, so a custom concurrencySource whose
// tryAcquire() refuses while its inUse < limit cost a token that was never given back.
import { Emitter, ManualClock, type ConcurrencySource, type Permit, TokenBucket } from '@valve/core';
import { describe, expect, it } from 'vitest';
import { PromisePool } from '../../src/index.js';

/** Claims a free slot (inUse 0 < limit 1) but refuses until `open`. */
class DisagreeingSource implements ConcurrencySource {
  readonly limit = 1;
  inUse = 0;
  open = false;
  private readonly available$ = new Emitter<void>();
  readonly onAvailable = this.available$.event;
  tryAcquire(): Permit | undefined {
    if (!this.open) return undefined;
    this.inUse++;
    let released = false;
    return {
      release: () => {
        if (released) return;
        released = true;
        this.inUse--;
        this.available$.emit();
      },
    };
  }
  acquire(): Promise<Permit> {
    return Promise.reject(new Error('not used: the source is synchronous'));
  }
  letIn(): void {
    this.open = true;
    this.available$.emit();
  }
}

describe('issue 14: slot first, then token', () => {
  it('a concurrencySource that refuses while inUse < limit costs no token', async () => {
    const clock = new ManualClock();
    const bucket = new TokenBucket({ rate: 2, hz: 1, tokenLimit: 2, clock });
    const source = new DisagreeingSource();
    const pool = new PromisePool({ concurrencySource: source, rateSource: bucket, clock });
    const a = pool.run(() => 'a', { priority: 0 });
    const b = pool.run(() => 'b');
    expect(bucket.available).toBe(2); // nothing started, nothing spent
    source.letIn();
    expect(await a).toBe('a');
    expect(await b).toBe('b');
    expect(bucket.available).toBe(0); // exactly one token per started task
    bucket.close();
  });
});
