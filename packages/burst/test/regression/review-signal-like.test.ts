// Issue 9 review: the valve accepts signal-like objects (a boolean `aborted` and an
// `addEventListener`), as `validateSignal` does. The shared listener once found the signal via
// `event.target` and was re-added for every group, relying on the target skipping duplicates: a
// signal-like object that does neither lost its abort and gained one listener per call. Each
// signal now gets one listener per valve, its group, which reads its own signal.
import { deferred, track } from '@valve/testkit';
import { describe, expect, it } from 'vitest';
import { BurstValve } from '../../src/index.js';

/** A minimal signal: no event target on dispatch, no de-duplication of listeners. */
function signalLike() {
  const listeners: unknown[] = [];
  const signal = {
    aborted: false,
    reason: undefined as unknown,
    addEventListener: (_type: string, listener: unknown) => listeners.push(listener),
    removeEventListener: (_type: string, listener: unknown) => {
      const i = listeners.indexOf(listener);
      if (i >= 0) listeners.splice(i, 1);
    },
    abort(reason: unknown) {
      signal.aborted = true;
      signal.reason = reason;
      for (const l of listeners.splice(0)) {
        if (typeof l === 'function') l({});
        else (l as { handleEvent(e: unknown): void }).handleEvent({});
      }
    },
  };
  return { signal, listeners };
}

describe('issue 9 review: signal-like objects', () => {
  it('one listener per valve however many calls reuse the signal', async () => {
    const { signal, listeners } = signalLike();
    const valve = new BurstValve<number, number>((k) => Promise.resolve(k));
    for (let i = 0; i < 100; i++) {
      await valve.fetch(i, { signal: signal as unknown as AbortSignal });
    }
    expect(listeners.length).toBe(1);
  });

  it('an abort reaches the caller waiting with it, after earlier calls settled', async () => {
    const { signal } = signalLike();
    const gate = deferred<number>();
    let runs = 0;
    const valve = new BurstValve<number, string>(() => (++runs === 1 ? Promise.resolve(0) : gate.promise));
    await valve.fetch('a', { signal: signal as unknown as AbortSignal });
    const waiting = track(valve.fetch('b', { signal: signal as unknown as AbortSignal }));
    const other = track(valve.fetch('b'));
    signal.abort('stop');
    await Promise.resolve();
    await Promise.resolve();
    expect(waiting.error).toBe('stop');
    gate.resolve(7);
    await gate.promise;
    await Promise.resolve();
    await Promise.resolve();
    expect(other.value).toBe(7);
  });
});
