/**
 * @valve/backpressure against a faithful copy of the seed's algorithm (shared/seeds/004,
 * "Prevent OOM crashes"), and against a bare core BoundedRingBuffer doing the same buffer work
 * (issue 10: speed targets are ratios to it in the same run).
 *
 * Cases: awaited push with a full drop_oldest buffer at 10^4 and 10^5 items (the seed's
 * Array#shift is O(n)); the synchronous offer() fast path with a full buffer; BLOCK wake-up
 * latency (median and max, ms) from the moment space frees; sustained drain rate with a
 * backlog, as the share of time the sink is kept busy.
 */
import { BackpressureController } from '@valve/backpressure';
import { BoundedRingBuffer } from '@valve/core';
import { median } from '@valve/demo/shared';
import { type Contender, defineSuite } from '../harness.js';

// ---- the seed, copied (enums as const objects; the algorithm is unchanged) -----------------

const BackpressureState = {
  NORMAL: 'normal',
  ELEVATED: 'elevated',
  CRITICAL: 'critical',
  BLOCKED: 'blocked',
  DRAINING: 'draining',
} as const;
type BackpressureState = (typeof BackpressureState)[keyof typeof BackpressureState];
const BackpressureStrategy = {
  BLOCK: 'block',
  DROP_OLDEST: 'drop_oldest',
  DROP_NEWEST: 'drop_newest',
  SAMPLE: 'sample',
} as const;
type BackpressureStrategy = (typeof BackpressureStrategy)[keyof typeof BackpressureStrategy];
interface SeedConfig {
  maxBufferSize: number;
  highWatermark: number;
  lowWatermark: number;
  strategy: BackpressureStrategy;
  sampleRate?: number;
  maxBlockTimeMs?: number;
  batchSize: number;
  minFlushIntervalMs: number;
  maxFlushIntervalMs: number;
  targetLatencyMs: number;
}
interface SeedFlushResult {
  success: number;
  failed: number;
  errors: Error[];
}
type SeedFlushFunction<T> = (items: T[]) => Promise<SeedFlushResult>;

class SeedBoundedBuffer<T> {
  private items: T[] = [];
  constructor(private readonly maxSize: number) {}
  get size(): number {
    return this.items.length;
  }
  get utilization(): number {
    return this.items.length / this.maxSize;
  }
  isFull(): boolean {
    return this.items.length >= this.maxSize;
  }
  isEmpty(): boolean {
    return this.items.length === 0;
  }
  push(item: T): boolean {
    if (this.isFull()) return false;
    this.items.push(item);
    return true;
  }
  pushWithEviction(item: T): T | null {
    const evicted = this.isFull() ? (this.items.shift() ?? null) : null;
    this.items.push(item);
    return evicted;
  }
  take(count: number): T[] {
    return this.items.splice(0, Math.min(count, this.items.length));
  }
}

const SEED_DEFAULTS: SeedConfig = {
  maxBufferSize: 10000,
  highWatermark: 0.8,
  lowWatermark: 0.5,
  strategy: BackpressureStrategy.DROP_OLDEST,
  batchSize: 100,
  minFlushIntervalMs: 100,
  maxFlushIntervalMs: 30000,
  targetLatencyMs: 500,
};

class SeedController<T> {
  private buffer: SeedBoundedBuffer<T>;
  private state: BackpressureState = BackpressureState.NORMAL;
  private config: SeedConfig;
  private flushFn: SeedFlushFunction<T>;
  private flushInterval: NodeJS.Timeout | null = null;
  private currentFlushIntervalMs: number;
  private running = false;
  private eventsAccepted = 0;
  private eventsDropped = 0;
  private eventsFlushed = 0;
  private lastFlushLatencyMs = 0;

  constructor(flushFn: SeedFlushFunction<T>, config: Partial<SeedConfig> = {}) {
    this.config = { ...SEED_DEFAULTS, ...config };
    this.buffer = new SeedBoundedBuffer(this.config.maxBufferSize);
    this.flushFn = flushFn;
    this.currentFlushIntervalMs = this.config.minFlushIntervalMs;
  }
  start(): void {
    if (this.running) return;
    this.running = true;
    this.scheduleFlush();
  }
  stop(): void {
    this.running = false;
    if (this.flushInterval) {
      clearTimeout(this.flushInterval);
      this.flushInterval = null;
    }
  }
  async push(item: T): Promise<boolean> {
    switch (this.config.strategy) {
      case BackpressureStrategy.BLOCK:
        if (this.state === BackpressureState.BLOCKED) {
          const waited = await this.waitForSpace();
          if (!waited) {
            this.eventsDropped++;
            return false;
          }
        }
        break;
      case BackpressureStrategy.DROP_NEWEST:
        if (this.buffer.isFull()) {
          this.eventsDropped++;
          return false;
        }
        break;
      case BackpressureStrategy.DROP_OLDEST:
        if (this.buffer.isFull()) {
          this.buffer.pushWithEviction(item);
          this.eventsDropped++;
          this.eventsAccepted++;
          this.updateState();
          return true;
        }
        break;
      case BackpressureStrategy.SAMPLE:
        if (this.state !== BackpressureState.NORMAL) {
          const sampleRate = this.config.sampleRate || 10;
          if (this.eventsAccepted % sampleRate !== 0) {
            this.eventsDropped++;
            return false;
          }
        }
        break;
    }
    const accepted = this.buffer.push(item);
    if (accepted) this.eventsAccepted++;
    else this.eventsDropped++;
    this.updateState();
    return accepted;
  }
  async drain(): Promise<void> {
    this.state = BackpressureState.DRAINING;
    while (!this.buffer.isEmpty()) {
      await this.flush();
    }
  }
  getMetrics() {
    return {
      state: this.state,
      bufferSize: this.buffer.size,
      bufferUtilization: this.buffer.utilization,
      eventsAccepted: this.eventsAccepted,
      eventsDropped: this.eventsDropped,
      eventsFlushed: this.eventsFlushed,
      lastFlushLatencyMs: this.lastFlushLatencyMs,
    };
  }
  private async flush(): Promise<void> {
    if (this.buffer.isEmpty()) return;
    const batch = this.buffer.take(this.config.batchSize);
    const startTime = Date.now();
    try {
      const result = await this.flushFn(batch);
      this.eventsFlushed += result.success;
      this.lastFlushLatencyMs = Date.now() - startTime;
      this.adaptFlushInterval();
    } catch (error) {
      // The seed logs here (console.error); the benchmark's sinks never throw.
      void error;
    }
    this.updateState();
  }
  private scheduleFlush(): void {
    if (!this.running) return;
    this.flushInterval = setTimeout(async () => {
      await this.flush();
      this.scheduleFlush();
    }, this.currentFlushIntervalMs);
  }
  private adaptFlushInterval(): void {
    const { targetLatencyMs, minFlushIntervalMs, maxFlushIntervalMs } = this.config;
    if (this.lastFlushLatencyMs > targetLatencyMs * 1.5) {
      this.currentFlushIntervalMs = Math.min(this.currentFlushIntervalMs * 1.5, maxFlushIntervalMs);
    } else if (this.lastFlushLatencyMs < targetLatencyMs * 0.5) {
      this.currentFlushIntervalMs = Math.max(this.currentFlushIntervalMs * 0.8, minFlushIntervalMs);
    }
  }
  private updateState(): void {
    const util = this.buffer.utilization;
    if (this.state === BackpressureState.DRAINING) return;
    if (util >= 1.0) this.state = BackpressureState.BLOCKED;
    else if (util >= this.config.highWatermark) this.state = BackpressureState.CRITICAL;
    else if (util >= this.config.lowWatermark) this.state = BackpressureState.ELEVATED;
    else this.state = BackpressureState.NORMAL;
  }
  private async waitForSpace(): Promise<boolean> {
    const maxWait = this.config.maxBlockTimeMs || 5000;
    const startTime = Date.now();
    while (Date.now() - startTime < maxWait) {
      if (!this.buffer.isFull()) return true;
      await new Promise((r) => setTimeout(r, 50));
    }
    return false;
  }
}

// ---- helpers -------------------------------------------------------------------------------

const noop = () => {};
const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

function ours(options: Record<string, unknown>, flush: (items: number[]) => Promise<void> = async () => {}) {
  return new BackpressureController<number>(flush, { onDeadLetter: noop, ...options });
}

/** Awaited push into a full drop_oldest buffer of `size` items. */
function pushCase(size: number, ops: number) {
  let c = ours({ maxBufferSize: size });
  let seed = new SeedController<number>(async () => ({ success: 0, failed: 0, errors: [] }), { maxBufferSize: size });
  let ring = new BoundedRingBuffer<number>(size);
  const contenders: Contender[] = [
    {
      name: '@valve/backpressure push()',
      before: () => {
        c = ours({ maxBufferSize: size });
        for (let i = 0; i < size; i++) c.offer(i);
      },
      run: async () => {
        for (let i = 0; i < ops; i++) await c.push(i);
      },
    },
    {
      name: 'seed push()',
      before: async () => {
        seed = new SeedController<number>(async () => ({ success: 0, failed: 0, errors: [] }), { maxBufferSize: size });
        for (let i = 0; i < size; i++) await seed.push(i);
      },
      run: async () => {
        for (let i = 0; i < ops; i++) await seed.push(i);
      },
    },
    {
      name: 'bare BoundedRingBuffer (awaited)',
      before: () => {
        ring = new BoundedRingBuffer<number>(size);
        for (let i = 0; i < size; i++) ring.push(i);
      },
      run: async () => {
        for (let i = 0; i < ops; i++) await ring.pushEvict(i);
      },
    },
  ];
  return contenders;
}

/** One BLOCK wake-up: time from freeing space to the blocked push resuming, ms. */
async function oursWakeUp(): Promise<number> {
  const c = ours({ maxBufferSize: 1, batchSize: 1, strategy: 'block', maxBlockTimeMs: 5000 });
  c.offer(0);
  let resumed = 0;
  const blocked = c.push(1).then(() => {
    resumed = performance.now();
  });
  await sleep(Math.random() * 5);
  const freed = performance.now();
  const drained = c.drain(); // takes item 0: space frees now
  await blocked;
  await drained;
  return resumed - freed;
}

async function seedWakeUp(): Promise<number> {
  const seed = new SeedController<number>(async () => ({ success: 1, failed: 0, errors: [] }), {
    maxBufferSize: 1,
    batchSize: 1,
    strategy: BackpressureStrategy.BLOCK,
    maxBlockTimeMs: 5000,
  });
  await seed.push(0);
  let resumed = 0;
  const blocked = seed.push(1).then(() => {
    resumed = performance.now();
  });
  // Free the space at a random phase of the seed's 50 ms poll.
  await sleep(Math.random() * 50);
  const freed = performance.now();
  const drained = seed.drain(); // its flush() takes item 0 synchronously
  await blocked;
  await drained;
  return resumed - freed;
}

/**
 * Backlog of `batches` full batches, a sink that takes `sinkMs` per batch: the share of the
 * elapsed time the sink was busy (1 = drained at the sink's capacity).
 */
async function drainShare(kind: 'ours' | 'seed', batches: number, sinkMs: number): Promise<number> {
  const batchSize = 100;
  const total = batches * batchSize;
  let busy = 0;
  let written = 0;
  let done!: () => void;
  const finished = new Promise<void>((resolve) => {
    done = resolve;
  });
  const sink = async (items: number[]) => {
    const t = performance.now();
    await sleep(sinkMs);
    busy += performance.now() - t;
    written += items.length;
    if (written >= total) done();
  };
  if (kind === 'ours') {
    const c = ours({ batchSize, maxBufferSize: total }, sink);
    for (let i = 0; i < total; i++) c.offer(i);
    const start = performance.now();
    c.start();
    await finished;
    const elapsed = performance.now() - start;
    await c.stop();
    return busy / elapsed;
  }
  const seed = new SeedController<number>(
    async (items) => {
      await sink(items);
      return { success: items.length, failed: 0, errors: [] };
    },
    { batchSize, maxBufferSize: total },
  );
  for (let i = 0; i < total; i++) await seed.push(i);
  const start = performance.now();
  seed.start();
  await finished;
  const elapsed = performance.now() - start;
  seed.stop();
  return busy / elapsed;
}

export default defineSuite({
  name: 'backpressure',
  description: '@valve/backpressure vs a copy of the seed controller and a bare core BoundedRingBuffer',
  cases: (ctx) => {
    const offerOps = ctx.scale(2_000_000);
    const wakeSamplesOurs = ctx.smoke ? 5 : 100;
    const wakeSamplesSeed = ctx.smoke ? 2 : ctx.quick ? 6 : 12;
    // The fast path reports every drop through onDrop, so our contenders have one: it
    // counts the items it is handed (what a metrics consumer does) and the count is returned.
    let reported = 0;
    const onDrop = (items: readonly number[]) => {
      reported += items.length;
    };
    const full = (strategy: 'drop_oldest' | 'drop_newest') => {
      const c = ours({ maxBufferSize: 10_000, strategy, onDrop });
      for (let i = 0; i < 10_000; i++) c.offer(i);
      return c;
    };
    const fullRing = () => {
      const r = new BoundedRingBuffer<number>(10_000);
      for (let i = 0; i < 10_000; i++) r.push(i);
      return r;
    };
    let c = full('drop_oldest');
    let r = fullRing();
    return [
      {
        title: 'awaited push(), drop_oldest, full buffer of 10^4 items',
        ops: ctx.scale(200_000),
        contenders: pushCase(10_000, ctx.scale(200_000)),
      },
      {
        title: 'awaited push(), drop_oldest, full buffer of 10^5 items',
        ops: ctx.scale(20_000),
        contenders: pushCase(100_000, ctx.scale(20_000)),
      },
      {
        title: 'offer() fast path, drop_oldest (evicts, reported to onDrop), full buffer of 10^4',
        ops: offerOps,
        contenders: [
          {
            name: '@valve/backpressure offer()',
            before: () => {
              c = full('drop_oldest');
              reported = 0;
            },
            run: () => {
              for (let i = 0; i < offerOps; i++) c.offer(i);
              return reported;
            },
          },
          {
            name: 'bare BoundedRingBuffer.pushEvict()',
            before: () => {
              r = fullRing();
            },
            run: () => {
              for (let i = 0; i < offerOps; i++) r.pushEvict(i);
            },
          },
        ],
      },
      {
        title: 'offer() fast path, drop_newest (refuses, reported to onDrop), full buffer of 10^4',
        ops: offerOps,
        contenders: [
          {
            name: '@valve/backpressure offer()',
            before: () => {
              c = full('drop_newest');
              reported = 0;
            },
            run: () => {
              for (let i = 0; i < offerOps; i++) c.offer(i);
              return reported;
            },
          },
          {
            name: 'bare BoundedRingBuffer.push()',
            before: () => {
              r = fullRing();
            },
            run: () => {
              for (let i = 0; i < offerOps; i++) r.push(i);
            },
          },
        ],
      },
      {
        title: `BLOCK wake-up latency, median of ${wakeSamplesOurs} (ours) / ${wakeSamplesSeed} (seed) wake-ups`,
        kind: 'value',
        unit: 'ms',
        contenders: [
          {
            name: '@valve/backpressure (waiter hand-off)',
            run: async () => {
              const xs: number[] = [];
              for (let i = 0; i < wakeSamplesOurs; i++) xs.push(await oursWakeUp());
              return median(xs);
            },
          },
          {
            name: 'seed (50 ms polling)',
            run: async () => {
              const xs: number[] = [];
              for (let i = 0; i < wakeSamplesSeed; i++) xs.push(await seedWakeUp());
              return median(xs);
            },
          },
        ],
      },
      {
        title: `BLOCK wake-up latency, max of ${wakeSamplesOurs} (ours) / ${wakeSamplesSeed} (seed) wake-ups`,
        kind: 'value',
        unit: 'ms',
        rounds: ctx.smoke ? 1 : 3,
        contenders: [
          {
            name: '@valve/backpressure (waiter hand-off)',
            run: async () => {
              let most = 0;
              for (let i = 0; i < wakeSamplesOurs; i++) most = Math.max(most, await oursWakeUp());
              return most;
            },
          },
          {
            name: 'seed (50 ms polling)',
            run: async () => {
              let most = 0;
              for (let i = 0; i < wakeSamplesSeed; i++) most = Math.max(most, await seedWakeUp());
              return most;
            },
          },
        ],
      },
      {
        title: 'sustained drain with a backlog: share of the sink capacity used (sink: 2 ms per batch of 100)',
        kind: 'value',
        unit: 'share',
        higherIsBetter: true,
        rounds: ctx.smoke ? 1 : ctx.quick ? 3 : 5,
        contenders: [
          { name: '@valve/backpressure', run: () => drainShare('ours', ctx.smoke ? 3 : 20, 2) },
          { name: 'seed (one batch per interval)', run: () => drainShare('seed', ctx.smoke ? 2 : 8, 2) },
        ],
      },
    ];
  },
});
