// Found by running p-queue 9.3.3's test suite against the pool ("abort listener is removed when job
// is completed", "clear() removes queued abort listeners"): the pool's abort listener on a signal
// stayed after every task using that signal had settled or been cleared, until the signal aborted.
// The listener holds the pool, so pools sharing a long-lived signal (a process's shutdown signal)
// were never collected, and the eleventh one tripped MaxListenersExceededWarning: the leak issue 18
// removed for one pool came back across pools.
import { getEventListeners } from 'node:events';
import { deferred } from '@valve/testkit';
import { describe, expect, it } from 'vitest';
import { PromisePool } from '../../src/index.js';

const listeners = (signal: AbortSignal) => getEventListeners(signal, 'abort').length;

describe('the abort listener leaves the signal with the last task that used it', () => {
  it('a finished task, started at once or after waiting', async () => {
    const pool = new PromisePool({ maxWorkers: 1 });
    const { signal } = new AbortController();
    for (let i = 0; i < 3; i++) {
      await pool.run(async () => i, { signal });
      expect(listeners(signal)).toBe(0);
    }
    const gate = deferred();
    const head = pool.run(() => gate.promise);
    const queued = pool.run(async () => 'done', { signal });
    expect(listeners(signal)).toBe(1);
    gate.resolve();
    await head;
    expect(await queued).toBe('done');
    expect(listeners(signal)).toBe(0);
  });

  it('cleared tasks', async () => {
    const pool = new PromisePool({ maxWorkers: 1 });
    pool.pause();
    const { signal } = new AbortController();
    for (let round = 0; round < 3; round++) {
      const cleared = [1, 2].map((i) => pool.run(async () => i, { signal }).catch((e: unknown) => e));
      expect(listeners(signal)).toBe(1);
      pool.clear();
      expect(listeners(signal)).toBe(0);
      await Promise.all(cleared);
    }
  });

  it('a signal that comes back is listened to again, and its abort still settles the task', async () => {
    const pool = new PromisePool({ maxWorkers: 1 });
    const controller = new AbortController();
    await pool.run(async () => 1, { signal: controller.signal });
    const gate = deferred();
    const head = pool.run(() => gate.promise);
    const queued = pool.run(async () => 2, { signal: controller.signal });
    expect(listeners(controller.signal)).toBe(1);
    const reason = new Error('stop');
    controller.abort(reason);
    await expect(queued).rejects.toBe(reason);
    gate.resolve();
    await head;
  });

  it('pools that shared a long-lived signal leave no listener on it (no MaxListenersExceededWarning)', async () => {
    const { signal } = new AbortController();
    for (let i = 0; i < 20; i++) {
      const pool = new PromisePool({ maxWorkers: 2 });
      await pool.run(async () => i, { signal });
      await pool.done();
    }
    expect(listeners(signal)).toBe(0);
  });
});
