// Found while splitting SafetyValve (issue 14, item 3): a job admitted on the fast path of a valve
// with `leaseMs` (and no caller signal or `timeoutMs`) ran in a scope that `close()` did not know
// of, so its signal did not abort on `close()`, while the same job started from the queue (or with
// a signal) did. README: "close() ... running jobs finish, with their signals aborted". Every
// scoped job now starts through one path that registers its scope for `close()`.
import { isValveError, ManualClock } from '@valve/core';
import { deferred, flush, track } from '@valve/testkit';
import { describe, expect, it } from 'vitest';
import { type JobContext, SafetyValve } from '../../src/index.js';

describe('issue 14: close() aborts a leased job started on the fast path', () => {
  it('aborts its signal with a ClosedError; the caller still gets the outcome and the slot comes back once', async () => {
    const clock = new ManualClock();
    const valve = new SafetyValve({ concurrency: 2, size: 5, leaseMs: 1000, clock });
    const gate = deferred<string>();
    let signal: AbortSignal | undefined;
    const run = track(
      valve.run(({ signal: s }: JobContext) => {
        signal = s;
        return gate.promise;
      }),
    );
    expect(signal?.aborted).toBe(false);
    const closed = track(valve.close());
    expect(signal?.aborted).toBe(true);
    expect(isValveError(signal?.reason, 'ERR_VALVE_CLOSED')).toBe(true);
    await flush();
    expect(run.state).toBe('pending');
    expect(closed.state).toBe('pending');
    gate.resolve('done');
    await flush();
    expect(run.value).toBe('done');
    expect(closed.state).toBe('resolved');
    expect(valve.stats()).toMatchObject({ running: 0, admitted: 1, completed: 1, failed: 0, reclaimed: 0 });
  });

  it('a reclaim after close() changes nothing: the lease timer was cleared with the job', async () => {
    const clock = new ManualClock();
    const valve = new SafetyValve({ concurrency: 1, size: 5, leaseMs: 100, clock });
    const gate = deferred<string>();
    const run = track(valve.run(() => gate.promise));
    gate.resolve('x');
    await flush();
    expect(run.value).toBe('x');
    clock.advance(200);
    expect(valve.stats()).toMatchObject({ running: 0, completed: 1, reclaimed: 0 });
    await valve.close();
  });
});
