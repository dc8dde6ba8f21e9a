// Issue 18 item 0: queued jobs sharing one AbortSignal added one listener each, so an abort was
// quadratic (4x10^4 queued run()s blocked the event loop 6.4 s) and Node warned
// MaxListenersExceededWarning at the eleventh. Now: one listener per distinct signal.
import { getEventListeners } from 'node:events';
import { deferred } from '@valve/testkit';
import { describe, expect, it } from 'vitest';
import { SafetyValve } from '../../src/index.js';

describe('issue 18: 10^5 queued jobs on one signal', () => {
  it('run(): one listener on the signal, and one abort settles every waiter with its reason', async () => {
    const n = 100_000;
    const valve = new SafetyValve({ concurrency: 1, size: n });
    const gate = deferred();
    const head = valve.run(() => gate.promise);
    const ac = new AbortController();
    const settled: Promise<unknown>[] = new Array(n);
    let rejected = 0;
    const reason = new Error('request gone');
    for (let i = 0; i < n; i++) {
      settled[i] = valve
        .run(() => i, { signal: ac.signal })
        .then(
          () => 'ran',
          (e) => {
            if (e === reason) rejected++;
          },
        );
    }
    expect(getEventListeners(ac.signal, 'abort')).toHaveLength(1);
    expect(valve.stats().queued).toBe(n);
    const started = performance.now();
    ac.abort(reason);
    // Generous bound against a regression to quadratic time (the old code took minutes here).
    expect(performance.now() - started).toBeLessThan(2000);
    expect(valve.stats().queued).toBe(0);
    await Promise.all(settled);
    expect(rejected).toBe(n);
    gate.resolve();
    await head;
    expect(valve.stats()).toMatchObject({ queued: 0, running: 0, aborted: n });
    valve.close();
  });

  it('jobs that start leave the group; a reused signal keeps exactly one listener', async () => {
    const valve = new SafetyValve({ concurrency: 1, size: 10 });
    const ac = new AbortController();
    for (let round = 0; round < 3; round++) {
      const gate = deferred();
      const head = valve.run(() => gate.promise);
      const waiting = [1, 2, 3].map((i) => valve.run(() => i, { signal: ac.signal }));
      expect(getEventListeners(ac.signal, 'abort')).toHaveLength(1);
      gate.resolve();
      await head;
      expect(await Promise.all(waiting)).toEqual([1, 2, 3]);
    }
    expect(getEventListeners(ac.signal, 'abort')).toHaveLength(1);
    ac.abort(); // nothing queued: nothing rejects
    valve.close();
  });
});
