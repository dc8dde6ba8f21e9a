import { describe, expect, it } from 'vitest';
import { flush } from '@valve/testkit';
import { AsyncConcurrency, AsyncRate, Harness } from './harness.js';

// Found by the Admission tests (issue 14): with an async source, pause() did not stop the acquire
// already under way for the head, so the head started while paused ("starts no waiter until
// resume()" held only for synchronous sources).
describe('Admission regression: pause() while the async acquire loop serves the head', () => {
  it('aborts the acquire; nothing starts, no slot is held, until resume()', async () => {
    const conc = new AsyncConcurrency(10);
    const h = new Harness({ concurrency: conc });
    h.offer();
    h.offer();
    await flush();
    const request = conc.open[0]!;
    h.admission.pause();
    expect(request.signal!.aborted).toBe(true);
    conc.grantNext(); // too late: nobody asks any more
    await flush();
    expect(h.started).toHaveLength(0);
    expect(h.admission.running).toBe(0);
    expect(conc.inUse).toBe(0);
    expect(h.admission.isAcquiring).toBe(false);
    h.admission.resume();
    await flush();
    conc.grantNext();
    await flush();
    expect(h.ids(h.started)).toEqual([0]);
  });

  it('a grant that won the race with pause(): the slot goes back and the head waits for resume()', async () => {
    const rate = new AsyncRate();
    const h = new Harness({ concurrency: 2, rate });
    h.offer();
    await flush();
    rate.grantNext(); // granted: the loop resumes on a later microtask
    h.admission.pause();
    await flush();
    expect(h.started).toHaveLength(0);
    expect(h.admission.running).toBe(0);
    h.admission.resume();
    await flush();
    rate.grantNext();
    await flush();
    expect(h.ids(h.started)).toEqual([0]);
  });

  it('pause() then resume() at once: the head is asked for again and served', async () => {
    const conc = new AsyncConcurrency(10);
    const h = new Harness({ concurrency: conc });
    h.offer();
    await flush();
    h.admission.pause();
    h.admission.resume();
    await flush();
    expect(conc.open).toHaveLength(1);
    conc.grantNext();
    await flush();
    expect(h.ids(h.started)).toEqual([0]);
  });
});
