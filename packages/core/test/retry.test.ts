import { describe, expect, it } from 'vitest';
import { flush, track } from '@valve/testkit';
import { backoffMs, delay, ManualClock, normalizeRetry, retry, type RetryContext } from '../src/index.js';

describe('retry', () => {
  it('backoff follows p-retry: min(maxTimeout, round(minTimeout * factor^(n-1) * random 1..2))', () => {
    const r = normalizeRetry({ retries: 5, minTimeout: 100, factor: 3, maxTimeout: 2000 });
    expect([1, 2, 3, 4].map((n) => backoffMs(r, n))).toEqual([100, 300, 900, 2000]);
    const jitter = normalizeRetry({ minTimeout: 100, randomize: true });
    expect(backoffMs(jitter, 2, () => 0.5)).toBe(300);
    expect(backoffMs(jitter, 1, () => 0.999)).toBe(200);
  });

  it('defaults: no retries, factor 2, 1 s minimum, no maximum', () => {
    expect(normalizeRetry(undefined)).toEqual({
      retries: 0,
      factor: 2,
      minTimeout: 1000,
      maxTimeout: Number.POSITIVE_INFINITY,
      randomize: false,
      shouldRetry: undefined,
      onFailedAttempt: undefined,
    });
    expect(normalizeRetry(3).retries).toBe(3);
  });

  it('retries with backoff waits on the clock only, and reports each failure', async () => {
    const clock = new ManualClock();
    const failures: RetryContext[] = [];
    let calls = 0;
    const result = track(
      retry(
        async (n) => {
          calls++;
          if (n < 3) throw new Error(`fail ${n}`);
          return 'ok';
        },
        { retries: 3, minTimeout: 100, onFailedAttempt: (c) => void failures.push(c) },
        { clock },
      ),
    );
    await clock.advanceAsync(99);
    expect(calls).toBe(1); // still backing off before attempt 2
    await clock.advanceAsync(1);
    expect(calls).toBe(2);
    await clock.advanceAsync(200);
    expect(result.value).toBe('ok');
    // retriesLeft as p-retry counts it (it used to be one short)
    expect(failures.map((f) => [f.attemptNumber, f.retriesLeft, (f.error as Error).message])).toEqual([
      [1, 3, 'fail 1'],
      [2, 2, 'fail 2'],
    ]);
  });

  it('rejects with the last error, unchanged, when retries run out (retriesLeft 0 on the last)', async () => {
    const clock = new ManualClock();
    const seen: number[] = [];
    const errors = [new Error('a'), 'b-not-an-error'];
    const p = track(
      retry(
        (n) => {
          throw errors[n - 1];
        },
        { retries: 1, minTimeout: 10, onFailedAttempt: (c) => void seen.push(c.retriesLeft) },
        { clock },
      ),
    );
    await clock.runAllAsync();
    expect(p.error).toBe('b-not-an-error');
    expect(seen).toEqual([1, 0]);
  });

  it('shouldRetry false stops at once', async () => {
    const clock = new ManualClock();
    const err = new Error('fatal');
    let calls = 0;
    const p = retry(
      () => {
        calls++;
        throw err;
      },
      { retries: 5, shouldRetry: ({ error }) => error !== err },
      { clock },
    );
    await expect(p).rejects.toBe(err);
    expect(calls).toBe(1);
    expect(clock.pendingTimers).toBe(0);
  });

  it('an abort during backoff rejects with signal.reason and clears the timer', async () => {
    const clock = new ManualClock();
    const c = new AbortController();
    const p = track(
      retry(
        () => {
          throw new Error('x');
        },
        { retries: 5, minTimeout: 1000 },
        { clock, signal: c.signal },
      ),
    );
    await flush();
    expect(clock.pendingTimers).toBe(1);
    expect(clock.refedTimers).toBe(1); // a pending retry keeps the process alive
    const reason = new Error('shutdown');
    c.abort(reason);
    await flush();
    expect(p.error).toBe(reason);
    expect(clock.pendingTimers).toBe(0);
  });

  it('delay() rejects at once for an aborted signal', async () => {
    await expect(delay(new ManualClock(), 10, AbortSignal.abort('r'))).rejects.toBe('r');
  });

  it('validates its options with names', () => {
    expect(() => normalizeRetry({ retries: -1 })).toThrow('retry.retries must be an integer or Infinity >= 0, got -1');
    expect(() => normalizeRetry({ factor: 0.5 })).toThrow('retry.factor must be a finite number >= 1, got 0.5');
    expect(() => normalizeRetry({ minTimeout: 10, maxTimeout: 5 })).toThrow(
      'retry.maxTimeout must be >= minTimeout (10), got 5',
    );
    expect(() => normalizeRetry({ randomize: 1 as never })).toThrow('retry.randomize must be a boolean, got 1');
    expect(() => normalizeRetry({ shouldRetry: 1 as never })).toThrow('retry.shouldRetry must be a function, got 1');
    expect(() => normalizeRetry('x' as never)).toThrow('retry must be an object, got "x"');
  });

  // Issue 14: no option is silently ignored. `{ retry: 3 }` typed as `{ retires: 3 }` used to mean
  // "no retries" without a word; every valve's `retry` option goes through normalizeRetry.
  it('rejects an unknown key, naming it; a normalized value is taken as it is', async () => {
    expect(() => normalizeRetry({ retires: 3 } as never)).toThrow(
      new TypeError(
        'retry.retires is not a known option; known options are retries, factor, minTimeout, maxTimeout, randomize, shouldRetry, onFailedAttempt',
      ),
    );
    await expect(retry(async () => 1, { retires: 3 } as never)).rejects.toThrow('retry.retires is not a known option');
    const r = normalizeRetry({ retries: 2, onFailedAttempt: () => {} });
    expect(normalizeRetry(r)).toBe(r);
    expect(normalizeRetry({ ...r })).toEqual(r); // a copy is checked again, and passes
  });
});
