/**
 * Issue 19, item 1: a bound on the queue (`maxQueued`). Refusal (`run()`/`add()`, QueueFullError,
 * counted `queue_full`) or a producer that waits for room (`runWhenRoom`/`addWhenRoom`).
 * p-queue leaves the queue unbounded (its #87); p-limit has no bound either.
 */
import { isValveError } from '@valve/core';
import { deferred, flush, track } from '@valve/testkit';
import { describe, expect, it } from 'vitest';
import { PromisePool } from '../../src/index.js';

describe('maxQueued', () => {
  it('run() rejects with QueueFullError once maxQueued tasks wait, counted as queue_full', async () => {
    const pool = new PromisePool({ maxWorkers: 1, maxQueued: 2 });
    const gate = deferred();
    const first = pool.run(() => gate.promise);
    const a = pool.run(async () => 'a');
    const b = pool.run(async () => 'b');
    const refused = pool.run(async () => 'c');
    await expect(refused).rejects.toSatisfy((e) => isValveError(e, 'ERR_VALVE_QUEUE_FULL'));
    await expect(refused).rejects.toMatchObject({ reason: 'queue_full' });
    const s = pool.stats();
    expect(s.queued).toBe(2);
    expect(s.rejected).toBe(1);
    expect(s.rejectedByReason.queue_full).toBe(1);
    gate.resolve();
    await expect(Promise.all([first, a, b])).resolves.toEqual([undefined, 'a', 'b']);
    // A refused task never counted in the drain.
    await expect(pool.drain()).resolves.toMatchObject({ completed: 3, failed: 0 });
  });

  it('the bound counts waiting tasks only: running ones and ones that start at once do not use it', async () => {
    const pool = new PromisePool({ maxWorkers: 3, maxQueued: 1 });
    const gate = deferred();
    expect(
      pool.add(
        () => gate.promise,
        () => gate.promise,
        () => gate.promise,
      ),
    ).toBe(3);
    expect(pool.add(() => gate.promise)).toBe(0);
    expect(pool.size).toBe(1);
    gate.resolve();
    await pool.drain();
  });

  it('add() accepts tasks in order until the queue is full, then throws, counting the rest', async () => {
    const pool = new PromisePool({ maxWorkers: 1, maxQueued: 2 });
    const gate = deferred();
    const ran: number[] = [];
    const task = (n: number) => async () => {
      await gate.promise;
      ran.push(n);
    };
    expect(() => pool.add(task(1), task(2), task(3), task(4), task(5))).toThrow(/accepted 3 of 5 task\(s\).*refused 2/);
    expect(pool.size).toBe(2);
    expect(pool.stats().rejectedByReason.queue_full).toBe(2);
    gate.resolve();
    await pool.drain();
    expect(ran).toEqual([1, 2, 3]);
  });

  it('also bounds tasks on the per-task path (a signal, a timeout)', async () => {
    const pool = new PromisePool({ maxWorkers: 1, maxQueued: 1, taskTimeoutMs: 10_000 });
    const gate = deferred();
    const first = pool.run(() => gate.promise);
    const queued = pool.run(async () => 1, { signal: new AbortController().signal });
    await expect(pool.run(async () => 2)).rejects.toMatchObject({ code: 'ERR_VALVE_QUEUE_FULL' });
    expect(() => pool.add(async () => 3)).toThrow(/maxQueued \(1\)/);
    gate.resolve();
    await expect(Promise.all([first, queued])).resolves.toEqual([undefined, 1]);
    expect(pool.stats().rejectedByReason.queue_full).toBe(2);
  });

  it('maxQueued must be an integer >= 1 or Infinity', () => {
    expect(() => new PromisePool({ maxQueued: 0 })).toThrow(RangeError);
    expect(() => new PromisePool({ maxQueued: 1.5 })).toThrow(RangeError);
    expect(() => new PromisePool({ maxQueued: Number.POSITIVE_INFINITY })).not.toThrow();
  });
});

describe('runWhenRoom / addWhenRoom: the producer waits for room', () => {
  it('runWhenRoom waits while the queue is full and runs the task once there is room', async () => {
    const pool = new PromisePool({ maxWorkers: 1, maxQueued: 1 });
    const gate = deferred();
    const first = pool.run(() => gate.promise);
    const queued = pool.run(async () => 'queued');
    const promise = pool.runWhenRoom(async () => 'waited');
    const waiting = track(promise);
    await flush();
    expect(waiting.state).toBe('pending');
    expect(pool.size).toBe(1);
    gate.resolve();
    await expect(Promise.all([first, queued, promise])).resolves.toEqual([undefined, 'queued', 'waited']);
    expect(pool.stats().rejected).toBe(0);
  });

  it('gives room to waiting producers first come first served; a newcomer cannot barge in', async () => {
    const pool = new PromisePool({ maxWorkers: 1, maxQueued: 1 });
    const gates = [deferred(), deferred(), deferred(), deferred()];
    const order: string[] = [];
    const task = (name: string, i: number) => async () => {
      order.push(name);
      await gates[i]!.promise;
    };
    void pool.run(task('run0', 0));
    void pool.run(task('run1', 1)); // fills the queue
    const p1 = pool.runWhenRoom(task('p1', 2));
    const p2 = pool.addWhenRoom(task('p2', 3));
    gates[0]!.resolve(); // run1 starts: room for one producer, p1
    await flush();
    expect(order).toEqual(['run0', 'run1']);
    expect(pool.size).toBe(1);
    // The queue is full again (p1 waits in it): a plain run() is refused, p2 still waits.
    await expect(pool.run(async () => 'x')).rejects.toMatchObject({ code: 'ERR_VALVE_QUEUE_FULL' });
    for (const g of gates) g.resolve();
    await Promise.all([p1, p2]);
    await pool.drain();
    expect(order).toEqual(['run0', 'run1', 'p1', 'p2']);
  });

  it('aborting a waiting producer rejects it with the reason and frees its place', async () => {
    const pool = new PromisePool({ maxWorkers: 1, maxQueued: 1 });
    const gate = deferred();
    void pool.run(() => gate.promise);
    void pool.run(() => gate.promise);
    const controller = new AbortController();
    const ran: string[] = [];
    const aborted = pool.runWhenRoom(async () => void ran.push('aborted'), { signal: controller.signal });
    const next = pool.addWhenRoom(async () => void ran.push('next'));
    controller.abort(new Error('no longer needed'));
    await expect(aborted).rejects.toThrow('no longer needed');
    expect(pool.stats().rejectedByReason.aborted).toBe(1);
    gate.resolve();
    await next;
    await pool.drain();
    expect(ran).toEqual(['next']);
  });

  it('an already aborted signal rejects at once; done() refuses waiting producers with ClosedError', async () => {
    const pool = new PromisePool({ maxWorkers: 1, maxQueued: 1 });
    await expect(pool.addWhenRoom(async () => {}, { signal: AbortSignal.abort('stop') })).rejects.toBe('stop');
    const gate = deferred();
    void pool.run(() => gate.promise);
    void pool.run(() => gate.promise);
    const waiting = pool.runWhenRoom(async () => 1);
    const adding = pool.addWhenRoom(async () => {});
    const done = pool.done();
    await expect(waiting).rejects.toMatchObject({ code: 'ERR_VALVE_CLOSED', reason: 'shutdown' });
    await expect(adding).rejects.toMatchObject({ code: 'ERR_VALVE_CLOSED' });
    gate.resolve();
    await expect(done).resolves.toMatchObject({ completed: 2 });
    expect(pool.stats().rejectedByReason.shutdown).toBe(2);
  });

  it('without a bound (the default) they are run()/add()', async () => {
    const pool = new PromisePool({ maxWorkers: 1 });
    await expect(pool.runWhenRoom(async () => 5)).resolves.toBe(5);
    await expect(pool.addWhenRoom(async () => {})).resolves.toBeUndefined();
    expect(() => pool.runWhenRoom(5 as never)).toThrow(TypeError);
    expect(() => pool.runWhenRoom(async () => 1, { nope: 1 } as never)).toThrow(TypeError);
    // addWhenRoom takes a signal only (an add()ed task has no priority, meta or own timeout).
    expect(() => pool.addWhenRoom(async () => {}, { priority: 1 } as never)).toThrow(TypeError);
    expect(() => pool.addWhenRoom(async () => {}, { signal: 'no' } as never)).toThrow(TypeError);
    await pool.drain();
  });
});
