/**
 * Issue 19, item 5: `PromisePool.mapIterable` over sync and async iterables, streamed, in order
 * or as completed, with back pressure on the source (p-map's `pMapIterable`).
 */
import { deferred, type Deferred, flush } from '@valve/testkit';
import { describe, expect, it } from 'vitest';
import { PromisePool } from '../../src/index.js';

/** An async source that records how far it was pulled and whether it was closed. */
function source(n: number, opts: { failAt?: number } = {}) {
  const log = { pulled: 0, closed: false };
  async function* gen() {
    try {
      for (let i = 0; i < n; i++) {
        if (i === opts.failAt) throw new Error(`source failed at ${i}`);
        log.pulled++;
        yield i;
      }
    } finally {
      log.closed = true;
    }
  }
  return { log, items: gen() };
}

async function collect<T>(it: AsyncIterable<T>): Promise<T[]> {
  const out: T[] = [];
  for await (const v of it) out.push(v);
  return out;
}

describe('PromisePool.mapIterable', () => {
  it('maps an async iterable in input order by default, whatever order items finish in', async () => {
    const gates: Deferred<void>[] = Array.from({ length: 4 }, () => deferred());
    const { items } = source(4);
    const it = PromisePool.mapIterable(
      items,
      async (n, index) => {
        await gates[n]!.promise;
        return `${n}@${index}`;
      },
      { concurrency: 4 },
    );
    const results = collect(it);
    for (const g of [...gates].reverse()) {
      g.resolve();
      await flush();
    }
    await expect(results).resolves.toEqual(['0@0', '1@1', '2@2', '3@3']);
  });

  it('ordered: false yields results as they complete', async () => {
    const gates: Deferred<void>[] = Array.from({ length: 3 }, () => deferred());
    const it = PromisePool.mapIterable(
      [0, 1, 2],
      async (n) => {
        await gates[n]!.promise;
        return n;
      },
      { concurrency: 3, ordered: false },
    );
    const results = collect(it);
    await flush();
    gates[2]!.resolve();
    await flush();
    gates[0]!.resolve();
    await flush();
    gates[1]!.resolve();
    await expect(results).resolves.toEqual([2, 0, 1]);
  });

  it('runs at most `concurrency` at once and never pulls more than concurrency + buffer ahead of the consumer', async () => {
    const { log, items } = source(100);
    let running = 0;
    let most = 0;
    const it = PromisePool.mapIterable(
      items,
      async (n) => {
        running++;
        most = Math.max(most, running);
        await flush();
        running--;
        return n;
      },
      { concurrency: 2, buffer: 3 },
    );
    expect((await it.next()).value).toBe(0);
    // The consumer stops reading: the map fills its buffer and waits.
    for (let i = 0; i < 20; i++) await flush();
    expect(log.pulled).toBeLessThanOrEqual(1 + 2 + 3);
    expect(log.pulled).toBeGreaterThanOrEqual(3);
    const rest = await collect({ [Symbol.asyncIterator]: () => it });
    expect(rest).toEqual(Array.from({ length: 99 }, (_, i) => i + 1));
    expect(most).toBe(2);
  });

  it('the default buffer is concurrency; concurrency 1 is one at a time, in order', async () => {
    const log: string[] = [];
    const out = await collect(
      PromisePool.mapIterable(
        [1, 2, 3],
        async (n) => {
          log.push(`start ${n}`);
          await flush();
          log.push(`end ${n}`);
          return n * 10;
        },
        { concurrency: 1 },
      ),
    );
    expect(out).toEqual([10, 20, 30]);
    expect(log).toEqual(['start 1', 'end 1', 'start 2', 'end 2', 'start 3', 'end 3']);
  });

  it('a failing item stops the map: the error is thrown, the source is closed, running items see their signal abort', async () => {
    const { log, items } = source(1000);
    const signals: AbortSignal[] = [];
    const it = PromisePool.mapIterable(
      items,
      async (n, _i, { signal }) => {
        signals.push(signal);
        await flush();
        if (n === 3) throw new Error('item 3 failed');
        return n;
      },
      { concurrency: 2 },
    );
    const seen: number[] = [];
    await expect(
      (async () => {
        for await (const v of it) seen.push(v);
      })(),
    ).rejects.toThrow('item 3 failed');
    expect(seen).toEqual([0, 1, 2]);
    expect(log.closed).toBe(true);
    expect(log.pulled).toBeLessThan(10);
    expect(signals[0]!.aborted).toBe(true);
  });

  it('a source that throws: the error is thrown after the results before it', async () => {
    const { items } = source(10, { failAt: 2 });
    const seen: number[] = [];
    await expect(
      (async () => {
        for await (const v of PromisePool.mapIterable(items, async (n) => n, { concurrency: 1 })) seen.push(v);
      })(),
    ).rejects.toThrow('source failed at 2');
    expect(seen).toEqual([0, 1]);
  });

  it('an early break closes the source and pulls nothing more', async () => {
    const { log, items } = source(1000);
    for await (const v of PromisePool.mapIterable(items, async (n) => n, { concurrency: 4 })) {
      if (v === 5) break;
    }
    expect(log.closed).toBe(true);
    const pulled = log.pulled;
    await flush();
    expect(log.pulled).toBe(pulled);
    expect(pulled).toBeLessThanOrEqual(6 + 4 + 4);
  });

  it('sync iterables, a synchronous fn, a throwing fn, empty input', async () => {
    await expect(collect(PromisePool.mapIterable(new Set([1, 2, 3]), (n) => n * 2))).resolves.toEqual([2, 4, 6]);
    await expect(collect(PromisePool.mapIterable([], async (n) => n))).resolves.toEqual([]);
    await expect(
      collect(
        PromisePool.mapIterable([1], () => {
          throw new Error('sync throw');
        }),
      ),
    ).rejects.toThrow('sync throw');
  });

  it('aborting the signal stops the map with its reason', async () => {
    const { log, items } = source(1000);
    const controller = new AbortController();
    const it = PromisePool.mapIterable(items, async (n) => n, { signal: controller.signal });
    expect((await it.next()).value).toBe(0);
    controller.abort(new Error('stop'));
    await expect(collect({ [Symbol.asyncIterator]: () => it })).rejects.toThrow('stop');
    expect(log.closed).toBe(true);
    await expect(
      PromisePool.mapIterable([1], async (n) => n, { signal: AbortSignal.abort(new Error('early')) }).next(),
    ).rejects.toThrow('early');
  });

  it('checks its arguments', () => {
    expect(() => PromisePool.mapIterable(5 as never, async (n) => n)).toThrow(TypeError);
    expect(() => PromisePool.mapIterable([1], 'fn' as never)).toThrow(TypeError);
    expect(() => PromisePool.mapIterable([1], async (n) => n, { concurrency: 0 })).toThrow(RangeError);
    expect(() => PromisePool.mapIterable([1], async (n) => n, { buffer: -1 })).toThrow(RangeError);
    expect(() => PromisePool.mapIterable([1], async (n) => n, { ordered: 1 as never })).toThrow(TypeError);
  });
});
