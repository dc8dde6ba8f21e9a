import { describe, expect, it } from 'vitest';
import { track, flush } from '@valve/testkit';
import { WaiterQueue } from '../../src/index.js';

describe('WaiterQueue', () => {
  it('resolves waiters in FIFO order', async () => {
    const q = new WaiterQueue<number>();
    const order: number[] = [];
    const all = [1, 2, 3].map((i) => q.wait().then((v) => order.push(i * 10 + v)));
    expect(q.size).toBe(3);
    expect(q.resolveNext(1)).toBe(true);
    expect(q.resolveNext(2)).toBe(true);
    expect(q.resolveNext(3)).toBe(true);
    expect(q.resolveNext(4)).toBe(false);
    await Promise.all(all);
    expect(order).toEqual([11, 22, 33]);
    expect(q.size).toBe(0);
  });

  it('an abort rejects with signal.reason at once, and the waiter is skipped', async () => {
    const q = new WaiterQueue<string>();
    const c = new AbortController();
    const first = track(q.wait(c.signal));
    const second = track(q.wait());
    const reason = new Error('caller gave up');
    c.abort(reason);
    await flush();
    expect(first.state).toBe('rejected');
    expect(first.error).toBe(reason);
    expect(q.size).toBe(1);
    q.resolveNext('x');
    await flush();
    expect(second.value).toBe('x');
  });

  it('an already-aborted signal rejects without queueing', async () => {
    const q = new WaiterQueue<void>();
    const reason = { why: 'non-Error reasons pass through unchanged' };
    await expect(q.wait(AbortSignal.abort(reason))).rejects.toBe(reason);
    expect(q.size).toBe(0);
  });

  it('settles each waiter exactly once: abort after resolve does nothing', async () => {
    const q = new WaiterQueue<number>();
    const c = new AbortController();
    const t = track(q.wait(c.signal));
    q.resolveNext(5);
    c.abort();
    await flush();
    expect(t.state).toBe('resolved');
    expect(t.settleCount).toBe(1);
    expect(q.size).toBe(0);
  });

  it('rejectAll rejects every live waiter with the error', async () => {
    const q = new WaiterQueue<void>();
    const ts = [track(q.wait()), track(q.wait())];
    const err = new Error('closed');
    q.rejectAll(err);
    await flush();
    for (const t of ts) expect(t.error).toBe(err);
    expect(q.size).toBe(0);
  });

  it('compaction bounds memory under an abort storm while one waiter stays', async () => {
    const q = new WaiterQueue<number>();
    const survivor = track(q.wait());
    const internal = q as unknown as { queue: { size: number } };
    for (let i = 0; i < 10_000; i++) {
      const c = new AbortController();
      q.wait(c.signal).catch(() => {});
      c.abort();
      // dead entries never outnumber the live ones by much
      expect(internal.queue.size).toBeLessThanOrEqual(64);
    }
    expect(q.size).toBe(1);
    expect(q.resolveNext(1)).toBe(true);
    await flush();
    expect(survivor.value).toBe(1);
  });
});
