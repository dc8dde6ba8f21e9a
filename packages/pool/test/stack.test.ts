import { describe, expect, it } from 'vitest';
import { PromisePool } from '../src/index.js';

// The seed's package throws out of add() or recurses per task; ours loops. See issue 3
// ("10^6 tasks that resolve synchronously run without stack overflow").
describe('stack safety with 10^6 synchronous tasks', { timeout: 60_000 }, () => {
  const N = 1_000_000;

  it('add(): tasks returning plain values (settled inside the pump loop)', async () => {
    const pool = new PromisePool({ maxWorkers: 4 });
    let n = 0;
    const task = (() => {
      n++;
    }) as never;
    for (let i = 0; i < N; i++) pool.add(task);
    expect((await pool.drain()).completed).toBe(N);
    expect(n).toBe(N);
  });

  it('add(): tasks resolving at once, all queued behind a paused pool', async () => {
    const pool = new PromisePool({ maxWorkers: 1 });
    pool.pause();
    const task = () => Promise.resolve();
    for (let i = 0; i < N; i++) pool.add(task);
    expect(pool.size).toBe(N);
    pool.resume();
    expect((await pool.drain()).completed).toBe(N);
  });

  it('run(): synchronous throws and values, queued', async () => {
    const pool = new PromisePool({ maxWorkers: 2 });
    pool.pause();
    let last: Promise<unknown> = Promise.resolve();
    for (let i = 0; i < N; i++) {
      last = pool.run((() => {
        if (i % 2) throw i;
        return i;
      }) as never);
      last.catch(() => {});
    }
    pool.resume();
    await expect(last).rejects.toBe(N - 1);
    expect(await pool.drain()).toMatchObject({ completed: N / 2, failed: N / 2 });
  });
});
