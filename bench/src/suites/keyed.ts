/**
 * @valve/safety's KeyedValve (issue 17 item 2) against a plain SafetyValve and
 * rate-limiter-flexible's in-memory limiter, with 10^5 and 10^3 live keys.
 *
 * (a) cost per admitted call, uncontended (sequential await), the keys visited in a stride over
 *     10^5 keys that were all seen before the run (so every call finds its key in the table);
 *     rate-limiter-flexible's caller does `await limiter.consume(key)` and then the job. The
 *     floor row (a Map.get and one field written, then the plain valve) is what any keyed limiter
 *     pays to find a key's state among 10^5, mostly memory latency.
 * (a') the same contenders, the same work, with 10^3 live keys: the tables stay in the cache, so
 *     what a keyed call adds over the plain valve here is the valve's own code.
 * (b) memory per idle key: heap growth for 10^5 keys (one call each, then GC), bytes per key.
 */
import { KeyedValve, SafetyValve } from '@valve/safety';
import { RateLimiterMemory } from 'rate-limiter-flexible';
import { type Case, defineSuite } from '../harness.js';

const KEYS = 100_000;
/** The cache-resident table of case (a'). */
const FEW_KEYS = 1_000;
const STRIDE = 7919;
const job = async () => 1;
const keys = Array.from({ length: KEYS }, (_, i) => `tenant-${i}`);
/** Buckets large enough that no call is refused: the admitted path is what is measured. */
const perKey = { hz: 1000, rate: 1_000_000, tokenLimit: 1_000_000 };

/** `n` sequential calls, the first `live` keys visited in a stride (every key once per `live` calls). */
function cycling(n: number, live: number, call: (key: string) => Promise<unknown>): () => Promise<void> {
  let k = 0;
  return async () => {
    for (let i = 0; i < n; i++) {
      k = (k + STRIDE) % live;
      await call(keys[k]!);
    }
  };
}

async function fill(call: (key: string) => Promise<unknown>, live = KEYS): Promise<void> {
  for (let i = 0; i < live; i++) await call(keys[i]!);
}

/**
 * Case (a) with `live` keys: every contender on its own valve or table, filled with those keys
 * when the case starts (its contenders' `before`), so a case's tables are not in the heap while an
 * earlier case runs: a heap holding 10^5-key tables slows every call after the harness's gc().
 */
function admittedCase(title: string, n: number, live: number): Case {
  const plain = new SafetyValve({ name: 'bench-plain', size: 30, concurrency: 32 });
  const keyedBucket = new KeyedValve({ name: 'bench-keyed', size: 30, concurrency: 32, perKey, maxKeys: 200_000 });
  const keyedShare = new KeyedValve({
    name: 'bench-keyed-share',
    size: 30,
    concurrency: 32,
    perKey: { ...perKey, concurrency: 4 },
    maxKeys: 200_000,
  });
  const keyedOnly = new KeyedValve({ name: 'bench-keyed-cap', size: 30, concurrency: 32, maxKeys: 200_000 });
  const flexible = new RateLimiterMemory({ points: 1_000_000_000, duration: 60 });
  const states = new Map<string, { seen: number }>();
  let filled: Promise<void> | undefined;
  const before = () =>
    (filled ??= (async () => {
      await fill((k) => keyedBucket.run(k, job), live);
      await fill((k) => keyedShare.run(k, job), live);
      await fill((k) => keyedOnly.run(k, job), live);
      await fill((k) => flexible.consume(k), live);
      for (let i = 0; i < live; i++) {
        states.set(keys[i]!, { seen: 0 });
        await job(); // spread the objects over the heap as a table filled by traffic would be
      }
    })());
  return {
    title,
    ops: n,
    contenders: [
      { before, name: 'KeyedValve run(key) + per-key bucket', run: cycling(n, live, (k) => keyedBucket.run(k, job)) },
      { before, name: 'KeyedValve run(key) + bucket + share', run: cycling(n, live, (k) => keyedShare.run(k, job)) },
      { before, name: 'KeyedValve run(key), cap only', run: cycling(n, live, (k) => keyedOnly.run(k, job)) },
      { before, name: 'plain SafetyValve run()', run: cycling(n, live, () => plain.run(job)) },
      {
        before,
        // The floor for any keyed limiter: find the key's state object and touch it.
        name: 'Map.get(key) state touched + plain run()',
        run: cycling(n, live, (k) => {
          const state = states.get(k)!;
          state.seen++;
          return plain.run(job);
        }),
      },
      {
        before,
        name: 'rate-limiter-flexible Memory consume(key) + job',
        run: cycling(n, live, (k) => flexible.consume(k).then(job)),
      },
    ],
  };
}

function gc(): void {
  (globalThis as { gc?: () => void }).gc?.();
}

/** Heap bytes per key after `KEYS` keys went through `make()`'s call (what stays per idle key). */
async function bytesPerKey(make: () => (key: string) => Promise<unknown>): Promise<number> {
  gc();
  gc();
  const before = process.memoryUsage().heapUsed;
  const call = make();
  await fill(call);
  gc();
  gc();
  const after = process.memoryUsage().heapUsed;
  // Keep the table alive until measured.
  void call;
  return (after - before) / KEYS;
}

export default defineSuite({
  name: 'keyed',
  description:
    'KeyedValve with 10^5 and 10^3 live keys vs a plain SafetyValve, the Map.get floor and rate-limiter-flexible (memory)',
  cases: async ({ scale }) => {
    const n = scale(100_000);
    const held: unknown[] = [];
    // The 10^3 case first: its tables are small, so they do not slow the 10^5 case.
    return [
      admittedCase(
        `(a') cost per admitted call, ${FEW_KEYS} live keys (cache-resident: the valve's own cost)`,
        n,
        FEW_KEYS,
      ),
      admittedCase(`(a) the same, ${KEYS} live keys, uncontended (sequential await)`, n, KEYS),
      {
        title: `(b) heap per idle key (${KEYS} keys, after GC)`,
        kind: 'value',
        unit: 'bytes/key',
        rounds: 1,
        contenders: [
          {
            name: 'KeyedValve (per-key bucket)',
            run: () =>
              bytesPerKey(() => {
                const v = new KeyedValve({ size: 30, concurrency: 32, perKey, maxKeys: 200_000 });
                held.push(v);
                return (k) => v.run(k, job);
              }),
          },
          {
            name: 'rate-limiter-flexible Memory',
            run: () =>
              bytesPerKey(() => {
                const l = new RateLimiterMemory({ points: 1_000_000_000, duration: 60 });
                held.push(l);
                return (k) => l.consume(k);
              }),
          },
        ],
      },
    ];
  },
});
