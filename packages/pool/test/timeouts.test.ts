import { isValveError, ManualClock } from '@valve/core';
import { deferred, flush, track } from '@valve/testkit';
import { describe, expect, it } from 'vitest';
import { PoolTimeoutError, PromisePool } from '../src/index.js';

describe('taskTimeoutMs and run({ timeoutMs })', () => {
  it('aborts the task’s signal, frees its slot and counts it failed with a TimeoutError', async () => {
    const clock = new ManualClock();
    const errors: unknown[] = [];
    const pool = new PromisePool({ maxWorkers: 1, taskTimeoutMs: 100, clock, onError: (e) => errors.push(e) });
    let signal: AbortSignal | undefined;
    pool.add(({ signal: s }) => {
      signal = s;
      return new Promise<void>(() => {});
    });
    const next = track(pool.run(async () => 'next'));
    expect(clock.refedTimers).toBe(1);
    await clock.advanceAsync(99);
    expect(signal!.aborted).toBe(false);
    expect(next.state).toBe('pending');
    await clock.advanceAsync(1);
    expect(signal!.aborted).toBe(true);
    expect(isValveError(signal!.reason, 'ERR_VALVE_TIMEOUT')).toBe(true);
    expect(next.value).toBe('next');
    expect(errors).toHaveLength(1);
    expect((errors[0] as Error).message).toBe('task timed out after 100 ms');
    expect(pool.stats()).toMatchObject({ failed: 1, timedOut: 1, completed: 1 });
    expect(clock.pendingTimers).toBe(0);
  });

  it('a per-call timeoutMs overrides the pool’s; a task settling after its timeout is ignored', async () => {
    const clock = new ManualClock();
    const pool = new PromisePool({ taskTimeoutMs: 1000, clock });
    const late = deferred<string>();
    const call = track(pool.run(() => late.promise, { timeoutMs: 10 }));
    await clock.advanceAsync(10);
    expect(call.state).toBe('rejected');
    expect((call.error as Error).name).toBe('TimeoutError');
    late.resolve('too late');
    await flush();
    expect(call.settleCount).toBe(1);
    expect(pool.stats()).toMatchObject({ completed: 0, failed: 1, active: 0 });
  });

  it('creates no AbortController for a task that never reads its signal', async () => {
    const clock = new ManualClock();
    const pool = new PromisePool({ taskTimeoutMs: 10, clock });
    const Original = globalThis.AbortController;
    let made = 0;
    globalThis.AbortController = class extends Original {
      constructor() {
        super();
        made++;
      }
    };
    try {
      await pool.run(async () => 1);
      await pool.run(async ({ signal }) => signal.aborted);
    } finally {
      globalThis.AbortController = Original;
    }
    expect(made).toBe(1);
  });
});

describe('run({ signal })', () => {
  it('an abort while queued removes the task and rejects with signal.reason', async () => {
    const pool = new PromisePool({ maxWorkers: 1 });
    const gate = deferred();
    pool.add(() => gate.promise);
    const ac = new AbortController();
    let ran = false;
    const call = track(
      pool.run(
        async () => {
          ran = true;
        },
        { signal: ac.signal },
      ),
    );
    expect(pool.size).toBe(1);
    const reason = new Error('stop');
    ac.abort(reason);
    await flush();
    expect(call.error).toBe(reason);
    expect(pool.size).toBe(0);
    gate.resolve();
    const s = await pool.drain();
    expect(ran).toBe(false);
    expect(s).toMatchObject({ completed: 1, failed: 1 });
  });

  it('an abort while running aborts the task’s signal and frees the slot', async () => {
    const pool = new PromisePool({ maxWorkers: 1 });
    const ac = new AbortController();
    let seen: AbortSignal | undefined;
    const call = track(
      pool.run(
        ({ signal }) => {
          seen = signal;
          return new Promise(() => {});
        },
        { signal: ac.signal },
      ),
    );
    expect(seen).toBe(ac.signal);
    ac.abort('why');
    await flush();
    expect(call.error).toBe('why');
    expect(pool.active).toBe(0);
  });

  it('an already aborted signal rejects at once and accepts nothing', async () => {
    const pool = new PromisePool();
    await expect(pool.run(async () => 1, { signal: AbortSignal.abort('early') })).rejects.toBe('early');
    expect(pool.stats()).toMatchObject({ completed: 0, failed: 0 });
  });

  it('abort storms do not grow the queue without bound', async () => {
    const pool = new PromisePool({ maxWorkers: 1 });
    const gate = deferred();
    pool.add(() => gate.promise);
    for (let i = 0; i < 1000; i++) {
      const ac = new AbortController();
      const p = pool.run(async () => {}, { signal: ac.signal });
      p.catch(() => {});
      ac.abort();
    }
    expect(pool.size).toBe(0);
    // Dead entries are compacted once they outnumber live ones (checked through the queue).
    const line = (pool as unknown as { line: { held: number } }).line;
    expect(line.held).toBeLessThan(64);
    gate.resolve();
    expect((await pool.drain()).failed).toBe(1000);
    expect(pool.stats()).toMatchObject({
      failed: 0,
      rejected: 1000,
      rejectedByReason: expect.objectContaining({ aborted: 1000 }),
    });
  });
});

describe('runtimeLimitMs', () => {
  it('rejects the waiting drain with what did not finish; the pool stays usable', async () => {
    const clock = new ManualClock();
    const pool = new PromisePool({ maxWorkers: 1, runtimeLimitMs: 1000, clock });
    const gate = deferred();
    pool.add(async () => {});
    pool.add(() => gate.promise);
    pool.add(async () => {});
    clock.advance(400);
    const drained = track(pool.drain());
    await clock.advanceAsync(599);
    expect(drained.state).toBe('pending');
    expect(clock.refedTimers).toBe(1);
    await clock.advanceAsync(1);
    expect(drained.state).toBe('rejected');
    const error = drained.error as PoolTimeoutError;
    expect(error).toBeInstanceOf(PoolTimeoutError);
    expect(isValveError(error, 'ERR_VALVE_TIMEOUT')).toBe(true);
    expect(error.reason).toBe('deadline');
    expect(error.summary).toMatchObject({ completed: 1, failed: 0, unfinished: { queued: 1, active: 1 } });
    expect(error.message).toContain('1 running, 1 waiting');
    gate.resolve();
    expect(await pool.drain()).toMatchObject({ completed: 2 });
    expect(clock.pendingTimers).toBe(0);
  });

  it('a drain called after the limit passed rejects at once', async () => {
    const clock = new ManualClock();
    const pool = new PromisePool({ runtimeLimitMs: 50, clock });
    const gate = deferred();
    pool.add(() => gate.promise);
    clock.advance(50);
    await expect(pool.drain()).rejects.toMatchObject({ reason: 'deadline' });
    gate.resolve();
    await pool.drain();
  });

  it('a fast cycle resolves and leaves no timer', async () => {
    const clock = new ManualClock();
    const pool = new PromisePool({ runtimeLimitMs: 50, clock });
    pool.add(async () => {});
    await pool.drain();
    expect(clock.pendingTimers).toBe(0);
  });
});

describe('idleTimeoutMs (zombie detection)', () => {
  it('rejects the waiting done() when running tasks make no progress', async () => {
    const clock = new ManualClock();
    const pool = new PromisePool({ maxWorkers: 2, idleTimeoutMs: 100, clock });
    const stuck = () => new Promise<void>(() => {});
    const slow = deferred();
    pool.add(stuck, () => slow.promise);
    const done = track(pool.done());
    await clock.advanceAsync(60);
    slow.resolve(); // progress at t=60: the clock restarts
    await clock.advanceAsync(99);
    expect(done.state).toBe('pending');
    await clock.advanceAsync(1);
    expect(done.state).toBe('rejected');
    const e = done.error as PoolTimeoutError;
    expect(e.reason).toBe('timeout');
    expect(e.summary.unfinished.active).toBe(1);
    expect(e.message).toContain('1 task(s) running and none settled for idleTimeoutMs (100 ms)');
  });

  it('does not fire while nothing runs (a paused pool is not stuck)', async () => {
    const clock = new ManualClock();
    const pool = new PromisePool({ idleTimeoutMs: 100, clock });
    pool.pause();
    pool.add(async () => {});
    const drained = track(pool.drain());
    await clock.advanceAsync(1000);
    expect(drained.state).toBe('pending');
    pool.resume();
    await flush();
    expect(drained.state).toBe('resolved');
  });
});

describe('timers keep the process alive only while work waits', () => {
  it('an idle pool holds no ref’d timer', async () => {
    const clock = new ManualClock();
    const pool = new PromisePool({ taskTimeoutMs: 10, runtimeLimitMs: 100, idleTimeoutMs: 50, rate: 1, hz: 10, clock });
    await pool.run(async () => {});
    await pool.drain();
    pool.pauseFor(1000);
    expect(clock.refedTimers).toBe(0);
  });
});
