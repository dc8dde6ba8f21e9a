/**
 * @valve/core data structures: RingBuffer as a FIFO queue against `denque` (the fastest deque on
 * npm) and a plain Array (push + shift), with many items resident, since that is where
 * Array#shift stops being O(1); BoundedRingBuffer.pushEvict against the same eviction on denque;
 * and the cost of Histogram.record against the linear scan of the export bounds it replaced.
 *
 * Every contender of a case does the same work: the queue is pre-filled (untimed, in `before`)
 * with the same number of items, then `run()` does `ops` push+shift pairs, so the queue length
 * stays at `resident` throughout. Each run returns a checksum of what it shifted, so no engine
 * can elide the work and a broken queue shows up as a different sum.
 */
import { BoundedRingBuffer, DEFAULT_BUCKETS, Histogram, RingBuffer } from '@valve/core';
import Denque from 'denque';
import { type Case, type Contender, defineSuite } from '../harness.js';

interface Fifo {
  push(item: number): unknown;
  shift(): number | undefined;
}

function fifoContender(name: string, make: () => Fifo, resident: number, ops: number): Contender {
  let q: Fifo = make();
  return {
    name,
    before: () => {
      q = make();
      for (let i = 0; i < resident; i++) q.push(i);
    },
    run: () => {
      let sum = 0;
      for (let i = 0; i < ops; i++) {
        q.push(i);
        sum += q.shift()!;
      }
      return sum;
    },
  };
}

function fifoCase(resident: number, ops: number, withArray: boolean, rounds?: number): Case {
  const contenders = [
    fifoContender('RingBuffer', () => new RingBuffer<number>(), resident, ops),
    fifoContender('denque', () => new Denque<number>(), resident, ops),
  ];
  if (withArray) contenders.push(fifoContender('Array push/shift', () => [] as number[], resident, ops));
  return {
    title: `push+shift, ${resident.toLocaleString('en')} items resident, ${ops.toLocaleString('en')} ops`,
    ops,
    contenders,
    rounds,
  };
}

function evictCase(capacity: number, ops: number): Case {
  let ring = new BoundedRingBuffer<number>(capacity);
  let dq = new Denque<number>();
  return {
    title: `pushEvict on a full buffer of ${capacity.toLocaleString('en')}, ${ops.toLocaleString('en')} ops`,
    ops,
    contenders: [
      {
        name: 'BoundedRingBuffer.pushEvict',
        before: () => {
          ring = new BoundedRingBuffer<number>(capacity);
          for (let i = 0; i < capacity; i++) ring.push(i);
        },
        run: () => {
          let sum = 0;
          for (let i = 0; i < ops; i++) sum += ring.pushEvict(i)!;
          return sum;
        },
      },
      {
        name: 'denque push + shift when full',
        before: () => {
          dq = new Denque<number>();
          for (let i = 0; i < capacity; i++) dq.push(i);
        },
        run: () => {
          let sum = 0;
          for (let i = 0; i < ops; i++) {
            const evicted = dq.length >= capacity ? dq.shift()! : 0;
            dq.push(i);
            sum += evicted;
          }
          return sum;
        },
      },
    ],
  };
}

/**
 * Histogram.record as it was before the export-bucket table: the same fine-bucket work, then a
 * linear scan of the export bounds from the first for every value. Kept here so the case shows
 * the before/after ratio in one run.
 */
const MIN = 0.001;
const LOG_G = Math.log(1.02);
const MAX_INDEX = Math.ceil(Math.log(1e12 / MIN) / LOG_G);

class LinearScanHistogram {
  private readonly counts = new Float64Array(MAX_INDEX + 1);
  /** Values below MIN (read by percentile() in the real class). */
  zeroCount = 0;
  /** Count of recorded values: kept up to date so the copy does all of the real record()'s work. */
  n = 0;
  private total = 0;
  private lo = Number.POSITIVE_INFINITY;
  private hi = Number.NEGATIVE_INFINITY;
  private readonly bounds: Float64Array;
  private readonly boundCounts: Float64Array;

  constructor(buckets: readonly number[], exportScale: number) {
    this.bounds = Float64Array.from(buckets, (b) => (b / exportScale) * (1 + 1e-12));
    this.boundCounts = new Float64Array(buckets.length);
  }

  record(value: number): void {
    if (Number.isNaN(value)) return;
    const v = value < 0 ? 0 : value;
    if (v < MIN) {
      this.zeroCount++;
    } else {
      const i = Math.floor(Math.log(v / MIN) / LOG_G);
      this.counts[i > MAX_INDEX ? MAX_INDEX : i]!++;
    }
    this.n++;
    this.total += v;
    if (v < this.lo) this.lo = v;
    if (v > this.hi) this.hi = v;
    const bounds = this.bounds;
    for (let b = 0; b < bounds.length; b++) {
      if (v <= bounds[b]!) {
        this.boundCounts[b]!++;
        break;
      }
    }
  }

  /** Same figure as `Histogram.cumulativeBuckets()` gives for the last bound (a checksum). */
  get underLast(): number {
    let acc = 0;
    for (const c of this.boundCounts) acc += c;
    return acc;
  }
}

function histogramCase(ops: number, buckets: readonly number[], label: string): Case {
  // Latency-like values spread over six decades (0.01 ms to 10 s), precomputed so the loop
  // measures record() rather than the random number generator.
  const values = new Float64Array(ops);
  let seed = 42;
  for (let i = 0; i < ops; i++) {
    seed = (seed * 1103515245 + 12345) & 0x7fffffff;
    values[i] = 10 ** (-2 + (seed / 0x7fffffff) * 6);
  }
  let h = new Histogram();
  let linear = new LinearScanHistogram(buckets, 0.001);
  return {
    title: `Histogram.record, ${ops.toLocaleString('en')} values from 0.01 ms to 10 s, ${label}`,
    ops,
    contenders: [
      {
        name: 'Histogram.record (bucket table)',
        before: () => {
          h = new Histogram({ buckets, exportScale: 0.001 });
        },
        run: () => {
          for (let i = 0; i < ops; i++) h.record(values[i]!);
          return h.cumulativeBuckets().at(-1)!.count;
        },
      },
      {
        name: 'linear scan of the bounds (before)',
        before: () => {
          linear = new LinearScanHistogram(buckets, 0.001);
        },
        run: () => {
          for (let i = 0; i < ops; i++) linear.record(values[i]!);
          return linear.underLast;
        },
      },
    ],
  };
}

export default defineSuite({
  name: 'core',
  description:
    'RingBuffer vs denque vs Array#shift as a FIFO; BoundedRingBuffer.pushEvict; Histogram.record vs its old linear scan',
  cases: (ctx) => {
    // The resident size is the scenario, so only --smoke shrinks it; --quick runs fewer ops.
    const resident = (n: number) => (ctx.smoke ? ctx.scale(n) : n);
    return [
      fifoCase(resident(100_000), ctx.scale(1_000_000), false),
      // Array#shift is O(n) at this size (about 30 µs per shift), so this case runs a tenth of
      // the ops and fewer rounds to stay in seconds; ours and denque do the same reduced work.
      fifoCase(resident(100_000), ctx.scale(100_000), true, ctx.smoke ? 1 : 3),
      fifoCase(resident(10_000), ctx.scale(1_000_000), true),
      evictCase(resident(100_000), ctx.scale(1_000_000)),
      histogramCase(ctx.scale(1_000_000), DEFAULT_BUCKETS, `the ${DEFAULT_BUCKETS.length} default bounds`),
      // A finer export (Prometheus users often ask for more `le`s): 60 bounds, 1 ms to ~47 s.
      histogramCase(
        ctx.scale(1_000_000),
        Array.from({ length: 60 }, (_, i) => 0.001 * 1.2 ** i),
        '60 bounds',
      ),
    ];
  },
});
