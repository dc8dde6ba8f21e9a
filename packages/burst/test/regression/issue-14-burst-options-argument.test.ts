// Issue 14, defect 2: `new BurstValve(fetcher, { timeoutMs: 30 })` silently ignored its second
// argument, so the call never timed out. DataLoader (`new DataLoader(fn, options)`) and p-memoize
// users write exactly this. The options after a fetcher are now used, or the constructor throws.
import { isValveError, ManualClock } from '@valve/core';
import { flush, track } from '@valve/testkit';
import { describe, expect, it } from 'vitest';
import { BurstValve } from '../../src/index.js';

const never = () => new Promise<string>(() => {});

describe('issue 14: new BurstValve(fetcher, options) uses its options', () => {
  it('(fetcher, { timeoutMs, clock }): the call times out', async () => {
    const clock = new ManualClock();
    const valve = new BurstValve<string, string>(never, { timeoutMs: 30, clock });
    const call = track(valve.fetch('k'));
    await clock.advanceAsync(29);
    expect(call.state).toBe('pending');
    await clock.advanceAsync(1);
    await flush();
    expect(call.state).toBe('rejected');
    expect(isValveError(call.error, 'ERR_VALVE_TIMEOUT')).toBe(true);
  });

  it('(displayName, fetcher, options): the options are used too', async () => {
    const clock = new ManualClock();
    const valve = new BurstValve<string, string>('users', never, { timeoutMs: 30, clock, name: 'users' });
    expect(valve.displayName).toBe('users');
    expect(valve.name).toBe('users');
    const call = track(valve.fetch('k'));
    await clock.advanceAsync(30);
    await flush();
    expect(call.state).toBe('rejected');
    expect(String((call.error as Error).message)).toContain('users: the call for key "k" timed out after 30 ms');
  });

  it('an argument that cannot be used throws instead of being ignored', () => {
    const fetcher = async () => 'v';
    // Untyped, as JavaScript callers (and mistyped TypeScript ones) reach the constructor.
    const Untyped = BurstValve as unknown as new (...args: unknown[]) => unknown;
    expect(() => new Untyped(fetcher, { timeOutMs: 30 })).toThrow('options.timeOutMs is not a known option');
    expect(() => new Untyped(fetcher, { fetch: fetcher })).toThrow(
      'options.fetch cannot be given with a fetcher argument',
    );
    expect(() => new Untyped(fetcher, 30)).toThrow('options must be an object, got 30');
    expect(() => new Untyped({ fetch: fetcher }, { timeoutMs: 30 })).toThrow(
      'new BurstValve() takes at most 1 argument in this form, got 2',
    );
    expect(() => new Untyped(fetcher, {}, {})).toThrow('takes at most 2 arguments in this form, got 3');
    expect(() => new Untyped('x', fetcher, { displayName: 'y' })).toThrow(
      'options.displayName cannot be given with a displayName argument',
    );
  });
});
