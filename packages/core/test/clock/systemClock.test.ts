import { afterEach, describe, expect, it, vi } from 'vitest';
import { deferred } from '@valve/testkit';
import { systemClock } from '../../src/index.js';

/** Captures the Node timer handles systemClock creates, and the delays it asked for. */
function spyTimers() {
  const spy = vi.spyOn(globalThis, 'setTimeout');
  return {
    handles: () => spy.mock.results.map((r) => r.value as NodeJS.Timeout),
    delays: () => spy.mock.calls.map((c) => c[1]),
  };
}

afterEach(() => {
  vi.restoreAllMocks();
});

describe('systemClock', () => {
  it('now() is monotonic milliseconds from performance.now()', () => {
    const a = systemClock.now();
    const p = performance.now();
    const b = systemClock.now();
    expect(b).toBeGreaterThanOrEqual(a);
    expect(a).toBeLessThanOrEqual(p);
    expect(p).toBeLessThanOrEqual(b);
  });

  it('creates unref’d timers, so an idle valve never keeps the process alive', () => {
    const timers = spyTimers();
    const t = systemClock.setTimeout(() => {}, 60_000);
    const [handle] = timers.handles();
    expect(handle!.hasRef()).toBe(false);
    expect(t.ref()).toBe(t);
    expect(handle!.hasRef()).toBe(true);
    t.unref();
    expect(handle!.hasRef()).toBe(false);
    t.clear();
  });

  it('fires a short timer once', async () => {
    const fired = deferred<number>();
    let calls = 0;
    systemClock.setTimeout(() => {
      calls++;
      fired.resolve(calls);
    }, 1);
    expect(await fired.promise).toBe(1);
  });

  it('clear() prevents the call and can be repeated', async () => {
    let called = false;
    const t = systemClock.setTimeout(() => (called = true), 0);
    t.clear();
    t.clear();
    // A later 1 ms timer firing proves the cleared 0 ms one had its chance.
    const later = deferred();
    systemClock.setTimeout(() => later.resolve(), 1).ref();
    await later.promise;
    expect(called).toBe(false);
  });

  it('never arms a Node timer for an infinite delay (Node would fire it after 1 ms)', () => {
    const timers = spyTimers();
    const t = systemClock.setTimeout(() => {
      throw new Error('must not fire');
    }, Number.POSITIVE_INFINITY);
    expect(timers.delays()).toEqual([]);
    t.ref().unref().clear();
  });

  it('arms delays beyond 2^31 - 1 ms in chunks instead of overflowing', () => {
    const timers = spyTimers();
    const t = systemClock.setTimeout(() => {}, 2 ** 31 + 10);
    expect(timers.delays()).toEqual([2 ** 31 - 1]);
    t.clear();
  });

  it('treats negative and NaN delays as 0', () => {
    const timers = spyTimers();
    systemClock.setTimeout(() => {}, -5).clear();
    systemClock.setTimeout(() => {}, Number.NaN).clear();
    expect(timers.delays()).toEqual([0, 0]);
  });
});
