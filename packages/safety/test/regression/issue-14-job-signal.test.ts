// Issue 14 defect 3: a SafetyValve job got no AbortSignal and had no execution time limit:
// `leaseMs` freed the slot while the work ran on, unaware. Every job now gets `fn({ signal })`,
// aborting on lease reclaim, the caller's abort, close() and `timeoutMs` (run time), which is a
// separate limit from `deadlineMs` (queue wait).
import { isValveError, ManualClock } from '@valve/core';
import { deferred, flush, track } from '@valve/testkit';
import { describe, expect, it } from 'vitest';
import { type JobContext, SafetyValve } from '../../src/index.js';

/** A job that records its signal and waits for the test. */
function job() {
  const gate = deferred<string>();
  const seen: { signal?: AbortSignal } = {};
  return {
    gate,
    seen,
    fn: ({ signal }: JobContext) => {
      seen.signal = signal;
      return gate.promise;
    },
  };
}

describe('issue 14: every SafetyValve job gets a signal', () => {
  it("close() aborts running jobs' signals (fast path and queued); callers get the jobs' outcomes", async () => {
    const valve = new SafetyValve({ concurrency: 1, size: 5 });
    const a = job();
    const ra = track(valve.run(a.fn));
    expect(a.seen.signal?.aborted).toBe(false);
    valve.close();
    expect(a.seen.signal?.aborted).toBe(true);
    expect(isValveError(a.seen.signal?.reason, 'ERR_VALVE_CLOSED')).toBe(true);
    await flush();
    expect(ra.state).toBe('pending'); // running work finishes
    a.gate.resolve('a');
    await flush();
    expect(ra.value).toBe('a');
  });

  it("a lease reclaim aborts the job's signal", async () => {
    const clock = new ManualClock();
    const valve = new SafetyValve({ concurrency: 1, size: 5, leaseMs: 100, clock });
    const a = job();
    const ra = track(valve.run(a.fn));
    clock.advance(99);
    expect(a.seen.signal?.aborted).toBe(false);
    clock.advance(1);
    expect(a.seen.signal?.aborted).toBe(true);
    expect(isValveError(a.seen.signal?.reason, 'ERR_VALVE_TIMEOUT')).toBe(true);
    expect(valve.stats().reclaimed).toBe(1);
    a.gate.resolve('late');
    await flush();
    expect(ra.value).toBe('late');
    valve.close();
  });

  it("the caller's abort while the job runs aborts its signal and rejects at once; the slot waits for the job", async () => {
    const valve = new SafetyValve({ concurrency: 1, size: 5 });
    const ac = new AbortController();
    const a = job();
    const ra = track(valve.run(a.fn, { signal: ac.signal }));
    const reason = new Error('client went away');
    ac.abort(reason);
    expect(a.seen.signal?.reason).toBe(reason);
    await flush();
    expect(ra.state).toBe('rejected');
    expect(ra.error).toBe(reason);
    expect(valve.stats().running).toBe(1);
    a.gate.resolve('ignored');
    await flush();
    expect(valve.stats().running).toBe(0);
    valve.close();
  });

  it('timeoutMs limits run time, from the start (not the enqueue); deadlineMs limits the wait', async () => {
    const clock = new ManualClock();
    const valve = new SafetyValve({ concurrency: 1, size: 5, timeoutMs: 50, deadlineMs: 30, clock });
    const a = job();
    const b = job();
    const ra = track(valve.run(a.fn, { timeoutMs: 20 })); // the call's own limit overrides
    const rb = track(valve.run(b.fn)); // queued: waits, then runs with the valve's 50 ms
    clock.advance(10);
    a.gate.resolve('a');
    await flush();
    expect(ra.value).toBe('a');
    expect(b.seen.signal?.aborted).toBe(false); // b started at 10 ms (waited 10 < 30)
    clock.advance(49);
    expect(b.seen.signal?.aborted).toBe(false);
    clock.advance(1); // 50 ms after b started
    expect(b.seen.signal?.aborted).toBe(true);
    await flush();
    expect(rb.state).toBe('rejected');
    expect(isValveError(rb.error, 'ERR_VALVE_TIMEOUT')).toBe(true);
    expect(valve.stats().running).toBe(1); // b's code still runs: its slot comes back when it settles
    b.gate.resolve('late');
    await flush();
    expect(valve.stats().running).toBe(0);
    valve.close();
  });

  it('bad timeoutMs throws synchronously, naming the option', () => {
    expect(() => new SafetyValve({ concurrency: 1, size: 1, timeoutMs: 0 })).toThrow(/timeoutMs/);
    const valve = new SafetyValve({ concurrency: 1, size: 1 });
    expect(() => valve.run(() => 1, { timeoutMs: -1 })).toThrow(/timeoutMs/);
    valve.close();
  });
});
