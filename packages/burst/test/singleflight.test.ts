// The cases of Go's golang.org/x/sync/singleflight/singleflight_test.go, translated. Go's panic
// and runtime.Goexit cases become a fetcher that throws synchronously (the JS equivalent of a
// call that never returns normally): every caller must settle and the group stays usable.
import { deferred, flush, track } from '@valve/testkit';
import { describe, expect, it } from 'vitest';
import { BurstValve } from '../src/index.js';

describe('singleflight_test.go', () => {
  it('TestDo', async () => {
    const g = new BurstValve<string, string>(async () => 'bar');
    const { value, shared } = await g.fetchShared('key');
    expect(value).toBe('bar');
    expect(shared).toBe(false);
  });

  it('TestDoErr', async () => {
    const someErr = new Error('Some error');
    const g = new BurstValve<string, string>(async () => {
      throw someErr;
    });
    await expect(g.fetch('key')).rejects.toBe(someErr);
  });

  it('TestDoDupSuppress', async () => {
    const c = deferred<string>();
    let calls = 0;
    const g = new BurstValve<string, string>(() => {
      calls++;
      return c.promise;
    });
    const n = 10;
    const results = Array.from({ length: n }, () => track(g.fetchShared('key')));
    c.resolve('bar');
    await flush();
    expect(calls).toBe(1);
    for (const r of results) expect(r.value).toEqual({ value: 'bar', shared: true });
  });

  it('TestForget', async () => {
    const firstStarted = deferred();
    const unblockFirst = deferred<number>();
    let secondRan = false;
    const g = new BurstValve<number, string>(async () => {
      if (!firstStarted.settled) {
        firstStarted.resolve();
        return unblockFirst.promise;
      }
      secondRan = true;
      return 2;
    });
    const first = g.fetch('key');
    await firstStarted.promise;
    g.forget('key');
    // Forget must let a new call start even though the first is still in flight.
    expect(await g.fetch('key')).toBe(2);
    expect(secondRan).toBe(true);
    unblockFirst.resolve(1);
    expect(await first).toBe(1);
    // A third call after both finished runs again (nothing is left behind).
    expect(g.size).toBe(0);
  });

  it('TestForgetUnshared: forget during the first call, then two more share the second', async () => {
    const gates = [deferred<number>(), deferred<number>()];
    let runs = 0;
    const g = new BurstValve<number, string>(() => gates[runs++]!.promise);
    const a = g.fetchShared('key');
    g.forget('key');
    const b = g.fetchShared('key');
    const c = g.fetchShared('key');
    gates[0]!.resolve(1);
    gates[1]!.resolve(2);
    expect(await a).toEqual({ value: 1, shared: false });
    expect(await b).toEqual({ value: 2, shared: true });
    expect(await c).toEqual({ value: 2, shared: true });
  });

  it('TestPanicDo / TestGoexitDo: a synchronous throw settles every caller; the group stays usable', async () => {
    let first = true;
    const g = new BurstValve<string, string>(() => {
      if (first) {
        first = false;
        throw new Error('invalid memory address or nil pointer dereference');
      }
      return Promise.resolve('ok');
    });
    await expect(g.fetch('key')).rejects.toThrow('nil pointer');
    expect(g.isActive('key')).toBe(false);
    expect(await g.fetch('key')).toBe('ok');
  });

  it('TestPanicDoSharedByDoChan: a throwing call rejects the waiters that joined it', async () => {
    const blocked = deferred();
    const g = new BurstValve<string, string>(async () => {
      await blocked.promise;
      throw new Error('Panicking in Do');
    });
    const callers = [track(g.fetch('')), track(g.fetchShared(''))];
    blocked.resolve();
    await flush();
    expect(callers.map((c) => (c.error as Error).message)).toEqual(['Panicking in Do', 'Panicking in Do']);
  });
});
