// Found by a review of core's store-snapshot binding (e14998e): queued work ran on the resource of
// whoever started it, and only storages some capture had seen were set and put back. A storage
// first used after the last capture therefore leaked both ways: a store set with enterWith inside
// a queued job stayed on the pool's context and the next jobs (other requests') saw it, and a
// job started synchronously inside such a storage's run() (pool.resume() there) saw that store.
// Queued work now runs in one shared resource of core's, with its caller's stores set on it.
import { AsyncLocalStorage } from 'node:async_hooks';
import { describe, expect, it } from 'vitest';
import { PromisePool } from '../../src/index.js';

describe('queued work never sees a store its caller did not have', () => {
  it('enterWith of a storage no capture has seen, inside a queued job, stays out of the next jobs', async () => {
    const request = new AsyncLocalStorage<{ req: number }>();
    const user = new AsyncLocalStorage<{ user: string }>(); // not used before the jobs are queued
    request.run({ req: 0 }, () => undefined);
    const pool = new PromisePool({ maxWorkers: 1 });
    const seen: unknown[] = [];
    let go!: () => void;
    pool.add(() => new Promise<void>((r) => (go = r)));
    for (let req = 1; req <= 4; req++) {
      request.run({ req }, () =>
        pool.add(() => {
          seen.push([request.getStore()?.req, user.getStore()?.user ?? 'none']);
          if (req === 1) user.enterWith({ user: 'alice' }); // synchronous part of job 1
        }),
      );
    }
    go();
    await pool.onIdle();
    expect(seen).toEqual([
      [1, 'none'],
      [2, 'none'],
      [3, 'none'],
      [4, 'none'],
    ]);
    expect(user.getStore()).toBeUndefined();
  });

  it("a job started inside a storage's run() (resume() there) does not see that store", async () => {
    const request = new AsyncLocalStorage<{ req: number }>();
    request.run({ req: 0 }, () => undefined);
    const pool = new PromisePool({ maxWorkers: 1 });
    pool.pause();
    const seen: unknown[] = [];
    const tracer = new AsyncLocalStorage<{ span: string }>();
    request.run({ req: 3 }, () =>
      pool.add(async () => {
        const sync = [request.getStore()?.req, tracer.getStore()?.span ?? 'none'];
        await Promise.resolve();
        seen.push(sync, [request.getStore()?.req, tracer.getStore()?.span ?? 'none']);
      }),
    );
    pool.add(() => {
      seen.push(['storeless caller', tracer.getStore()?.span ?? 'none']);
    });
    tracer.run({ span: 'request 4' }, () => pool.resume());
    await pool.onIdle();
    // (maxWorkers 1: job 3 records before and after its await, then the storeless caller's runs.)
    expect(seen).toEqual([
      [3, 'none'],
      [3, 'none'],
      ['storeless caller', 'none'],
    ]);
  });
});
