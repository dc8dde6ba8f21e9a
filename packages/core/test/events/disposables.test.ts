import { describe, expect, it } from 'vitest';
import { disposable, Emitter, Gauge, LocalConcurrency, rethrowLater } from '../../src/index.js';

describe('Symbol.dispose on subscriptions and permits', () => {
  it('`using` a subscription unsubscribes at the end of the block', () => {
    const e = new Emitter<number>();
    const seen: number[] = [];
    {
      using _sub = e.event((v) => seen.push(v));
      e.emit(1);
      expect(e.size).toBe(1);
    }
    e.emit(2);
    expect(seen).toEqual([1]);
    expect(e.size).toBe(0);
  });

  it('dispose() and [Symbol.dispose]() are one idempotent call', () => {
    let calls = 0;
    const d = disposable(() => calls++);
    d.dispose();
    d[Symbol.dispose]();
    d.dispose();
    expect(calls).toBe(1);
  });

  it('a gauge collector handle disposes with `using`', () => {
    const g = new Gauge();
    {
      using _c = g.addCollector(() => 5);
      expect(g.value).toBe(5);
    }
    expect(g.value).toBe(0);
  });

  it('`using` a LocalConcurrency permit releases the slot, once', async () => {
    const slots = new LocalConcurrency({ limit: 1 });
    {
      using permit = slots.tryAcquire();
      expect(permit).toBeDefined();
      expect(slots.inUse).toBe(1);
    }
    expect(slots.inUse).toBe(0);
    await using_acquired(slots);
    expect(slots.inUse).toBe(0);
  });
});

async function using_acquired(slots: LocalConcurrency): Promise<void> {
  using p = await slots.acquire();
  expect(slots.inUse).toBe(1);
  p.release(); // releasing early, then disposing, still frees one slot only
}

describe('rethrowLater', () => {
  it('throws the error on a microtask, not in the caller', async () => {
    const error = new Error('listener failed');
    const caught: unknown[] = [];
    const onUncaught = (e: unknown) => caught.push(e);
    process.prependListener('uncaughtException', onUncaught);
    try {
      expect(() => rethrowLater(error)).not.toThrow();
      expect(caught).toEqual([]);
      await new Promise((resolve) => setImmediate(resolve));
      expect(caught).toEqual([error]);
    } finally {
      process.removeListener('uncaughtException', onUncaught);
    }
  });
});
