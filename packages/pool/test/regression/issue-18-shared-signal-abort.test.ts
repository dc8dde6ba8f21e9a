// Issue 18 item 0: queued work sharing one AbortSignal added one listener per task to it, so an
// abort removed them one by one (quadratic: 4x10^4 queued run()s blocked the event loop 14 s) and
// Node warned MaxListenersExceededWarning at the eleventh. Now: one listener per distinct signal.
import { getEventListeners } from 'node:events';
import { deferred } from '@valve/testkit';
import { describe, expect, it } from 'vitest';
import { PromisePool } from '../../src/index.js';

describe('issue 18: 10^5 queued tasks on one signal', () => {
  it('run(): one listener on the signal, and one abort settles every waiter with its reason', async () => {
    const pool = new PromisePool({ maxWorkers: 1 });
    const gate = deferred();
    const head = pool.run(() => gate.promise);
    const ac = new AbortController();
    const n = 100_000;
    const settled: Promise<unknown>[] = new Array(n);
    let rejected = 0;
    const reason = new Error('request gone');
    for (let i = 0; i < n; i++) {
      settled[i] = pool
        .run(() => i, { signal: ac.signal })
        .then(
          () => 'ran',
          (e) => {
            if (e === reason) rejected++;
          },
        );
    }
    expect(getEventListeners(ac.signal, 'abort')).toHaveLength(1);
    expect(pool.size).toBe(n);
    const started = performance.now();
    ac.abort(reason);
    // Generous bound against a regression to quadratic time (the old code took minutes here).
    expect(performance.now() - started).toBeLessThan(2000);
    expect(pool.size).toBe(0);
    await Promise.all(settled);
    expect(rejected).toBe(n);
    expect(getEventListeners(ac.signal, 'abort')).toHaveLength(0);
    gate.resolve();
    await head;
    expect(pool.stats()).toMatchObject({ queued: 0, active: 0, failed: 0, rejected: n, completed: 1 });
  });

  it('a long-lived signal reused by later tasks has one listener while they wait, none after', async () => {
    const pool = new PromisePool({ maxWorkers: 1 });
    const ac = new AbortController();
    for (let round = 0; round < 3; round++) {
      const gate = deferred();
      const head = pool.run(() => gate.promise);
      const waiting = [1, 2, 3].map((i) => pool.run(() => i, { signal: ac.signal }));
      expect(getEventListeners(ac.signal, 'abort')).toHaveLength(1);
      gate.resolve();
      await head;
      expect(await Promise.all(waiting)).toEqual([1, 2, 3]);
      // The pool's one listener object leaves with the last task using the signal, so a long-lived
      // signal does not keep the pool alive (test/regression/peer-suites-signal-listener.test.ts).
      expect(getEventListeners(ac.signal, 'abort')).toHaveLength(0);
    }
  });
});
