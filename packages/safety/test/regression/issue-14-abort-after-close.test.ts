// Found by the admission model test (issue 14): a running job's caller who aborted after close()
// (or after a lease reclaim) was not settled: close() had already aborted the job's signal, and
// the scope ignored every later abort, so the caller waited for the job's own outcome although
// "an abort always rejects with signal.reason" and the caller's abort settles it at once.
import { ManualClock } from '@valve/core';
import { deferred, flush, track } from '@valve/testkit';
import { expect, it } from 'vitest';
import { SafetyValve } from '../../src/index.js';

it("a running job's caller aborting after close() is rejected at once with signal.reason", async () => {
  const valve = new SafetyValve({ concurrency: 1, size: 1, clock: new ManualClock() });
  const gate = deferred<string>();
  const ac = new AbortController();
  const run = track(valve.run(() => gate.promise, { signal: ac.signal }));
  const closed = track(valve.close());
  await flush();
  expect(run.state).toBe('pending'); // close() lets running work finish
  const reason = new Error('caller gave up');
  ac.abort(reason);
  await flush();
  expect(run.state).toBe('rejected');
  expect(run.error).toBe(reason);
  expect(closed.state).toBe('pending'); // the slot comes back when the job ends
  gate.resolve('late');
  await flush();
  expect(closed.state).toBe('resolved');
});

it("a leased job's caller aborting after the reclaim is rejected at once with signal.reason", async () => {
  const clock = new ManualClock();
  const valve = new SafetyValve({ concurrency: 1, size: 1, leaseMs: 10, clock });
  const gate = deferred<string>();
  const ac = new AbortController();
  const run = track(valve.run(() => gate.promise, { signal: ac.signal }));
  clock.advance(10); // reclaimed: the signal aborts, the caller keeps waiting for the outcome
  await flush();
  expect(run.state).toBe('pending');
  ac.abort('stop');
  await flush();
  expect(run.error).toBe('stop');
  gate.resolve('late');
  await valve.close();
});
