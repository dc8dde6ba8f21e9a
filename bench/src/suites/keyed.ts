/**
 * @valve/safety's KeyedValve (issue 17 item 2) against a plain SafetyValve and
 * rate-limiter-flexible's in-memory limiter, with 10^5 live keys.
 *
 * (a) cost per admitted call, uncontended (sequential await), the keys visited in a stride over
 *     10^5 keys that were all seen before the run (so every call finds its key in the table);
 *     rate-limiter-flexible's caller does `await limiter.consume(key)` and then the job.
 * (b) memory per idle key: heap growth for 10^5 keys (one call each, then GC), bytes per key.
 */
import { KeyedValve, SafetyValve } from '@valve/safety';
import { RateLimiterMemory } from 'rate-limiter-flexible';
import { defineSuite } from '../harness.js';

const KEYS = 100_000;
const STRIDE = 7919;
const job = async () => 1;
const keys = Array.from({ length: KEYS }, (_, i) => `tenant-${i}`);
/** Buckets large enough that no call is refused: the admitted path is what is measured. */
const perKey = { hz: 1000, rate: 1_000_000, tokenLimit: 1_000_000 };

function cycling(n: number, call: (key: string) => Promise<unknown>): () => Promise<void> {
  let k = 0;
  return async () => {
    for (let i = 0; i < n; i++) {
      k = (k + STRIDE) % KEYS;
      await call(keys[k]!);
    }
  };
}

async function fill(call: (key: string) => Promise<unknown>): Promise<void> {
  for (const key of keys) await call(key);
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
  description: 'KeyedValve with 10^5 live keys vs a plain SafetyValve and rate-limiter-flexible (memory)',
  cases: async ({ scale }) => {
    const n = scale(100_000);
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
    await fill((k) => keyedBucket.run(k, job));
    await fill((k) => keyedShare.run(k, job));
    await fill((k) => keyedOnly.run(k, job));
    await fill((k) => flexible.consume(k));
    const held: unknown[] = [];
    const states = new Map<string, { seen: number }>();
    for (const key of keys) {
      states.set(key, { seen: 0 });
      await job(); // spread the objects over the heap as a table filled by traffic would be
    }
    return [
      {
        title: `(a) cost per admitted call, ${KEYS} live keys, uncontended (sequential await)`,
        ops: n,
        contenders: [
          { name: 'KeyedValve run(key) + per-key bucket', run: cycling(n, (k) => keyedBucket.run(k, job)) },
          { name: 'KeyedValve run(key) + bucket + share', run: cycling(n, (k) => keyedShare.run(k, job)) },
          { name: 'KeyedValve run(key), cap only', run: cycling(n, (k) => keyedOnly.run(k, job)) },
          { name: 'plain SafetyValve run()', run: cycling(n, () => plain.run(job)) },
          {
            // The floor for any keyed limiter: find the key's state object and touch it.
            name: 'Map.get(key) state touched + plain run()',
            run: cycling(n, (k) => {
              const state = states.get(k)!;
              state.seen++;
              return plain.run(job);
            }),
          },
          {
            name: 'rate-limiter-flexible Memory consume(key) + job',
            run: cycling(n, (k) => flexible.consume(k).then(job)),
          },
        ],
      },
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
