import { ClosedError, isValveError, ManualClock } from '@valve/core';
import { deferred, flush, track } from '@valve/testkit';
import { describe, expect, it, vi } from 'vitest';
import DefaultPool, { PromisePool, type TaskContext } from '../src/index.js';

describe('PromisePool: the seed API', () => {
  it('is both the default and a named export', () => {
    expect(DefaultPool).toBe(PromisePool);
  });

  it('defaults to 4 workers', async () => {
    const pool = new PromisePool();
    const gates = Array.from({ length: 6 }, () => deferred());
    const started = pool.add(...gates.map((g) => () => g.promise));
    expect(started).toBe(4);
    expect(pool.active).toBe(4);
    expect(pool.size).toBe(2);
    expect(pool.limit).toBe(4);
    for (const g of gates) g.resolve();
    await pool.drain();
  });

  it('never runs more than maxWorkers at once, FIFO', async () => {
    const pool = new PromisePool({ maxWorkers: 2 });
    const gates = Array.from({ length: 5 }, () => deferred());
    const order: number[] = [];
    let running = 0;
    let peak = 0;
    gates.forEach((g, i) => {
      pool.add(async () => {
        order.push(i);
        peak = Math.max(peak, ++running);
        await g.promise;
        running--;
      });
    });
    expect(order).toEqual([0, 1]);
    gates[1]!.resolve();
    await flush();
    expect(order).toEqual([0, 1, 2]);
    for (const g of gates) g.resolve();
    const summary = await pool.drain();
    expect(order).toEqual([0, 1, 2, 3, 4]);
    expect(peak).toBe(2);
    expect(summary).toMatchObject({ completed: 5, failed: 0, errors: [], unfinished: { queued: 0, active: 0 } });
  });

  it('add() returns how many started right away', () => {
    const pool = new PromisePool({ maxWorkers: 3 });
    const never = () => new Promise<void>(() => {});
    expect(pool.add(never, never)).toBe(2);
    expect(pool.add(never, never)).toBe(1);
    expect(pool.add(never)).toBe(0);
  });

  it('add() with a non-function throws a TypeError and adds nothing', () => {
    const pool = new PromisePool({ maxWorkers: 1 });
    const ok = vi.fn(async () => {});
    expect(() => pool.add(ok, 'nope' as never)).toThrow(
      new TypeError('add(): task 1 must be a function returning a promise, got "nope"'),
    );
    expect(ok).not.toHaveBeenCalled();
    expect(pool.size + pool.active).toBe(0);
  });

  it('tasks get { signal, attempt }; zero-argument tasks ignore it', async () => {
    const pool = new PromisePool();
    let seen: TaskContext | undefined;
    pool.add((ctx) => {
      seen = ctx;
      return Promise.resolve();
    });
    await pool.drain();
    expect(seen!.attempt).toBe(1);
    expect(seen!.signal.aborted).toBe(false);
  });

  it('a task that throws synchronously or returns a non-promise is handled like any other', async () => {
    const errors: unknown[] = [];
    const pool = new PromisePool({ onError: (e) => errors.push(e) });
    const boom = new Error('sync');
    pool.add(() => {
      throw boom;
    });
    pool.add((() => 42) as never);
    pool.add(() => Promise.reject('not an error'));
    const summary = await pool.drain();
    expect(summary.completed).toBe(1);
    expect(summary.failed).toBe(2);
    expect(summary.errors).toEqual([boom, 'not an error']);
    expect(errors).toEqual([boom, 'not an error']);
  });

  it('onError gets the priority and attempts; a throwing onError does not break the pool', async () => {
    const info: unknown[] = [];
    const thrown = new Error('from onError');
    const uncaught: unknown[] = [];
    const pool = new PromisePool({
      maxWorkers: 1,
      onError: (_e, i) => {
        info.push(i);
        throw thrown;
      },
    });
    const original = globalThis.queueMicrotask;
    globalThis.queueMicrotask = (fn) =>
      original(() => {
        try {
          fn();
        } catch (e) {
          uncaught.push(e);
        }
      });
    try {
      pool.add(() => Promise.reject(new Error('x')));
      pool.add(async () => {});
      const s = await pool.drain();
      expect(s).toMatchObject({ completed: 1, failed: 1 });
    } finally {
      globalThis.queueMicrotask = original;
    }
    expect(info).toEqual([{ priority: 0, attempts: 1 }]);
    expect(uncaught).toEqual([thrown]);
  });

  it('keeps only maxErrors errors per summary, counting all', async () => {
    const pool = new PromisePool({ maxErrors: 2 });
    for (let i = 0; i < 5; i++) pool.add(() => Promise.reject(i));
    const s = await pool.drain();
    expect(s.failed).toBe(5);
    expect(s.errors).toEqual([0, 1]);
  });
});

describe('PromisePool: smart drain() and done()', () => {
  it('drain() on an empty pool resolves at once with an empty summary', async () => {
    const pool = new PromisePool();
    expect(await pool.drain()).toEqual({
      completed: 0,
      failed: 0,
      errors: [],
      unfinished: { queued: 0, active: 0 },
      durationMs: 0,
    });
  });

  it('only the latest drain() caller waits; earlier ones resolve at once with the cycle so far', async () => {
    const pool = new PromisePool({ maxWorkers: 1 });
    const a = deferred();
    const b = deferred();
    pool.add(() => a.promise);
    const first = track(pool.drain());
    pool.add(() => b.promise);
    await flush();
    expect(first.state).toBe('pending');
    const second = track(pool.drain());
    await flush();
    expect(first.state).toBe('resolved');
    expect(first.value).toMatchObject({ completed: 0, unfinished: { queued: 1, active: 1 } });
    a.resolve();
    await flush();
    expect(second.state).toBe('pending');
    b.resolve();
    await flush();
    expect(second.state).toBe('resolved');
    expect(second.value).toMatchObject({ completed: 2, failed: 0 });
  });

  it('drain() waits for the tasks added before it, not for later ones', async () => {
    const pool = new PromisePool({ maxWorkers: 4 });
    const before = deferred();
    const after = deferred();
    pool.add(() => before.promise);
    const drained = track(pool.drain());
    pool.add(() => after.promise);
    before.resolve();
    await flush();
    expect(drained.state).toBe('resolved');
    expect(drained.value).toMatchObject({ completed: 1, unfinished: { queued: 0, active: 1 } });
    after.resolve();
    expect(await pool.drain()).toMatchObject({ completed: 1, unfinished: { queued: 0, active: 0 } });
  });

  it('a priority task added after drain() does not delay it, nor does it count', async () => {
    const pool = new PromisePool({ maxWorkers: 1 });
    const gate = deferred();
    pool.add(() => gate.promise);
    const late = deferred();
    const drained = track(pool.drain());
    void pool.run(() => late.promise, { priority: 10 });
    gate.resolve();
    await flush();
    expect(drained.state).toBe('resolved');
    late.resolve();
    await pool.drain();
  });

  it('the pool stays usable after drain()', async () => {
    const pool = new PromisePool();
    pool.add(async () => {});
    expect((await pool.drain()).completed).toBe(1);
    pool.add(async () => {});
    pool.add(async () => {});
    expect((await pool.drain()).completed).toBe(2);
  });

  it('done() finalizes: every caller shares one promise; later add throws and run rejects ClosedError', async () => {
    const pool = new PromisePool({ maxWorkers: 1 });
    const gate = deferred();
    pool.add(() => gate.promise);
    const d1 = pool.done();
    const d2 = pool.done();
    expect(d1).toBe(d2);
    expect(pool.drain()).toBe(d1);
    expect(pool.isClosed).toBe(true);
    expect(() => pool.add(async () => {})).toThrow(ClosedError);
    await expect(pool.run(async () => 1)).rejects.toSatisfy((e) => isValveError(e, 'ERR_VALVE_CLOSED'));
    gate.resolve();
    expect(await d1).toMatchObject({ completed: 1 });
  });

  it('done() takes over from a waiting drain()', async () => {
    const pool = new PromisePool({ maxWorkers: 1 });
    const gate = deferred();
    pool.add(() => gate.promise);
    const drained = track(pool.drain());
    const done = track(pool.done());
    await flush();
    expect(drained.state).toBe('resolved');
    expect(done.state).toBe('pending');
    gate.resolve();
    await flush();
    expect(done.state).toBe('resolved');
  });

  it('summaries never grow with the number of results (a singleton does not leak)', async () => {
    const pool = new PromisePool({ maxWorkers: 8 });
    for (let i = 0; i < 10_000; i++) pool.add(() => Promise.resolve({ big: new Array(10).fill(i) }));
    const s = await pool.drain();
    expect(s.completed).toBe(10_000);
    expect(Object.keys(s).sort()).toEqual(['completed', 'durationMs', 'errors', 'failed', 'unfinished']);
  });

  it('durationMs is measured on the clock from the cycle’s first task', async () => {
    const clock = new ManualClock();
    const pool = new PromisePool({ clock });
    clock.advance(100);
    const gate = deferred();
    pool.add(() => gate.promise);
    clock.advance(250);
    gate.resolve();
    expect((await pool.drain()).durationMs).toBe(250);
  });
});

describe('PromisePool: run()', () => {
  it('resolves with the task’s own result; passes non-promise values and rejections through unchanged', async () => {
    const pool = new PromisePool({ maxWorkers: 1 });
    const gate = deferred();
    void pool.run(() => gate.promise);
    const queued = [
      pool.run(async () => 'a'),
      pool.run(() => 'b' as never),
      pool.run(() => Promise.reject('c')),
      pool.run(() => {
        throw 'd';
      }),
    ];
    gate.resolve();
    const results = await Promise.allSettled(queued);
    expect(results).toEqual([
      { status: 'fulfilled', value: 'a' },
      { status: 'fulfilled', value: 'b' },
      { status: 'rejected', reason: 'c' },
      { status: 'rejected', reason: 'd' },
    ]);
    // Immediate (not queued) starts behave the same.
    expect(await pool.run(() => 5 as never)).toBe(5);
    await expect(pool.run(() => Promise.reject('e'))).rejects.toBe('e');
    await expect(
      pool.run(() => {
        throw 'f';
      }),
    ).rejects.toBe('f');
    const s = await pool.drain();
    expect(s).toMatchObject({ completed: 4, failed: 4 });
  });

  it('accepts thenables', async () => {
    const pool = new PromisePool();
    // A thenable that is not a native promise, on purpose.
    // biome-ignore lint/suspicious/noThenProperty: testing thenable support
    const thenable = { then: (ok: (v: number) => void) => ok(7) };
    expect(await pool.run(() => thenable as PromiseLike<number>)).toBe(7);
    pool.add(() => thenable as PromiseLike<number>);
    expect((await pool.drain()).completed).toBe(2);
  });

  it('rejects run() errors to the caller only (onError is for add())', async () => {
    const onError = vi.fn();
    const pool = new PromisePool({ onError });
    await expect(pool.run(() => Promise.reject(new Error('mine')))).rejects.toThrow('mine');
    expect(onError).not.toHaveBeenCalled();
  });

  it('validates its arguments', () => {
    const pool = new PromisePool();
    expect(() => pool.run(5 as never)).toThrow(TypeError);
    expect(() => pool.run(async () => {}, { priority: Number.NaN })).toThrow('priority must be a finite number');
    expect(() => pool.run(async () => {}, { timeoutMs: 0 })).toThrow('timeoutMs must be a finite number > 0, got 0');
    expect(() => pool.run(async () => {}, { signal: {} as AbortSignal })).toThrow('signal must be an AbortSignal');
    expect(() => pool.run(async () => {}, 'x' as never)).toThrow('options must be an object');
  });
});

describe('PromisePool: priorities', () => {
  it('runs higher priority first, FIFO within a priority', async () => {
    const pool = new PromisePool({ maxWorkers: 1 });
    const gate = deferred();
    void pool.run(() => gate.promise);
    const order: string[] = [];
    const job = (name: string) => async () => {
      order.push(name);
    };
    const ps = [
      pool.run(job('low1'), { priority: -1 }),
      pool.run(job('mid1')),
      pool.run(job('high1'), { priority: 5 }),
      pool.run(job('mid2'), { priority: 0 }),
      pool.run(job('high2'), { priority: 5 }),
      pool.run(job('top'), { priority: 9.5 }),
      pool.run(job('low2'), { priority: -1 }),
    ];
    pool.add(job('add-mid3'));
    gate.resolve();
    await Promise.all(ps);
    await pool.drain();
    expect(order).toEqual(['top', 'high1', 'high2', 'mid1', 'mid2', 'add-mid3', 'low1', 'low2']);
  });
});

describe('PromisePool: producers’ back pressure', () => {
  it('onEmpty, onSizeLessThan and onIdle resolve on events', async () => {
    const pool = new PromisePool({ maxWorkers: 1 });
    const gates = Array.from({ length: 4 }, () => deferred());
    for (const g of gates) pool.add(() => g.promise);
    const lessThan3 = track(pool.onSizeLessThan(3));
    const lessThan2 = track(pool.onSizeLessThan(2));
    const empty = track(pool.onEmpty());
    const idle = track(pool.onIdle());
    await flush();
    expect(lessThan3.state).toBe('pending');
    gates[0]!.resolve();
    await flush();
    expect([lessThan3.state, lessThan2.state, empty.state]).toEqual(['resolved', 'pending', 'pending']);
    gates[1]!.resolve();
    gates[2]!.resolve();
    await flush();
    expect([lessThan2.state, empty.state, idle.state]).toEqual(['resolved', 'resolved', 'pending']);
    gates[3]!.resolve();
    await flush();
    expect(idle.state).toBe('resolved');
    await expect(pool.onIdle()).resolves.toBeUndefined();
    await expect(pool.onEmpty()).resolves.toBeUndefined();
    expect(() => pool.onSizeLessThan(0)).toThrow('limit must be an integer >= 1, got 0');
  });
});

describe('PromisePool: events and stats', () => {
  it('onSettled reports every outcome and can be disposed', async () => {
    const pool = new PromisePool();
    const events: unknown[] = [];
    const sub = pool.onSettled((e) => events.push(e));
    pool.add(async () => {});
    pool.add(() => Promise.reject('no'));
    await pool.drain();
    sub.dispose();
    pool.add(async () => {});
    await pool.drain();
    expect(events).toEqual([{ status: 'fulfilled' }, { status: 'rejected', error: 'no' }]);
  });

  it('stats() is plain JSON of the counts', async () => {
    const pool = new PromisePool({ maxWorkers: 2, name: 'jobs' });
    const gate = deferred();
    pool.add(
      () => gate.promise,
      () => gate.promise,
      () => gate.promise,
    );
    expect(pool.stats()).toEqual({
      name: 'jobs',
      queued: 1,
      running: 2,
      admitted: 2,
      rejected: 0,
      rejectedByReason: expect.objectContaining({ aborted: 0, shutdown: 0 }),
      active: 2,
      limit: 2,
      completed: 0,
      failed: 0,
      retried: 0,
      timedOut: 0,
      abandoned: 0,
      paused: false,
      closed: false,
    });
    gate.resolve();
    await pool.drain();
    expect(JSON.parse(JSON.stringify(pool.stats()))).toMatchObject({ completed: 3, queued: 0, active: 0 });
  });
});
