/**
 * @valve/burst against burst-valve 1.4.0, p-memoize 8 (in-flight dedupe only, `cache: false`),
 * dataloader (cache cleared when each batch settles), promise-coalesce, and a naive 15-line
 * `Map<key, Promise>` singleflight as the floor (issue 9, "Benchmark").
 *
 * Every contender wraps the same fetcher, which settles on the next macrotask (setImmediate),
 * and every run awaits all of its calls, so each `run()` is the whole round trip.
 */
import { BurstValve } from '@valve/burst';
import { BurstValve as BurstValve14 } from 'burst-valve';
import DataLoader from 'dataloader';
import pMemoize from 'p-memoize';
import { coalesceAsync } from 'promise-coalesce';
import { type Contender, defineSuite } from '../harness.js';

type Fetch = (key: number) => Promise<number>;

/** The fetcher of the time cases: resolves with its key on the next macrotask. */
function nextMacrotask(key: number): Promise<number> {
  return new Promise((resolve) => setImmediate(resolve, key));
}

/** The floor: the smallest correct singleflight (no abort, no timeout, no stats). */
function naiveSingleflight(fetcher: Fetch): Fetch {
  const inFlight = new Map<number, Promise<number>>();
  return (key) => {
    let p = inFlight.get(key);
    if (p !== undefined) return p;
    p = fetcher(key).finally(() => inFlight.delete(key));
    inFlight.set(key, p);
    return p;
  };
}

/** Each peer, set up as a per-key coalescer that keeps nothing once a call settled. */
function contenders(fetcher: Fetch): { name: string; make: () => Fetch }[] {
  return [
    {
      name: '@valve/burst',
      make: () => {
        const v = new BurstValve<number, number>(fetcher);
        return (k) => v.fetch(k);
      },
    },
    { name: 'naive Map<key,Promise> (floor)', make: () => naiveSingleflight(fetcher) },
    {
      name: 'burst-valve 1.4.0',
      make: () => {
        // burst-valve's types want `(key?: K)`; the fetcher is never called without a key here.
        const v = new BurstValve14<number, number>(fetcher as (key?: number) => Promise<number>);
        return (k) => v.fetch(k);
      },
    },
    { name: 'p-memoize 8 (cache: false)', make: () => pMemoize(fetcher, { cache: false }) },
    {
      name: 'dataloader 2',
      make: () => {
        const loader: DataLoader<number, number> = new DataLoader(async (keys) => {
          const values = await Promise.all(keys.map(fetcher));
          for (const k of keys) loader.clear(k);
          return values;
        });
        return (k) => loader.load(k);
      },
    },
    { name: 'promise-coalesce', make: () => (k) => coalesceAsync(String(k), () => fetcher(k)) },
  ];
}

/** `total` calls in waves of `width` concurrent callers; `keyOf(i)` picks each call's key. */
function waves(make: () => Fetch, total: number, width: number, keyOf: (i: number) => number): Contender['run'] {
  return async () => {
    const fetch = make();
    const wave = new Array<Promise<number>>(width);
    let i = 0;
    while (i < total) {
      const n = Math.min(width, total - i);
      for (let j = 0; j < n; j++) wave[j] = fetch(keyOf(i++));
      wave.length = n;
      await Promise.all(wave);
    }
  };
}

export default defineSuite({
  name: 'burst',
  description: 'request coalescing: one call in flight per key (issue 9)',
  cases: (ctx) => {
    const hotOps = ctx.scale(1_000_000);
    const distinctOps = ctx.scale(1_000_000);
    const heapKeys = ctx.smoke ? 1_000 : 100_000;
    const signalOps = ctx.scale(200_000);
    const batchOps = ctx.scale(500_000);
    // Keys start at 1: burst-valve 1.4.0 treats key 0 as "no key" (defect B1).
    const hotKey = () => 1;
    let next = 1;
    const distinctKey = () => next++;

    const list = contenders(nextMacrotask);
    return [
      {
        title: `(a) hot key: ${hotOps} calls in waves of 100 concurrent callers of one key`,
        ops: hotOps,
        contenders: list.map((c) => ({ name: c.name, run: waves(c.make, hotOps, 100, hotKey) })),
      },
      {
        title: `(b) distinct keys: ${distinctOps} keys, 1,000 in flight`,
        ops: distinctOps,
        contenders: list.map((c) => ({ name: c.name, run: waves(c.make, distinctOps, 1000, distinctKey) })),
      },
      {
        title: `(c) heap per in-flight key, ${heapKeys} keys in flight`,
        kind: 'value',
        unit: 'B/key',
        rounds: ctx.smoke ? 1 : 5,
        contenders: contenders(() => gate).map((c) => ({
          name: c.name,
          run: () => heapPerKey(c.make, heapKeys),
        })),
      },
      {
        title: `(d) callers with a signal: ${signalOps} calls, waves of 100 on one key, one AbortController each`,
        ops: signalOps,
        contenders: [
          {
            name: '@valve/burst fetch(k, { signal })',
            run: () => {
              const v = new BurstValve<number, number>(nextMacrotask);
              return signalWaves((k, signal) => v.fetch(k, { signal }), signalOps);
            },
          },
          {
            name: 'floor: naive + 1 promise + 1 listener per caller',
            run: () => signalWaves(naiveWithSignal(naiveSingleflight(nextMacrotask)), signalOps),
          },
        ],
      },
      {
        title: `(e) batch mode: ${batchOps} fetch() calls of distinct keys, 1,000 per tick merged into one batch`,
        ops: batchOps,
        contenders: [
          {
            name: '@valve/burst { batch }',
            run: () => {
              const v = new BurstValve<number, number>({ batch: batchFetcher });
              return waves(() => (k) => v.fetch(k), batchOps, 1000, distinctKey)();
            },
          },
          {
            name: 'dataloader 2 (cache cleared per batch)',
            run: () => {
              const loader: DataLoader<number, number> = new DataLoader(async (keys) => {
                const values = await batchFetcher(keys as number[]);
                for (const k of keys) loader.clear(k);
                return values;
              });
              return waves(() => (k) => loader.load(k), batchOps, 1000, distinctKey)();
            },
          },
          {
            name: 'burst-valve 1.4.0 { batch } (no same-tick merging)',
            run: () => {
              const v = new BurstValve14<number, number>({ batch: batchFetcher });
              return waves(() => (k) => v.fetch(k), batchOps, 1000, distinctKey)();
            },
          },
        ],
      },
    ];
  },
});

/** One pending promise shared by every key of the heap case: its fetcher allocates nothing. */
let release: () => void = () => {};
let gate = new Promise<number>((resolve) => {
  release = () => resolve(0);
});

async function heapPerKey(make: () => Fetch, n: number): Promise<number> {
  const gc = (globalThis as { gc?: () => void }).gc;
  if (gc === undefined) throw new Error('the heap case needs node --expose-gc');
  const fetch = make();
  const held = new Array<Promise<number>>(n).fill(undefined as never);
  gc();
  const before = process.memoryUsage().heapUsed;
  for (let i = 0; i < n; i++) held[i] = fetch(i + 1);
  // One macrotask: loaders that dispatch on a later tick (dataloader) reach their in-flight state.
  await new Promise((resolve) => setImmediate(resolve));
  gc();
  const bytes = (process.memoryUsage().heapUsed - before) / n;
  release();
  await Promise.all(held);
  gate = new Promise<number>((resolve) => {
    release = () => resolve(0);
  });
  return bytes;
}

type SignalFetch = (key: number, signal: AbortSignal) => Promise<number>;

/** The unavoidable cost of a cancellable caller: its own promise and one abort listener. */
function naiveWithSignal(fetch: Fetch): SignalFetch {
  return (key, signal) =>
    new Promise((resolve, reject) => {
      signal.addEventListener('abort', () => reject(signal.reason), { once: true });
      fetch(key).then(resolve, reject);
    });
}

async function signalWaves(fetch: SignalFetch, total: number): Promise<void> {
  const wave = new Array<Promise<number>>(100);
  for (let i = 0; i < total; i += 100) {
    for (let j = 0; j < 100; j++) wave[j] = fetch(1, new AbortController().signal);
    await Promise.all(wave);
  }
}

/** The batch fetcher of case (e): one macrotask for the whole batch. */
function batchFetcher(keys: number[]): Promise<number[]> {
  return new Promise((resolve) => setImmediate(resolve, keys));
}
