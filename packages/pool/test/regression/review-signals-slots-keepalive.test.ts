// Review findings on @valve/pool (see /tmp/rev/pool1.mjs in the review):
// 1. (P1) every plain task got the SAME never-aborting signal, so the `abort` listeners tasks add
//    (fetch and most clients add one) piled up forever: 1000 tasks -> 1000 listeners and a
//    MaxListenersExceededWarning on stderr.
// 2. (P1) a timed-out or aborted task's slot is freed while its code keeps running, so a hung
//    downstream could see more than `maxWorkers` calls at once without bound: `releaseOnTimeout:
//    false` holds the slot until the task settles, and `stats().abandoned` counts such tasks.
// 3. (P3) nothing kept the process alive while `drain()`/`done()` waited on a paused pool with
//    queued work (issue 10, rule 5).
import { getEventListeners } from 'node:events';
import { ManualClock, MetricsRegistry } from '@valve/core';
import { deferred, flush, track } from '@valve/testkit';
import { describe, expect, it } from 'vitest';
import { PromisePool } from '../../src/index.js';

describe('each task gets its own signal', () => {
  it('plain run() tasks: listeners added by 1000 finished tasks do not pile up on one signal', async () => {
    const pool = new PromisePool({ maxWorkers: 4 });
    const signals = new Set<AbortSignal>();
    for (let i = 0; i < 1000; i++) {
      await pool.run(({ signal }) => {
        signals.add(signal);
        signal.addEventListener('abort', () => {});
        return i;
      });
    }
    expect(signals.size).toBe(1000);
    for (const s of signals) {
      expect(s.aborted).toBe(false);
      expect(getEventListeners(s, 'abort')).toHaveLength(1);
    }
  });

  it('plain add() tasks, queued or not, get unshared signals', async () => {
    const pool = new PromisePool({ maxWorkers: 2 });
    const seen: AbortSignal[] = [];
    const gates = Array.from({ length: 6 }, () => deferred());
    pool.add(
      ...gates.map((g) => ({ signal }: { signal: AbortSignal }) => {
        seen.push(signal);
        return g.promise;
      }),
    );
    for (const g of gates) g.resolve();
    await pool.drain();
    expect(new Set(seen).size).toBe(6);
  });

  it('jobs with a record but nothing to abort them (metrics on) get one signal each, stable across reads', async () => {
    const pool = new PromisePool({ maxWorkers: 2, metrics: new MetricsRegistry() });
    const pairs: [AbortSignal, AbortSignal][] = [];
    for (let i = 0; i < 3; i++) await pool.run((ctx) => pairs.push([ctx.signal, ctx.signal]));
    for (const [a, b] of pairs) expect(a).toBe(b);
    expect(new Set(pairs.map(([a]) => a)).size).toBe(3);
  });

  it('a task with a caller signal and no timeout still gets the caller signal itself', async () => {
    const pool = new PromisePool({ maxWorkers: 1 });
    const ac = new AbortController();
    let got: AbortSignal | undefined;
    await pool.run(
      ({ signal }) => {
        got = signal;
      },
      { signal: ac.signal },
    );
    expect(got).toBe(ac.signal);
  });
});

describe('releaseOnTimeout and stats().abandoned', () => {
  function hungTasks(pool: PromisePool, n: number) {
    let running = 0;
    let peak = 0;
    const release: (() => void)[] = [];
    const calls = Array.from({ length: n }, () =>
      track(
        pool.run(() => {
          running++;
          peak = Math.max(peak, running);
          return new Promise<void>((resolve) =>
            release.push(() => {
              running--;
              resolve();
            }),
          );
        }),
      ),
    );
    return {
      calls,
      release,
      get running() {
        return running;
      },
      get peak() {
        return peak;
      },
    };
  }

  it('default (true): the slot is freed at timeout and the still-running task counts as abandoned', async () => {
    const clock = new ManualClock();
    const pool = new PromisePool({ maxWorkers: 2, taskTimeoutMs: 10, clock });
    const t = hungTasks(pool, 6);
    for (let k = 0; k < 3; k++) await clock.advanceAsync(10);
    expect(t.running).toBe(6); // the default: slots freed, code still runs
    expect(pool.stats()).toMatchObject({ active: 0, queued: 0, abandoned: 6, timedOut: 6, failed: 6 });
    for (const r of t.release) r();
    await flush();
    expect(pool.stats()).toMatchObject({ active: 0, abandoned: 0 });
  });

  it('false: at most maxWorkers tasks run, even when they ignore their signal', async () => {
    const clock = new ManualClock();
    const pool = new PromisePool({ maxWorkers: 2, taskTimeoutMs: 10, releaseOnTimeout: false, clock });
    const t = hungTasks(pool, 6);
    for (let k = 0; k < 5; k++) await clock.advanceAsync(10);
    expect(t.peak).toBe(2);
    // The callers of the two timed-out tasks got their TimeoutError; the rest wait for a slot.
    expect(t.calls.map((c) => c.state)).toEqual(['rejected', 'rejected', 'pending', 'pending', 'pending', 'pending']);
    expect((t.calls[0]!.error as Error).name).toBe('TimeoutError');
    expect(pool.stats()).toMatchObject({ active: 2, queued: 4, abandoned: 2, timedOut: 2, failed: 2 });
    // The hung downstream answers: the held slots go to the next tasks, one for one.
    t.release[0]!();
    await flush();
    expect(pool.stats()).toMatchObject({ active: 2, queued: 3, abandoned: 1 });
    expect(t.peak).toBe(2);
    for (let k = 0; k < 10 && (pool.stats().queued > 0 || pool.stats().active > 0); k++) {
      for (const r of t.release.splice(0)) r();
      await flush();
      await clock.advanceAsync(10);
    }
    for (const r of t.release.splice(0)) r();
    await flush();
    expect(t.peak).toBe(2);
    expect(pool.stats()).toMatchObject({ active: 0, queued: 0, abandoned: 0 });
    expect(t.calls.every((c) => c.state !== 'pending')).toBe(true);
  });

  it('false, abort while running: the caller rejects with the reason at once, the slot waits for the task', async () => {
    const clock = new ManualClock();
    const pool = new PromisePool({ maxWorkers: 1, releaseOnTimeout: false, clock });
    const ac = new AbortController();
    const hung = deferred();
    const first = track(pool.run(() => hung.promise, { signal: ac.signal }));
    const second = track(pool.run(async () => 'second'));
    ac.abort('R');
    await flush();
    expect(first.error).toBe('R');
    expect(second.state).toBe('pending');
    expect(pool.stats()).toMatchObject({ active: 1, abandoned: 1, failed: 1 });
    const idle = track(pool.onIdle());
    await flush();
    expect(idle.state).toBe('pending');
    hung.resolve();
    await flush();
    expect(second.value).toBe('second');
    expect(idle.state).toBe('resolved');
    expect(pool.stats()).toMatchObject({ active: 0, abandoned: 0, completed: 1, failed: 1 });
  });

  it('false: a held slot is released after done() finalizes, and sources are closed only then', async () => {
    const clock = new ManualClock();
    const pool = new PromisePool({ maxWorkers: 1, taskTimeoutMs: 5, releaseOnTimeout: false, clock });
    const hung = deferred();
    pool.add(() => hung.promise);
    const done = track(pool.done());
    await clock.advanceAsync(5);
    expect(done.state).toBe('resolved');
    expect((done.value as { failed: number }).failed).toBe(1);
    expect(pool.stats()).toMatchObject({ active: 1, abandoned: 1 });
    hung.resolve();
    await flush();
    expect(pool.stats()).toMatchObject({ active: 0, abandoned: 0 });
    expect(clock.pendingTimers).toBe(0);
  });

  it('validates releaseOnTimeout', () => {
    expect(() => new PromisePool({ releaseOnTimeout: 'no' as never })).toThrow(/releaseOnTimeout/);
  });
});

describe('a drain on a paused pool keeps the process alive', () => {
  it('done() on a paused pool with queued work holds one ref’d timer until it settles', async () => {
    const clock = new ManualClock();
    const pool = new PromisePool({ maxWorkers: 1, clock });
    pool.pause();
    pool.add(async () => {});
    expect(clock.refedTimers).toBe(0); // nobody waits yet: an idle paused pool may let the process exit
    const done = track(pool.done());
    expect(clock.refedTimers).toBe(1);
    pool.resume();
    expect(clock.refedTimers).toBe(0);
    await flush();
    expect(done.state).toBe('resolved');
    expect(clock.pendingTimers).toBe(0);
  });

  it('drain(): pausing while it waits arms it, the drain settling releases it', async () => {
    const clock = new ManualClock();
    const pool = new PromisePool({ maxWorkers: 1, clock });
    const gate = deferred();
    pool.add(
      () => gate.promise,
      async () => {},
    );
    const drained = track(pool.drain());
    expect(clock.refedTimers).toBe(0); // a task runs: its own work keeps the process alive
    pool.pause();
    expect(clock.refedTimers).toBe(1);
    gate.resolve();
    await flush();
    expect(drained.state).toBe('pending');
    expect(clock.refedTimers).toBe(1);
    pool.resume();
    await flush();
    expect(drained.state).toBe('resolved');
    expect(clock.pendingTimers).toBe(0);
  });

  it('a later drain() taking over keeps it; work added while paused and draining arms it', async () => {
    const clock = new ManualClock();
    const pool = new PromisePool({ maxWorkers: 1, clock });
    pool.pause();
    const first = track(pool.drain()); // nothing accepted: resolves at once, no timer
    await flush();
    expect(first.state).toBe('resolved');
    pool.add(async () => {});
    const second = track(pool.drain());
    const third = track(pool.drain());
    await flush();
    expect(second.state).toBe('resolved');
    expect(third.state).toBe('pending');
    expect(clock.refedTimers).toBe(1);
    pool.resume();
    await flush();
    expect(third.state).toBe('resolved');
    expect(clock.pendingTimers).toBe(0);
  });
});
