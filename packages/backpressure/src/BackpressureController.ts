/**
 * The controller composes the parts and owns only the accounting and the scheduling:
 * a {@link BoundedRingBuffer} (O(1) at both ends), a pure {@link Watermarks} state machine, one
 * {@link DropStrategy}, a {@link BatchFlusher} (retries, dead letters) and a pure
 * {@link AdaptiveInterval} (idle pacing).
 *
 * Invariant, at every instant: `accepted === flushed + deadLettered + dropped + buffered +
 * inFlight`. Each accepted item leaves the buffer exactly once: into a flush (then written or
 * dead-lettered), by eviction, or by `stop()`; every drop and refusal is reported to `onDrop`.
 *
 * Scheduling: a flush starts as soon as a full batch is buffered, when a partial batch has
 * lingered for the adaptive interval, right after a flush if items arrived meanwhile (they
 * form the next batch), and continuously during `drain()`. At most `flushConcurrency` flushes
 * run at once. Timers exist only while items are buffered (or a drain, stop or blocked push
 * waits), and only then are they ref'd.
 */
import type { Writable } from 'node:stream';
import type { WritableStream } from 'node:stream/web';
import {
  abortReason,
  BoundedRingBuffer,
  ClosedError,
  describeValue,
  type Clock,
  DroppedError,
  Emitter,
  emptyRejectedByReason,
  errorForReason,
  type Event,
  KeepAlive,
  rejectExtraArguments,
  rejectUnknownOptions,
  RingBuffer,
  rethrowLater,
  type Timer,
  validateBoolean,
  validateObject,
  validateSignal,
  type Valve,
  ValveMetrics,
} from '@valve/core';
import { AdaptiveInterval } from './AdaptiveInterval.js';
import { BatchFlusher } from './BatchFlusher.js';
import { type Ack, rejectAcks } from './internal/Ack.js';
import type { FlushError } from './FlushError.js';
import { type BlockedPush, BlockedQueue } from './internal/BlockedQueue.js';
import { type ControllerMetrics, createMetrics } from './internal/metrics.js';
import { safeCall } from './internal/safeCall.js';
import { type BackpressureOptions, type NormalizedOptions, normalizeOptions } from './options.js';
import { createStrategy } from './strategies/createStrategy.js';
import type { DropStrategy } from './strategies/DropStrategy.js';
import type {
  BackpressureState,
  BackpressureStats,
  DrainSummary,
  DropEvent,
  DropReason,
  FlushFunction,
  PressureLevel,
  StateChange,
} from './types.js';
import { Watermarks } from './Watermarks.js';
import { createWritable, type PushTarget, type WritableOptions } from './writable.js';
import { createWritableStream, type WritableStreamOptions } from './writableStream.js';

export interface PushOptions {
  /** Aborting a blocked push rejects it with `signal.reason` (it was never accepted). */
  signal?: AbortSignal;
}

export interface StopOptions {
  /** Flush everything first (`drain()`); otherwise buffered items are dropped as `shutdown`. @default false */
  drain?: boolean;
}

export interface ConsumeResult {
  accepted: number;
  rejected: number;
}

type Phase = 'idle' | 'running' | 'stopping' | 'stopped';

const PUSH_OPTIONS = ['signal'] as const;
const STOP_OPTIONS = ['drain'] as const;

const TRUE = Promise.resolve(true);
const FALSE = Promise.resolve(false);
const WAIT = 2;
/** Values of `whenFull`. */
const ASK = 0;
const EVICT = 1;
const REFUSE = 2;
type WhenFull = typeof ASK | typeof EVICT | typeof REFUSE;

/**
 * The Valve contract (CONTRIBUTING.md) for a controller: the unit of work is an item. `queued` is
 * buffered or blocked, `running` handed to a flush, `completed` flushed, `failed` dead-lettered,
 * `rejected` refused or dropped before it was handed to a flush.
 */
export class BackpressureController<T> implements Valve {
  readonly name: string;
  private readonly o: NormalizedOptions<T>;
  private readonly clock: Clock;
  private readonly buffer: BoundedRingBuffer<T>;
  /** Sizes parallel to `buffer`, only with `sizeOf`. */
  private readonly sizes: RingBuffer<number> | undefined;
  /**
   * The `pushDurable()` acknowledgements, parallel to `buffer` (undefined for items pushed
   * otherwise). Created by the first `pushDurable()`, so controllers that never use it pay one
   * field check per buffer change and nothing else.
   */
  private acks: RingBuffer<Ack | undefined> | undefined;
  /** Why the last push was refused, for `pushDurable()`'s error; written by refuseOne. */
  private lastRefusal: DropReason = 'queue_full';
  /** Sum of `sizes`; written by enqueue, evict, startFlush and stop. */
  private bytes = 0;
  private readonly watermarks: Watermarks;
  private readonly strategy: DropStrategy;
  /**
   * What an `offer()` into a full buffer does, decided once (without `sizeOf` the budget is the
   * item count alone, so nothing per item changes the answer): drop_oldest swaps its oldest
   * item for the new one in place (`EVICT`); drop_newest, and block (an offer cannot wait),
   * refuse it (`REFUSE`); sample asks its strategy (`ASK`). Set to `ASK` by `shutdown()` as soon as `stop()` is
   * called, so the fast path in `offer()` need not read the phase.
   */
  private whenFull: WhenFull;
  /** `options.onDrop`, read once: the fast path checks a field, not the options object. */
  private readonly onDropOption: ((items: readonly T[], reason: DropReason) => void) | undefined;
  private readonly interval: AdaptiveInterval;
  private readonly flusher: BatchFlusher<T>;
  private readonly blocked = new BlockedQueue<T>(
    (w, reason) => {
      if (!this.blocked.cancel(w)) return;
      this.countAbort();
      w.reject(reason);
    },
    () => this.afterWaitersChanged(),
  );
  /** drain() and stop() callers waiting for buffer, flushes and blocked pushes to be empty. */
  private readonly idleWaiters = new RingBuffer<() => void>();
  /** stop() waiting for the flushes in flight. */
  private readonly flushWaiters = new RingBuffer<() => void>();
  private phase: Phase = 'idle';
  private stopping: Promise<void> | undefined;
  /**
   * Set when `stop()` is called, before a `{ drain: true }` stop drains: from then on pushes are
   * refused as `shutdown`, so a producer that keeps pushing cannot hold the stop open.
   */
  private closed = false;
  /** drain() calls in progress; the public state is `draining` while > 0. */
  private drains = 0;
  /** Allows one partial batch: set when the linger timer fires or a flush ends with items left. */
  private kick = false;
  private pumping = false;
  private linger: Timer | undefined;
  private readonly keepAlive: KeepAlive;
  /** Utilization last fed to the watermarks (skip the update when unchanged). */
  private lastUtil = 0;
  private inFlightItems = 0;
  private inFlightBatches = 0;
  /** Items handed to a flush (taken from the buffer), for `stats().admitted`. */
  private admitted = 0;
  /** Pushes whose signal aborted before they were accepted. */
  private aborted = 0;
  /**
   * Accepted items, dropped ones and `byReason.evicted` count the slow paths only; each
   * in-place eviction (`replaceOldest`) adds one to all three, so it bumps `evictions` alone
   * and the public figures are the sums (see `stats()` and `dropCount()`).
   */
  private accepted = 0;
  private evictions = 0;
  private rejected = 0;
  private dropped = 0;
  private flushed = 0;
  private deadLettered = 0;
  private flushFailures = 0;
  private lastFlushLatencyMs = 0;
  private readonly byReason: Record<DropReason, number> = {
    evicted: 0,
    queue_full: 0,
    sampled: 0,
    timeout: 0,
    shutdown: 0,
  };
  private readonly metrics: ControllerMetrics | undefined;
  /** Where `metrics` are registered; `close()` removes them. */
  private readonly series: ValveMetrics | undefined;

  private readonly state$ = new Emitter<StateChange>();
  private readonly drop$ = new Emitter<DropEvent<T>>();
  private readonly pressure$ = new Emitter<boolean>();
  /** State changes (`normal` … `blocked`, `draining`), emitted after the state is consistent. */
  readonly onStateChange: Event<StateChange> = this.state$.event;
  /** Every dropped or refused item (the `onDrop` option sees the same). */
  readonly onDrop: Event<DropEvent<T>> = this.drop$.event;
  /** `true` on reaching the high watermark, `false` on falling back to the low one. */
  readonly onPressureChange: Event<boolean> = this.pressure$.event;

  constructor(flush: FlushFunction<T>, options: BackpressureOptions<T>) {
    // biome-ignore lint/complexity/noArguments: counts the arguments to refuse an extra one; a rest parameter would allocate
    rejectExtraArguments(arguments.length, 2, 'new BackpressureController()');
    if (typeof flush !== 'function') throw new TypeError(`flush must be a function, got ${typeof flush}`);
    const o = normalizeOptions(options);
    this.o = o;
    this.name = o.name;
    this.clock = o.clock;
    this.keepAlive = new KeepAlive(this.clock);
    // Each part gets only its own options (its unknown-key check refuses the rest); normalizeOptions
    // has already validated them against the controller's names.
    this.watermarks = new Watermarks({
      lowWatermark: o.lowWatermark,
      highWatermark: o.highWatermark,
      hysteresis: o.hysteresis,
    });
    // A low watermark of 0 makes even an empty buffer `elevated`.
    this.watermarks.update(0);
    this.interval = new AdaptiveInterval({
      minFlushIntervalMs: o.minFlushIntervalMs,
      maxFlushIntervalMs: o.maxFlushIntervalMs,
      targetLatencyMs: o.targetLatencyMs,
    });
    this.strategy = createStrategy(o.strategy, { sampleRate: o.sampleRate });
    const strategy = this.strategy.name;
    this.whenFull = o.sizeOf !== undefined || strategy === 'sample' ? ASK : strategy === 'drop_oldest' ? EVICT : REFUSE;
    this.onDropOption = o.onDrop;
    this.buffer = new BoundedRingBuffer<T>(o.maxBufferSize);
    this.sizes = o.sizeOf ? new RingBuffer<number>() : undefined;
    this.series = o.metrics ? new ValveMetrics(o.metrics, o.name) : undefined;
    this.metrics = this.series
      ? createMetrics(this.series, {
          bufferItems: () => this.buffer.size,
          utilization: () => this.utilization(),
          inFlight: () => this.inFlightItems,
          intervalSeconds: () => this.interval.current / 1000,
        })
      : undefined;
    this.flusher = new BatchFlusher<T>({
      flush,
      retry: o.retry,
      clock: o.clock,
      flushTimeoutMs: o.flushTimeoutMs,
      hooks: {
        flushed: (count) => {
          this.flushed += count;
          this.inFlightItems -= count;
          this.metrics?.flushed.inc(count);
        },
        attempted: (latencyMs, ok) => {
          this.lastFlushLatencyMs = latencyMs;
          this.interval.record(latencyMs);
          this.metrics?.flushDuration.record(latencyMs);
          if (!ok) {
            this.flushFailures++;
            this.metrics?.flushFailures.inc();
          }
        },
        deadLettered: (items, error) => {
          this.deadLettered += items.length;
          this.inFlightItems -= items.length;
          this.metrics?.deadLettered.inc(items.length);
          safeCall(this.o.onDeadLetter, items, error as FlushError<T>);
        },
      },
    });
  }

  /** The pressure level, or `draining` while a `drain()` runs. */
  get state(): BackpressureState {
    return this.drains > 0 ? 'draining' : this.watermarks.level;
  }

  /** True from reaching the high watermark until falling back to the low one. */
  get pressured(): boolean {
    return this.watermarks.pressured;
  }

  /** Items buffered (not counting the flushes in flight). */
  get size(): number {
    return this.buffer.size;
  }

  /**
   * Starts timed and size-triggered flushing. Pushes before `start()` are buffered, not flushed:
   * the controller does not start by itself so that producers can fill it while the sink is not
   * ready yet (a connection still opening); `start()` says it is. `drain()` and `close()` flush
   * without it.
   */
  start(): void {
    if (this.phase === 'stopping' || this.phase === 'stopped') {
      throw new ClosedError(`backpressure controller "${this.name}" is stopped; it cannot start again`);
    }
    if (this.phase === 'running') return;
    this.phase = 'running';
    this.pump();
  }

  /**
   * The synchronous, non-blocking push: true when accepted. `block` acts as `drop_newest` here
   * (it cannot wait). Refusals are reported to `onDrop`; after `stop()` it returns false.
   */
  offer(item: T): boolean {
    // The full-buffer fast path first, kept small so that V8 inlines it into the caller's loop:
    // `whenFull` is ASK once stopping, so the phase checks below are not needed here.
    const buffer = this.buffer;
    const whenFull = this.whenFull;
    if (whenFull !== ASK && buffer.size >= buffer.limit) {
      if (whenFull === EVICT) {
        this.replaceOldest(item);
        return true;
      }
      this.refuseOne(item, 'queue_full');
      return false;
    }
    return this.offerSlow(item);
  }

  private offerSlow(item: T): boolean {
    if (this.closed) {
      this.refuseOne(item, 'shutdown');
      return false;
    }
    return this.admit(item, this.measure(item), true) === true;
  }

  /**
   * Pushes one item; resolves to whether it was accepted. With `block` it waits (FIFO) for
   * space up to `maxBlockTimeMs`, then resolves false (reason `timeout`). Rejects with
   * `ClosedError` after `stop()`, and with `signal.reason` on abort.
   */
  push(item: T, options?: PushOptions): Promise<boolean> {
    // Bad options throw (the caller's mistake, issue 14's one rule); refusals and aborts reject.
    const signal = this.pushSignal(options);
    try {
      const r = this.pushOrPark(item, signal);
      return r === true ? TRUE : r === false ? FALSE : r;
    } catch (error) {
      return Promise.reject(error);
    }
  }

  /**
   * The durable acknowledgement mode: pushes one item (as `push`, waiting for space with
   * `block`) and resolves only once the batch holding it has been written by `flush`. Rejects
   * with the `FlushError` when the item is dead-lettered (after every retry; `onDeadLetter`
   * sees it too), with a `ValveError` when it is refused or dropped (`QueueFullError`,
   * `TimeoutError` after `maxBlockTimeMs`, `DroppedError` for `sampled` or `evicted`,
   * `ClosedError` after `stop()` or when `stop()` drops it), or with `signal.reason` when the
   * blocked push is aborted. Each call settles exactly once. A caller that answers "stored"
   * only after this resolves never acknowledges an item a crash can lose; the cost is a wait of
   * up to one flush interval plus the write. Bad options throw, as `push()`'s do.
   */
  pushDurable(item: T, options?: PushOptions): Promise<void> {
    const signal = this.pushSignal(options);
    return new Promise<void>((resolve, reject) => {
      const ack: Ack = { resolve, reject };
      if (this.acks === undefined) {
        this.acks = new RingBuffer<Ack | undefined>();
        for (let i = 0; i < this.buffer.size; i++) this.acks.push(undefined);
      }
      let r: boolean | Promise<boolean>;
      try {
        r = this.pushOrPark(item, signal, ack);
      } catch (error) {
        reject(error);
        return;
      }
      const refused = (reason: DropReason) =>
        reject(errorForReason(reason, `backpressure controller "${this.name}" refused the item (${reason})`));
      if (r === false) refused(this.lastRefusal);
      else if (r !== true) r.then((accepted) => accepted || refused('timeout'), reject);
    });
  }

  /** Validates push options (bad ones throw: the caller's mistake) and returns the signal. */
  private pushSignal(options: PushOptions | undefined): AbortSignal | undefined {
    if (options === undefined) return undefined;
    validateObject(options, 'options');
    rejectUnknownOptions(options, 'options', PUSH_OPTIONS);
    return validateSignal(options.signal, 'options.signal');
  }

  /**
   * `push` without the promise when the answer is immediate (the stream adapters use it). Throws
   * when closed. `signal` is validated by the caller.
   */
  private pushOrPark(item: T, signal: AbortSignal | undefined, ack?: Ack): boolean | Promise<boolean> {
    if (this.closed) {
      this.refuseOne(item, 'shutdown');
      throw new ClosedError(`backpressure controller "${this.name}" is stopped; push refused`);
    }
    if (signal?.aborted) {
      this.countAbort();
      throw abortReason(signal);
    }
    const size = this.measure(item);
    const r = this.admit(item, size, false, ack);
    if (r === WAIT) return this.park(item, size, signal, ack);
    return r;
  }

  /**
   * Flushes everything buffered (and whatever blocked pushes hand in), in batches, without
   * waiting on the pacing interval; resolves when buffer, flushes and blocked pushes are empty,
   * then the state returns to what the fill implies. Pushes meanwhile follow the strategy.
   */
  async drain(): Promise<DrainSummary> {
    const start = this.clock.now();
    const flushed = this.flushed;
    const dead = this.deadLettered;
    const dropped = this.dropCount();
    if (this.phase === 'stopped') return { flushed: 0, deadLettered: 0, dropped: 0, durationMs: 0 };
    const before = this.state;
    this.drains++;
    if (this.drains === 1) this.emitState(before, 'draining');
    this.pump();
    try {
      await this.waitIdle();
    } finally {
      this.drains--;
      if (this.drains === 0) {
        this.emitState('draining', this.watermarks.level);
        this.pump();
      }
    }
    return {
      flushed: this.flushed - flushed,
      deadLettered: this.deadLettered - dead,
      dropped: this.dropCount() - dropped,
      durationMs: this.clock.now() - start,
    };
  }

  /**
   * Stops for good: refuses new pushes, rejects blocked pushes with `ClosedError`, waits for the
   * flushes in flight (their retries included), then drops what is still buffered as `shutdown`
   * (reported to `onDrop`), unless `{ drain: true }` flushed it first. Idempotent.
   */
  stop(options?: StopOptions): Promise<void> {
    // Bad options throw synchronously (issue 14: one rule for bad input in every valve).
    const o = options === undefined ? {} : validateObject(options, 'options');
    rejectUnknownOptions(o, 'options', STOP_OPTIONS);
    const drain = validateBoolean(o.drain ?? false, 'options.drain');
    if (this.stopping) return this.stopping;
    this.stopping = this.shutdown(drain).then(() => this.series?.close());
    return this.stopping;
  }

  /**
   * The Valve contract's shutdown: `stop({ drain: true })`. Refuses new pushes, rejects blocked
   * pushes with `ClosedError`, flushes everything buffered (retries and dead letters included),
   * then removes the controller's metrics from the registry. Idempotent: every later `close()`
   * or `stop()` returns the first call's promise.
   */
  close(): Promise<void> {
    return this.stop({ drain: true });
  }

  /** `close()`, for `await using controller = new BackpressureController(...)`. */
  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }

  /**
   * Pushes every item of `source` (awaiting each, so `block` slows the source down). A source that
   * is not iterable and bad options throw synchronously, before anything is pulled.
   */
  consume(source: AsyncIterable<T> | Iterable<T>, options?: PushOptions): Promise<ConsumeResult> {
    if (
      source == null ||
      (typeof (source as AsyncIterable<T>)[Symbol.asyncIterator] !== 'function' &&
        typeof (source as Iterable<T>)[Symbol.iterator] !== 'function')
    ) {
      throw new TypeError(`source must be an iterable or an async iterable, got ${describeValue(source)}`);
    }
    this.pushSignal(options);
    return this.consumeAll(source, options);
  }

  private async consumeAll(
    source: AsyncIterable<T> | Iterable<T>,
    options: PushOptions | undefined,
  ): Promise<ConsumeResult> {
    const result: ConsumeResult = { accepted: 0, rejected: 0 };
    for await (const item of source) {
      if (await this.push(item, options)) result.accepted++;
      else result.rejected++;
    }
    return result;
  }

  /**
   * A Node object-mode `Writable` with real back pressure: `write()` returns false from the
   * high watermark and `'drain'` is emitted at the low one; `end()` drains the controller.
   */
  writable(options?: WritableOptions): Writable {
    checkStreamOptions(options);
    return createWritable(this.streamTarget(), options);
  }

  /** A WHATWG `WritableStream`; its `desiredSize` drops to 0 and below while the controller is pressured. */
  writableStream(options?: WritableStreamOptions): WritableStream<T> {
    checkStreamOptions(options);
    return createWritableStream(this.streamTarget(), options);
  }

  private streamTarget(): PushTarget<T> {
    return {
      push: (item, signal) => this.pushOrPark(item, signal),
      drain: () => this.drain(),
      pressured: () => this.watermarks.pressured,
      onPressureChange: this.onPressureChange,
    };
  }

  /** A typed snapshot; see {@link BackpressureStats} for the accounting invariant. */
  stats(): BackpressureStats {
    const byReason = { ...this.byReason, evicted: this.byReason.evicted + this.evictions };
    const rejectedByReason = { ...emptyRejectedByReason(), ...byReason, aborted: this.aborted };
    const dropped = this.dropped + this.evictions;
    return {
      name: this.name,
      rejected: this.rejected + dropped,
      rejectedByReason,
      queued: this.buffer.size + this.blocked.size,
      running: this.inFlightItems,
      admitted: this.admitted,
      completed: this.flushed,
      failed: this.deadLettered,
      closed: this.closed,
      state: this.state,
      level: this.watermarks.level,
      pressured: this.watermarks.pressured,
      bufferSize: this.buffer.size,
      bufferBytes: this.sizes ? this.bytes : this.buffer.size,
      bufferUtilization: this.utilization(),
      inFlight: this.inFlightItems,
      blockedPushes: this.blocked.size,
      accepted: this.accepted + this.evictions,
      refused: this.rejected,
      dropped,
      droppedByReason: byReason,
      flushed: this.flushed,
      deadLettered: this.deadLettered,
      flushFailures: this.flushFailures,
      lastFlushLatencyMs: this.lastFlushLatencyMs,
      flushIntervalMs: this.interval.current,
    };
  }

  /** The seed's name for {@link stats}. */
  getMetrics(): BackpressureStats {
    return this.stats();
  }

  // ---- admission -------------------------------------------------------------------------

  private measure(item: T): number {
    const sizeOf = this.o.sizeOf;
    if (sizeOf === undefined) return 1;
    const size = sizeOf(item);
    if (typeof size !== 'number' || !(size >= 0) || !Number.isFinite(size)) {
      throw new TypeError(`sizeOf(item) must return a finite number >= 0, got ${String(size)}`);
    }
    return size;
  }

  private fits(size: number): boolean {
    return (
      this.buffer.size < this.buffer.limit && (this.sizes === undefined || this.bytes + size <= this.o.maxBufferBytes)
    );
  }

  /** true: accepted; false: refused (reported); WAIT: the caller parks (push with `block` only). */
  private admit(item: T, size: number, isOffer: boolean, ack?: Ack): boolean | typeof WAIT {
    if (size > this.o.maxBufferBytes) {
      // It can never fit, whatever is evicted or however long it waits.
      this.refuseOne(item, 'queue_full');
      return false;
    }
    // drop_oldest's answer to a full buffer is always `evict`; asking it per item costs a
    // polymorphic call and the budget checks on the hottest path, so it is decided once.
    if (this.whenFull === EVICT && this.buffer.size >= this.buffer.limit) {
      this.replaceOldest(item, ack);
      return true;
    }
    // Parked producers go first: a newcomer may not take space they are waiting for.
    const full = this.blocked.size > 0 || !this.fits(size);
    switch (this.strategy.admit(full, this.watermarks.level)) {
      case 'accept':
        this.enqueue(item, size, ack);
        this.afterEnqueue();
        return true;
      case 'evict':
        this.evictFor(size);
        this.enqueue(item, size, ack);
        this.afterEnqueue();
        return true;
      case 'wait':
        if (isOffer) {
          this.refuseOne(item, 'queue_full');
          return false;
        }
        return WAIT;
      case 'reject':
        this.refuseOne(item, 'queue_full');
        return false;
      case 'sample_out':
        this.refuseOne(item, 'sampled');
        return false;
    }
  }

  private enqueue(item: T, size: number, ack?: Ack): void {
    this.buffer.push(item);
    if (this.acks !== undefined) this.acks.push(ack);
    if (this.sizes) {
      this.sizes.push(size);
      this.bytes += size;
    }
    this.accepted++;
    this.metrics?.accepted.inc();
  }

  /**
   * The drop_oldest fast path, without `sizeOf` and with the buffer full: one item out, one in,
   * in place (`pushEvict`). Neither the fill nor anything the scheduling reads (buffer size,
   * flushes in flight, phase, drains) changes, so the level, the flush triggers and the timers
   * are as the previous update left them: `afterEnqueue()` would find nothing to do.
   */
  private replaceOldest(item: T, ack?: Ack): void {
    const old = this.buffer.pushEvict(item) as T;
    this.evictions++;
    if (this.acks !== undefined) {
      const evicted = this.acks.shift();
      this.acks.push(ack);
      evicted?.reject(
        new DroppedError('evicted', `backpressure controller "${this.name}" evicted the item (drop_oldest)`),
      );
    }
    const m = this.metrics;
    if (m !== undefined) {
      m.accepted.inc();
      m.dropped.evicted.inc();
    }
    // Reported synchronously, one call per eviction, as every other drop is (the tests pin it).
    // The dispatch repeats `report()` inline on purpose: this path is kept small enough for V8 to
    // inline offer(), this method and the callback into the caller's loop (checked with
    // --trace-turbo-inlining when it was written), and the one-item array is made only when
    // someone listens.
    const onDrop = this.onDropOption;
    if (onDrop !== undefined) {
      const items = [old];
      try {
        onDrop(items, 'evicted');
      } catch (error) {
        rethrowLater(error);
      }
      if (this.drop$.hasListeners) this.drop$.emit({ items, reason: 'evicted', accepted: true });
    } else if (this.drop$.hasListeners) {
      this.drop$.emit({ items: [old], reason: 'evicted', accepted: true });
    }
  }

  /** Evicts oldest items until `size` fits (several with `sizeOf`); each is reported as `evicted`. */
  private evictFor(size: number): void {
    let evicted: T[] | undefined;
    let evictedAcks: (Ack | undefined)[] | undefined;
    while (this.buffer.size > 0 && !this.fits(size)) {
      const old = this.buffer.shift() as T;
      if (this.sizes !== undefined) this.bytes -= this.sizes.shift()!;
      if (this.acks !== undefined) (evictedAcks ??= []).push(this.acks.shift());
      (evicted ??= []).push(old);
    }
    if (evicted) this.dropAccepted(evicted, 'evicted');
    rejectAcks(evictedAcks, new DroppedError('evicted', `backpressure controller "${this.name}" evicted the item`));
  }

  /** After the buffer grew: level, then a flush or the linger timer. O(1) when nothing changes. */
  private afterEnqueue(): void {
    const u = this.utilization();
    if (u !== this.lastUtil) this.updateLevel(u);
    // With every flush slot busy there is nothing to start and no linger timer to arm:
    // afterFlush() pumps, and the pump re-arms timers, when a slot frees.
    if ((this.phase === 'running' || this.drains > 0) && this.inFlightBatches < this.o.flushConcurrency) {
      if (this.drains > 0 || this.buffer.size >= this.o.batchSize) this.pump();
      else if (this.linger === undefined && this.phase === 'running') this.syncTimers();
    }
  }

  /** Parks a `block` push until space is handed to it, its deadline passes, it aborts or we stop. */
  private park(item: T, size: number, signal: AbortSignal | undefined, ack: Ack | undefined): Promise<boolean> {
    const ms = this.o.maxBlockTimeMs;
    if (ms === 0) {
      this.refuseOne(item, 'timeout');
      return FALSE;
    }
    return new Promise<boolean>((resolve, reject) => {
      const w: BlockedPush<T> = {
        item,
        size,
        ack,
        resolve,
        reject,
        timer: undefined,
        signal,
        gone: false,
        signalGroup: undefined,
        signalPrev: undefined,
        signalNext: undefined,
      };
      if (ms !== Number.POSITIVE_INFINITY) {
        w.timer = this.clock
          .setTimeout(() => {
            if (!this.blocked.cancel(w)) return;
            this.refuseOne(item, 'timeout');
            resolve(false);
            this.afterWaitersChanged();
          }, ms)
          .ref();
      }
      this.blocked.add(w);
      this.syncTimers();
    });
  }

  /** Hands freed space to parked pushes, oldest first. */
  private handOff(): void {
    for (let w = this.blocked.peek(); w !== undefined && this.fits(w.size); w = this.blocked.peek()) {
      this.blocked.take();
      this.enqueue(w.item, w.size, w.ack);
      w.resolve(true);
    }
  }

  // ---- flushing --------------------------------------------------------------------------

  /** Starts every flush that is due; then fixes level, timers and idle waiters. Never re-entered. */
  private pump(): void {
    if (this.pumping) return;
    this.pumping = true;
    try {
      for (;;) {
        this.handOff();
        if (this.buffer.size === 0) {
          this.kick = false;
          break;
        }
        if (this.inFlightBatches >= this.o.flushConcurrency) break;
        if (this.drains === 0 && this.phase !== 'running') break;
        if (this.drains === 0 && !this.kick && this.buffer.size < this.o.batchSize) break;
        this.kick = false;
        this.startFlush();
      }
    } finally {
      this.pumping = false;
    }
    const u = this.utilization();
    if (u !== this.lastUtil) this.updateLevel(u);
    this.syncTimers();
    this.checkIdle();
  }

  private startFlush(): void {
    const n = Math.min(this.o.batchSize, this.buffer.size);
    const batch = this.buffer.take(n);
    if (this.sizes) {
      let total = 0;
      for (let i = 0; i < n; i++) total += this.sizes.shift()!;
      this.bytes -= total;
    }
    const acks = this.acks?.take(n);
    this.inFlightItems += n;
    this.admitted += n;
    this.inFlightBatches++;
    // run() never rejects: every item ends written or dead-lettered through the hooks.
    void this.flusher.run(batch, acks).then(() => this.afterFlush());
  }

  private afterFlush(): void {
    this.inFlightBatches--;
    // Items that arrived during the flush form the next batch at once: the interval paces idle
    // flushing only and must never throttle a backlog (the seed flushed one batch per interval).
    if (this.buffer.size > 0) this.kick = true;
    for (let wake = this.flushWaiters.shift(); wake !== undefined; wake = this.flushWaiters.shift()) wake();
    this.pump();
  }

  // ---- timers, levels, waiters -----------------------------------------------------------

  /**
   * The linger timer exists only while running with items buffered and a flush slot free; the
   * keep-alive timer only while drain(), stop() or an unbounded blocked push waits. Both are
   * ref'd: they stand for accepted or waiting work. Idle, the controller holds no timer.
   */
  private syncTimers(): void {
    const lingerDue =
      this.phase === 'running' && this.buffer.size > 0 && this.inFlightBatches < this.o.flushConcurrency;
    if (lingerDue && this.linger === undefined) {
      this.linger = this.clock
        .setTimeout(() => {
          this.linger = undefined;
          this.kick = true;
          this.pump();
        }, this.interval.current)
        .ref();
    } else if (!lingerDue && this.linger !== undefined) {
      this.linger.clear();
      this.linger = undefined;
    }
    this.keepAlive.hold(
      this.idleWaiters.size > 0 ||
        this.flushWaiters.size > 0 ||
        (this.blocked.size > 0 && this.o.maxBlockTimeMs === Number.POSITIVE_INFINITY),
    );
  }

  private utilization(): number {
    const u = this.buffer.size / this.buffer.limit;
    return this.sizes === undefined ? u : Math.max(u, this.bytes / this.o.maxBufferBytes);
  }

  private updateLevel(u: number): void {
    this.lastUtil = u;
    const from = this.watermarks.level;
    const wasPressured = this.watermarks.pressured;
    const to = this.watermarks.update(u);
    if (to !== from && this.drains === 0) this.emitState(from, to);
    if (this.watermarks.pressured !== wasPressured) this.pressure$.emit(!wasPressured);
  }

  private emitState(from: BackpressureState, to: PressureLevel | 'draining'): void {
    if (from !== to && this.state$.hasListeners) this.state$.emit({ from, to });
  }

  private afterWaitersChanged(): void {
    this.syncTimers();
    this.checkIdle();
  }

  private waitIdle(): Promise<void> {
    if (this.isIdle()) return Promise.resolve();
    return new Promise<void>((resolve) => {
      this.idleWaiters.push(resolve);
      this.syncTimers();
    });
  }

  private isIdle(): boolean {
    return this.buffer.size === 0 && this.inFlightBatches === 0 && this.blocked.size === 0;
  }

  private checkIdle(): void {
    if (this.idleWaiters.size === 0 || !this.isIdle()) return;
    for (let wake = this.idleWaiters.shift(); wake !== undefined; wake = this.idleWaiters.shift()) wake();
    this.syncTimers();
  }

  private async shutdown(drain: boolean): Promise<void> {
    this.closed = true;
    this.whenFull = ASK;
    if (drain && this.phase !== 'stopped') await this.drain();
    this.phase = 'stopping';
    const parked = this.blocked.takeAll();
    if (parked.length > 0) {
      this.refuse(
        parked.map((w) => w.item),
        'shutdown',
      );
      const error = new ClosedError(`backpressure controller "${this.name}" stopped while the push was blocked`);
      for (const w of parked) w.reject(error);
    }
    this.syncTimers();
    while (this.inFlightBatches > 0) {
      await new Promise<void>((resolve) => {
        this.flushWaiters.push(resolve);
        this.syncTimers();
      });
    }
    const rest = this.buffer.take(this.buffer.size);
    const restAcks = this.acks?.take(rest.length);
    this.sizes?.clear();
    this.bytes = 0;
    if (rest.length > 0) this.dropAccepted(rest, 'shutdown');
    rejectAcks(
      restAcks,
      new ClosedError(`backpressure controller "${this.name}" stopped without draining; the item was dropped`),
    );
    this.phase = 'stopped';
    this.updateLevel(this.utilization());
    this.syncTimers();
    this.checkIdle();
  }

  // ---- accounting of drops ---------------------------------------------------------------

  private dropCount(): number {
    const r = this.byReason;
    return r.evicted + this.evictions + r.queue_full + r.sampled + r.timeout + r.shutdown;
  }

  private countAbort(): void {
    this.rejected++;
    this.aborted++;
    this.metrics?.rejected.inc();
  }

  /** A push refused (never accepted). Allocates the event only when someone listens. */
  private refuseOne(item: T, reason: DropReason): void {
    this.lastRefusal = reason;
    this.rejected++;
    this.byReason[reason]++;
    if (this.metrics) {
      this.metrics.rejected.inc();
      this.metrics.dropped[reason].inc();
    }
    if (this.onDropOption !== undefined || this.drop$.hasListeners) this.report([item], reason, false);
  }

  private refuse(items: T[], reason: DropReason): void {
    this.rejected += items.length;
    this.byReason[reason] += items.length;
    if (this.metrics) {
      this.metrics.rejected.inc(items.length);
      this.metrics.dropped[reason].inc(items.length);
    }
    this.report(items, reason, false);
  }

  /** Accepted items dropped (one drop_oldest eviction goes through `replaceOldest` instead). */
  private dropAccepted(items: T[], reason: DropReason): void {
    const n = items.length;
    this.dropped += n;
    this.byReason[reason] += n;
    this.metrics?.dropped[reason].inc(n);
    if (this.onDropOption !== undefined || this.drop$.hasListeners) this.report(items, reason, true);
  }

  private report(items: T[], reason: DropReason, accepted: boolean): void {
    if (this.onDropOption !== undefined) safeCall(this.onDropOption, items, reason);
    if (this.drop$.hasListeners) this.drop$.emit({ items, reason, accepted });
  }
}

/** `writable()`'s and `writableStream()`'s options: an object with `highWaterMark` only. */
function checkStreamOptions(options: WritableOptions | WritableStreamOptions | undefined): void {
  if (options === undefined) return;
  validateObject(options, 'options');
  rejectUnknownOptions(options, 'options', ['highWaterMark']);
}
