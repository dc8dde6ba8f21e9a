import { describe, expect, it } from 'vitest';
import { flush, FlakyRate, LyingConcurrency } from '@valve/testkit';
import {
  Admission,
  type Clock,
  type ConcurrencySource,
  Emitter,
  LocalConcurrency,
  ManualClock,
  type Permit,
  TokenBucket,
} from '../../src/index.js';
import { AsyncConcurrency, AsyncRate, Harness, ScriptedRate, spyOnAvailable, type Unit } from './harness.js';

describe('Admission: the counted fast path', () => {
  it('admits up to the cap with Admission.COUNTED, refuses the next, and admits again after a leave', () => {
    const h = new Harness({ concurrency: 2 });
    const a = h.offer();
    const b = h.offer();
    expect(a.permit).toBe(Admission.COUNTED);
    expect(b.permit).toBe(Admission.COUNTED);
    expect(h.admission.running).toBe(2);
    expect(h.admission.limit).toBe(2);
    expect(h.admission.tryEnter()).toBeUndefined();
    expect(h.admission.running).toBe(2);
    h.admission.leave(Admission.COUNTED, false);
    expect(h.admission.tryEnter()).toBe(Admission.COUNTED);
  });

  it('COUNTED.release() does nothing: only leave() gives a counted slot back', () => {
    const h = new Harness({ concurrency: 1 });
    const a = h.offer();
    a.permit!.release();
    expect(h.admission.running).toBe(1);
    expect(h.admission.tryEnter()).toBeUndefined();
  });

  it('refuses while paused, and again after resume() admits', () => {
    const h = new Harness({ concurrency: 3 });
    h.admission.pause();
    expect(h.admission.isPaused).toBe(true);
    expect(h.admission.tryEnter()).toBeUndefined();
    h.admission.resume();
    expect(h.admission.isPaused).toBe(false);
    expect(h.admission.tryEnter()).toBe(Admission.COUNTED);
  });

  it('refuses after close()', () => {
    const h = new Harness({ concurrency: 3 });
    h.admission.close();
    expect(h.admission.tryEnter()).toBeUndefined();
    expect(h.admission.running).toBe(0);
  });

  it('refuses while the line is non-empty even with a free slot and a token, and takes neither', () => {
    const rate = new ScriptedRate(5);
    const h = new Harness({ concurrency: 3, rate });
    // The valve's line holds a waiter the admission has not been told about yet (the race the
    // no-barging rule covers): the fast path must not pass it.
    h.line.q.push({ id: 99, gone: false, permit: undefined, via: undefined, left: false, error: undefined });
    expect(h.admission.tryEnter()).toBeUndefined();
    expect(rate.taken).toBe(0);
    expect(h.admission.running).toBe(0);
  });

  it('refuses with an async source, every time, and asks it nothing', () => {
    const conc = new AsyncConcurrency(10);
    const h = new Harness({ concurrency: conc });
    expect(h.admission.async).toBe(true);
    expect(h.admission.tryEnter()).toBeUndefined();
    expect(conc.requests).toHaveLength(0);
    const rate = new AsyncRate();
    const h2 = new Harness({ concurrency: 5, rate });
    expect(h2.admission.async).toBe(true);
    expect(h2.admission.tryEnter()).toBeUndefined();
    expect(h2.admission.running).toBe(0);
  });

  it('a refused token costs no counted slot', () => {
    const rate = new ScriptedRate(1);
    const h = new Harness({ concurrency: 5, rate });
    expect(h.admission.tryEnter()).toBe(Admission.COUNTED);
    expect(h.admission.tryEnter()).toBeUndefined();
    expect(h.admission.running).toBe(1);
    expect(rate.taken).toBe(1);
  });

  it('validates the fixed cap by name', () => {
    const make = (concurrency: number) => () => new Harness({ concurrency });
    expect(make(0)).toThrow(/concurrency/);
    expect(make(1.5)).toThrow(/concurrency/);
    expect(make(Number.NaN)).toThrow(/concurrency/);
    expect(make(Number.POSITIVE_INFINITY)).not.toThrow();
    expect(make(1)).not.toThrow();
  });
});

describe('Admission: permit mode', () => {
  it('with LocalConcurrency: hands out the source permits and gives them back on leave', () => {
    const conc = new LocalConcurrency({ limit: 2 });
    const h = new Harness({ concurrency: conc });
    const a = h.offer();
    const b = h.offer();
    expect(a.permit).not.toBe(Admission.COUNTED);
    expect(a.via).toBe('fast');
    expect(conc.inUse).toBe(2);
    expect(h.admission.limit).toBe(2);
    const c = h.offer();
    expect(c.via).toBeUndefined();
    h.finish(a);
    expect(c.via).toBe('pump');
    expect(conc.inUse).toBe(2);
    h.finish(b);
    h.finish(c);
    expect(conc.inUse).toBe(0);
    expect(h.admission.running).toBe(0);
  });

  it('passes a failure to the permit as { dropped: true } (an adaptive limit learns from it)', () => {
    const outcomes: unknown[] = [];
    const available = new Emitter<void>();
    let inUse = 0;
    const conc: ConcurrencySource = {
      limit: 2,
      get inUse() {
        return inUse;
      },
      tryAcquire: () => {
        inUse++;
        return {
          release: (outcome?: { dropped?: boolean }) => {
            inUse--;
            outcomes.push(outcome);
          },
        };
      },
      acquire: () => Promise.reject(new Error('not async')),
      onAvailable: available.event,
    };
    const h = new Harness({ concurrency: conc });
    const a = h.offer();
    const b = h.offer();
    h.finish(a, true);
    h.finish(b, false);
    expect(outcomes[0]).toEqual({ dropped: true });
    expect(outcomes[1]).toBeUndefined();
  });

  it('the limit follows the source; setLimit() is for a fixed cap only', () => {
    const conc = new LyingConcurrency(3);
    const h = new Harness({ concurrency: conc });
    expect(h.admission.limit).toBe(3);
    expect(() => h.admission.setLimit(4)).toThrow(TypeError);
  });

  it('with a custom source: its permits, its inUse and its onAvailable drive the pump', () => {
    const conc = new LyingConcurrency(1);
    const h = new Harness({ concurrency: conc });
    const a = h.offer();
    const b = h.offer();
    expect(b.via).toBeUndefined();
    h.finish(a); // release() emits onAvailable: the pump starts b
    expect(b.via).toBe('pump');
    expect(conc.granted).toBe(2);
    expect(conc.released).toBe(1);
  });
});

describe('Admission: gate order, the slot first, then the token', () => {
  it('a full cap takes no token (counted)', () => {
    const rate = new ScriptedRate(10);
    const h = new Harness({ concurrency: 1, rate });
    h.offer();
    h.offer();
    h.offer();
    expect(rate.taken).toBe(1);
  });

  it('a full source takes no token (permit mode)', () => {
    const rate = new ScriptedRate(10);
    const h = new Harness({ concurrency: new LocalConcurrency({ limit: 1 }), rate });
    h.offer();
    h.offer();
    expect(rate.taken).toBe(1);
  });

  it('a refused token gives the slot back (fast path)', () => {
    const conc = new LyingConcurrency(2);
    const rate = new FlakyRate(3);
    rate.setFlaky(true); // reports 3 tokens, refuses anyway
    const h = new Harness({ concurrency: conc, rate });
    expect(h.admission.tryEnter()).toBeUndefined();
    expect(conc.granted).toBe(1);
    expect(conc.released).toBe(1);
    expect(conc.inUse).toBe(0);
    expect(rate.taken).toBe(0);
    expect(h.admission.running).toBe(0);
  });

  it('an empty bucket costs no permit taken and given back (fast path)', () => {
    const conc = new LyingConcurrency(2);
    const h = new Harness({ concurrency: conc, rate: new ScriptedRate(0) });
    expect(h.admission.tryEnter()).toBeUndefined();
    expect(conc.granted).toBe(0);
  });

  it('a refused token gives the slot back in the pump, and the waiter keeps its place', () => {
    const conc = new LyingConcurrency(2);
    const rate = new FlakyRate(0);
    const h = new Harness({ concurrency: conc, rate });
    const a = h.offer();
    const b = h.offer();
    rate.setFlaky(true);
    rate.refill(2); // emits onAvailable: the pump tries a, the token is refused
    expect(a.via).toBeUndefined();
    expect(conc.granted).toBe(conc.released);
    expect(conc.inUse).toBe(0);
    expect(h.admission.running).toBe(0);
    expect(h.ids(h.line.q.drain())).toEqual([0, 1]);
    // (put them back for the end of the story)
    h.line.q.push(a);
    h.line.q.push(b);
    rate.setFlaky(false);
    expect(h.ids(h.started)).toEqual([0, 1]);
    expect(rate.taken).toBe(2);
  });

  it('a custom source whose tryAcquire() refuses while inUse < limit costs no token (fast path and pump)', () => {
    const conc = new LyingConcurrency(3);
    const rate = new ScriptedRate(5);
    const h = new Harness({ concurrency: conc, rate });
    conc.setLying(true);
    const a = h.offer();
    const b = h.offer();
    expect(a.via).toBeUndefined();
    expect(rate.taken).toBe(0);
    rate.refill(1); // wakes the pump: the source still lies
    expect(rate.taken).toBe(0);
    expect(h.started).toHaveLength(0);
    conc.setLying(false); // emits onAvailable
    expect(h.ids(h.started)).toEqual([a.id, b.id]);
    expect(rate.taken).toBe(2);
  });
});

describe('Admission: no barging, pump order and re-entrancy', () => {
  it('queued units start in line order and a newcomer queues behind them', () => {
    const h = new Harness({ concurrency: 1 });
    const a = h.offer();
    const b = h.offer();
    const c = h.offer();
    h.finish(a);
    expect(h.ids(h.started)).toEqual([0, 1]);
    const d = h.offer(); // a slot is busy (b): d queues behind c
    h.finish(b);
    expect(h.ids(h.started)).toEqual([0, 1, 2]);
    h.finish(c);
    expect(h.ids(h.started)).toEqual([0, 1, 2, 3]);
    expect(d.via).toBe('pump');
  });

  it('a token that arrives goes to the head of the line, not to a newcomer', () => {
    const rate = new ScriptedRate(1);
    const h = new Harness({ concurrency: 5, rate });
    h.offer();
    const b = h.offer();
    expect(b.via).toBeUndefined();
    rate.tokens = 1; // a token appears without an event (yet): the newcomer must not take it
    const c = h.offer();
    expect(c.via).toBeUndefined();
    expect(rate.tokens).toBe(1);
    rate.refill(0); // the event arrives
    expect(h.ids(h.started)).toEqual([0, 1]);
    rate.refill(1);
    expect(h.ids(h.started)).toEqual([0, 1, 2]);
  });

  it('a start callback that leaves at once: every waiter starts, in order, from one non-recursive pump', () => {
    const h = new Harness({ concurrency: 1, onStart: (u, hh) => hh.finish(u) });
    h.admission.pause();
    for (let i = 0; i < 5; i++) h.offer();
    expect(h.started).toHaveLength(0);
    h.admission.resume();
    expect(h.ids(h.started)).toEqual([0, 1, 2, 3, 4]);
    expect(h.maxDepth).toBe(1);
    expect(h.pumpedCalls).toBe(1);
    expect(h.admission.running).toBe(0);
  });

  it('the same in permit mode, where release() re-enters through onAvailable', () => {
    const conc = new LocalConcurrency({ limit: 1 });
    const h = new Harness({ concurrency: conc, onStart: (u, hh) => hh.finish(u) });
    h.admission.pause();
    for (let i = 0; i < 4; i++) h.offer();
    h.admission.resume();
    expect(h.ids(h.started)).toEqual([0, 1, 2, 3]);
    expect(h.maxDepth).toBe(1);
    expect(conc.inUse).toBe(0);
  });

  it('a start callback that offers more work: it queues behind the waiters already in line', () => {
    let spawned = 0;
    const h = new Harness({
      concurrency: 1,
      onStart: (_u, hh) => {
        if (spawned++ < 2) hh.offer();
      },
    });
    const a = h.offer(); // fast path: no callback
    h.offer(); // 1
    h.offer(); // 2
    h.finish(a); // starts 1, which offers 3
    h.finish(h.started[1]!); // starts 2, which offers 4
    h.finish(h.started[2]!);
    h.finish(h.started[3]!);
    expect(h.ids(h.started)).toEqual([0, 1, 2, 3, 4]);
  });

  it('pumped is called once per pump that started someone, and not for a pump that started nobody', () => {
    const h = new Harness({ concurrency: 2 });
    h.admission.pause();
    h.offer();
    h.offer();
    h.offer();
    expect(h.pumpedCalls).toBe(0);
    h.admission.resume();
    expect(h.pumpedCalls).toBe(1);
    h.admission.setLimit(2); // nothing to start
    expect(h.pumpedCalls).toBe(1);
    h.finish(h.started[0]!);
    expect(h.pumpedCalls).toBe(2);
  });
});

describe('Admission: the refill timer', () => {
  it('is armed (ref’d) only while a waiter waits for a token, at the source’s nextTokenInMs', () => {
    const clock = new ManualClock();
    const rate = new ScriptedRate(1);
    rate.nextMs = 40;
    const h = new Harness({ concurrency: 5, rate, clock });
    h.offer(); // the fast path: no timer
    expect(clock.pendingTimers).toBe(0);
    const b = h.offer();
    expect(clock.pendingTimers).toBe(1);
    expect(clock.refedTimers).toBe(1);
    clock.advance(39);
    expect(b.via).toBeUndefined();
    rate.tokens = 1; // no event: the timer is what finds the token
    clock.advance(1);
    expect(b.via).toBe('pump');
    expect(clock.pendingTimers).toBe(0);
  });

  it('is not armed while waiters wait only for a slot', () => {
    const clock = new ManualClock();
    const rate = new ScriptedRate(10);
    const h = new Harness({ concurrency: 1, rate, clock });
    h.offer();
    h.offer();
    h.offer();
    expect(clock.pendingTimers).toBe(0);
  });

  it('is due at least 1 ms out, even when the source says 0 or less than 1 ms', () => {
    for (const nextMs of [0, 0.25]) {
      const clock = new ManualClock();
      const delays: number[] = [];
      // Records each delay asked for, so a delay under 1 ms fails here instead of spinning in advance().
      const recording: Clock = {
        now: () => clock.now(),
        setTimeout: (fn, ms) => {
          delays.push(ms);
          return clock.setTimeout(fn, ms);
        },
      };
      const rate = new ScriptedRate(0);
      rate.nextMs = nextMs;
      const h = new Harness({ concurrency: 5, rate, clock: recording });
      h.offer();
      expect(delays).toEqual([1]);
      expect(clock.pendingTimers).toBe(1);
      const calls = rate.nextTokenCalls;
      clock.advance(0.999);
      expect(rate.nextTokenCalls).toBe(calls);
      clock.advance(0.001);
      expect(rate.nextTokenCalls).toBe(calls + 1); // fired and re-armed once, not spinning
      expect(clock.pendingTimers).toBe(1);
      expect(delays).toEqual([1, 1]);
    }
  });

  it('is not armed when the source expects no token (nextTokenInMs = Infinity)', () => {
    const clock = new ManualClock();
    const rate = new ScriptedRate(0);
    rate.nextMs = Number.POSITIVE_INFINITY;
    const h = new Harness({ concurrency: 5, rate, clock });
    h.offer();
    expect(clock.pendingTimers).toBe(0);
    rate.refill(1);
    expect(h.started).toHaveLength(1);
  });

  it('is cleared when the line empties by removal, by a start, and on close()', () => {
    const clock = new ManualClock();
    const rate = new ScriptedRate(0);
    const h = new Harness({ concurrency: 5, rate, clock });
    const a = h.offer();
    expect(clock.pendingTimers).toBe(1);
    h.remove(a);
    expect(clock.pendingTimers).toBe(0);

    h.offer();
    expect(clock.pendingTimers).toBe(1);
    rate.refill(1); // starts the waiter: the line is empty
    expect(clock.pendingTimers).toBe(0);

    h.offer();
    expect(clock.pendingTimers).toBe(1);
    h.admission.close();
    expect(clock.pendingTimers).toBe(0);
  });

  it('with a TokenBucket on the same clock: the waiter starts on the refill, and no timer is left', () => {
    const clock = new ManualClock();
    const rate = new TokenBucket({ tokenLimit: 1, rate: 1, hz: 100, clock });
    const h = new Harness({ concurrency: 5, rate, clock });
    h.offer();
    const b = h.offer();
    const c = h.offer();
    expect(clock.refedTimers).toBe(1); // ours; the bucket's own timer is unref'd
    clock.advance(100);
    expect(b.via).toBe('pump');
    expect(c.via).toBeUndefined();
    clock.advance(100);
    expect(c.via).toBe('pump');
    expect(clock.refedTimers).toBe(0);
    clock.advance(100); // the bucket fills up and stops its timer
    expect(clock.pendingTimers).toBe(0);
  });
});

describe('Admission: onAvailable is listened to only while something waits or runs after waiting', () => {
  it('the fast path alone never subscribes', () => {
    const conc = new LocalConcurrency({ limit: 2 });
    const rate = new ScriptedRate(100);
    const concSubs = spyOnAvailable(conc);
    const h = new Harness({ concurrency: conc, rate });
    for (let i = 0; i < 10; i++) h.finish(h.offer());
    expect(concSubs.total).toBe(0);
    expect(rate.listeners).toBe(0);
  });

  it('subscribes to both sources on the first wait and lets go once the line is empty and the last unit left', () => {
    const conc = new LocalConcurrency({ limit: 1 });
    const rate = new ScriptedRate(100);
    const concSubs = spyOnAvailable(conc);
    const h = new Harness({ concurrency: conc, rate });
    const a = h.offer();
    expect(concSubs.live).toBe(0);
    const b = h.offer();
    expect(concSubs.live).toBe(1);
    expect(rate.listeners).toBe(1);
    h.offer(); // no second subscription
    expect(concSubs.total).toBe(1);
    h.finish(a); // b starts; c waits
    h.finish(b); // c starts: the line is empty, c runs
    expect(h.line.size).toBe(0);
    expect(concSubs.live).toBe(1);
    h.finish(h.started[2]!);
    expect(concSubs.live).toBe(0);
    expect(rate.listeners).toBe(0);
  });

  it('counted mode with a rate: the same; and a removal that empties the line with nothing running lets go', () => {
    const rate = new ScriptedRate(0);
    const h = new Harness({ concurrency: 2, rate });
    const a = h.offer();
    expect(rate.listeners).toBe(1);
    h.remove(a);
    expect(rate.listeners).toBe(0);
  });

  it('close() lets go, and an async admission never subscribes', () => {
    const rate = new ScriptedRate(0);
    const h = new Harness({ concurrency: 2, rate });
    h.offer();
    h.admission.close();
    expect(rate.listeners).toBe(0);

    const conc = new AsyncConcurrency(2);
    const h2 = new Harness({ concurrency: conc });
    h2.offer();
    expect(conc.listeners).toBe(0);
  });
});

describe('Admission: setLimit, pause and close', () => {
  it('raising the cap starts waiters at once, in order', () => {
    const h = new Harness({ concurrency: 1 });
    h.offer();
    h.offer();
    h.offer();
    h.offer();
    h.admission.setLimit(3);
    expect(h.ids(h.started)).toEqual([0, 1, 2]);
    h.admission.setLimit(Number.POSITIVE_INFINITY);
    expect(h.ids(h.started)).toEqual([0, 1, 2, 3]);
  });

  it('lowering the cap stops nobody and starts nobody until the running units are below it', () => {
    const h = new Harness({ concurrency: 3 });
    const [a, b, c] = [h.offer(), h.offer(), h.offer()];
    const d = h.offer();
    h.admission.setLimit(1);
    expect(h.admission.limit).toBe(1);
    expect(h.admission.running).toBe(3);
    h.finish(a);
    h.finish(b);
    expect(d.via).toBeUndefined();
    h.finish(c);
    expect(d.via).toBe('pump');
    expect(h.admission.tryEnter()).toBeUndefined();
  });

  it('setLimit validates its argument', () => {
    const h = new Harness({ concurrency: 3 });
    expect(() => h.admission.setLimit(0)).toThrow(RangeError);
    expect(() => h.admission.setLimit(2.5)).toThrow(RangeError);
    expect(() => h.admission.setLimit(Number.NaN)).toThrow();
    expect(h.admission.limit).toBe(3);
  });

  it('pause() keeps leaves from starting waiters; resume() starts them; resume() when running is a no-op', () => {
    const h = new Harness({ concurrency: 1 });
    const a = h.offer();
    h.offer();
    h.admission.pause();
    h.finish(a);
    expect(h.started).toHaveLength(1);
    h.admission.resume();
    expect(h.started).toHaveLength(2);
    const pumps = h.pumpedCalls;
    h.admission.resume();
    expect(h.pumpedCalls).toBe(pumps);
  });

  it('close(): starts nothing more, ignores enqueued(), and running units still leave', () => {
    const clock = new ManualClock();
    const rate = new ScriptedRate(1);
    const h = new Harness({ concurrency: 1, rate, clock });
    const a = h.offer();
    h.offer();
    h.admission.close();
    h.finish(a);
    expect(h.started).toHaveLength(1);
    expect(h.admission.running).toBe(0);
    h.offer();
    expect(clock.pendingTimers).toBe(0);
    expect(rate.listeners).toBe(0);
    h.admission.resume();
    h.admission.setLimit(5);
    expect(h.started).toHaveLength(1);
  });
});

describe('Admission: the async acquire loop', () => {
  it('serves the head, one acquire at a time, in line order', async () => {
    const conc = new AsyncConcurrency(10);
    const h = new Harness({ concurrency: conc });
    h.offer();
    h.offer();
    h.offer();
    await flush();
    expect(conc.open).toHaveLength(1);
    expect(h.admission.isAcquiring).toBe(true);
    conc.grantNext();
    await flush();
    expect(h.ids(h.started)).toEqual([0]);
    expect(conc.open).toHaveLength(1);
    conc.grantNext();
    await flush();
    conc.grantNext();
    await flush();
    expect(h.ids(h.started)).toEqual([0, 1, 2]);
    expect(h.admission.running).toBe(3);
    expect(h.pumpedCalls).toBe(3);
    await flush();
    expect(h.admission.isAcquiring).toBe(false);
    for (const u of h.started) h.finish(u);
    expect(conc.inUse).toBe(0);
    expect(h.admission.running).toBe(0);
  });

  it('the head removed while others wait: the grant goes to the new head', async () => {
    const conc = new AsyncConcurrency(10);
    const h = new Harness({ concurrency: conc });
    const a = h.offer();
    h.offer();
    await flush();
    h.remove(a);
    expect(conc.open[0]!.signal!.aborted).toBe(false);
    conc.grantNext();
    await flush();
    expect(h.ids(h.started)).toEqual([1]);
  });

  it('the only waiter removed: the acquire is aborted, nothing starts, no slot is held', async () => {
    const conc = new AsyncConcurrency(10);
    const h = new Harness({ concurrency: conc });
    const a = h.offer();
    await flush();
    const req = conc.open[0]!;
    h.remove(a);
    expect(req.signal!.aborted).toBe(true);
    await flush();
    expect(h.started).toHaveLength(0);
    expect(h.failed).toHaveLength(0);
    expect(h.admission.running).toBe(0);
    expect(h.admission.isAcquiring).toBe(false);
    // A later unit is served normally.
    h.offer();
    await flush();
    conc.grantNext();
    await flush();
    expect(h.ids(h.started)).toEqual([1]);
  });

  it('a source that rejects: fail() gets the head and the error unchanged, the next is asked for, no slot is lost', async () => {
    const conc = new AsyncConcurrency(10);
    const h = new Harness({ concurrency: conc });
    const a = h.offer();
    h.offer();
    await flush();
    const boom = new Error('server down');
    conc.open[0]!.fail(boom);
    await flush();
    expect(h.failed).toEqual([{ unit: a, error: boom }]);
    expect(h.admission.running).toBe(0);
    expect(conc.open).toHaveLength(1);
    conc.grantNext();
    await flush();
    expect(h.ids(h.started)).toEqual([1]);
    expect(h.admission.running).toBe(1);
  });

  it('an async rate that rejects gives the counted slot back', async () => {
    const rate = new AsyncRate();
    const h = new Harness({ concurrency: 1, rate });
    const a = h.offer();
    h.offer();
    await flush();
    expect(h.admission.running).toBe(1); // the head holds its slot while it waits for its token
    rate.open[0]!.fail(new Error('redis down'));
    await flush();
    expect(h.failed.map((f) => f.unit)).toEqual([a]);
    expect(rate.open).toHaveLength(1); // the slot came back: the next unit is being served
    rate.grantNext();
    await flush();
    expect(h.ids(h.started)).toEqual([1]);
    expect(h.admission.running).toBe(1);
  });

  it('an async rate that rejects gives a LocalConcurrency permit back', async () => {
    const conc = new LocalConcurrency({ limit: 1 });
    const rate = new AsyncRate();
    const h = new Harness({ concurrency: conc, rate });
    h.offer();
    await flush();
    expect(conc.inUse).toBe(1);
    rate.open[0]!.fail(new Error('redis down'));
    await flush();
    expect(conc.inUse).toBe(0);
    expect(h.admission.running).toBe(0);
    expect(h.failed).toHaveLength(1);
  });

  it('counted cap with an async rate: at most `limit` hold slots; a leave restarts the loop', async () => {
    const rate = new AsyncRate();
    const h = new Harness({ concurrency: 1, rate });
    h.offer();
    h.offer();
    await flush();
    rate.grantNext();
    await flush();
    expect(h.ids(h.started)).toEqual([0]);
    expect(rate.open).toHaveLength(0); // the cap is full: nobody asks for a token
    h.finish(h.started[0]!);
    await flush();
    expect(rate.open).toHaveLength(1);
    rate.grantNext();
    await flush();
    expect(h.ids(h.started)).toEqual([0, 1]);
  });

  it('close() aborts the acquire: nothing starts, no slot is held', async () => {
    const conc = new AsyncConcurrency(10);
    const h = new Harness({ concurrency: conc });
    h.offer();
    await flush();
    const req = conc.open[0]!;
    h.admission.close();
    expect(req.signal!.aborted).toBe(true);
    await flush();
    expect(h.started).toHaveLength(0);
    expect(h.failed).toHaveLength(0);
    expect(h.admission.running).toBe(0);
  });

  it('pause() before the acquire: the loop waits for resume()', async () => {
    const conc = new AsyncConcurrency(10);
    const h = new Harness({ concurrency: conc });
    h.admission.pause();
    h.offer();
    await flush();
    expect(conc.requests).toHaveLength(0);
    h.admission.resume();
    await flush();
    conc.grantNext();
    await flush();
    expect(h.started).toHaveLength(1);
  });
});

describe('Admission: reads', () => {
  it('isAcquiring is false for a synchronous admission', () => {
    const h = new Harness({ concurrency: 1 });
    h.offer();
    h.offer();
    expect(h.admission.isAcquiring).toBe(false);
  });

  it('a permit handed to start() is the one the source granted', () => {
    const granted: Permit[] = [];
    const inner = new LocalConcurrency({ limit: 1 });
    const conc: ConcurrencySource = {
      get limit() {
        return inner.limit;
      },
      get inUse() {
        return inner.inUse;
      },
      tryAcquire: () => {
        const p = inner.tryAcquire();
        if (p) granted.push(p);
        return p;
      },
      acquire: (s) => inner.acquire(s),
      onAvailable: inner.onAvailable,
    };
    const h = new Harness({ concurrency: conc });
    const a: Unit = h.offer();
    const b = h.offer();
    h.finish(a);
    expect(b.permit).toBe(granted[1]);
  });
});

describe('Admission: passOn (a counted slot handed straight to the next waiter)', () => {
  it('gives the slot to the head of the line, in order, without a give-back or a pump callback', () => {
    const h = new Harness({ concurrency: 1 });
    const [a, b, c] = [h.offer(), h.offer(), h.offer()];
    expect(a.via).toBe('fast');
    h.finishPassingOn(a);
    expect(h.ids(h.started)).toEqual([a.id, b.id]);
    expect(h.admission.running).toBe(1);
    h.finishPassingOn(b);
    expect(h.ids(h.started)).toEqual([a.id, b.id, c.id]);
    h.finishPassingOn(c);
    expect(h.admission.running).toBe(0);
    expect(h.line.size).toBe(0);
  });

  it('passes nothing above a lowered cap: the slot is given back and the waiter keeps waiting', () => {
    const h = new Harness({ concurrency: 3 });
    const units = [h.offer(), h.offer(), h.offer(), h.offer()];
    h.admission.setLimit(1);
    h.finishPassingOn(units[0]!);
    expect(h.admission.running).toBe(2);
    expect(units[3]!.via).toBeUndefined();
    h.finishPassingOn(units[1]!);
    expect(units[3]!.via).toBeUndefined();
    h.finishPassingOn(units[2]!);
    expect(units[3]!.via).toBe('pump'); // now below the cap: passed on
    expect(h.admission.running).toBe(1);
  });

  it('passes nothing while paused or closed, or with a rate source (then it is leave)', () => {
    const paused = new Harness({ concurrency: 1 });
    const [p1, p2] = [paused.offer(), paused.offer()];
    paused.admission.pause();
    paused.finishPassingOn(p1);
    expect(p2.via).toBeUndefined();
    expect(paused.admission.running).toBe(0);
    paused.admission.resume();
    expect(p2.via).toBe('pump');

    const rated = new Harness({ concurrency: 1, rate: new TokenBucket({ tokenLimit: 5, rate: 1, hz: 10 }) });
    const [r1, r2] = [rated.offer(), rated.offer()];
    const pumped = rated.pumpedCalls;
    rated.finishPassingOn(r1);
    expect(r2.via).toBe('pump');
    expect(rated.pumpedCalls).toBe(pumped + 1); // started by leave's pump, not handed over
  });
});
