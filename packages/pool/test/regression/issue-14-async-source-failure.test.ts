// Issue 14, the Valve contract's words: a task whose async source failed to grant it (its
// `acquire` rejected) never started, yet the pool counted it as `admitted` and `failed`. It is
// now `rejected` under `overload`, as in SafetyValve, and still rejects with the source's error.
import { describe, expect, it } from 'vitest';
import { flush, track } from '@valve/testkit';
import { PromisePool } from '../../src/index.js';
import { FakeAsyncConcurrency, FakeAsyncRate } from '../fakes.js';

describe('issue 14: a task an async source failed to grant is rejected, not failed', () => {
  it('concurrencySource: run() and add() count under rejectedByReason.overload', async () => {
    const source = new FakeAsyncConcurrency();
    const errors: unknown[] = [];
    const settled: string[] = [];
    const pool = new PromisePool({ concurrencySource: source, onError: (e) => errors.push(e) });
    pool.onSettled((e) => settled.push(e.status));
    const down = new Error('redis down');
    let ran = 0;
    const call = track(pool.run(async () => ran++));
    pool.add(async () => void ran++);
    await flush();
    source.requests[0]!.gate.reject(down);
    await flush();
    source.requests[1]!.gate.reject(down);
    await flush();
    expect(call.error).toBe(down);
    expect(errors).toEqual([down]); // an add()ed task's error still reaches onError
    expect(settled).toEqual(['rejected', 'rejected']);
    expect(ran).toBe(0);
    const s = pool.stats();
    expect(s).toMatchObject({ admitted: 0, failed: 0, completed: 0, rejected: 2, queued: 0, running: 0 });
    expect(s.rejectedByReason.overload).toBe(2);
    expect(s.rejected + s.queued + s.admitted).toBe(2); // offered
    await pool.close();
  });

  it('rateSource: the same', async () => {
    const rate = new FakeAsyncRate();
    const pool = new PromisePool({ rateSource: rate });
    const down = new Error('rate store down');
    const call = track(pool.run(async () => 1));
    await flush();
    rate.gates[0]!.reject(down);
    await flush();
    expect(call.error).toBe(down);
    const s = pool.stats();
    expect(s).toMatchObject({ admitted: 0, failed: 0, rejected: 1 });
    expect(s.rejectedByReason.overload).toBe(1);
    await pool.close();
  });
});
