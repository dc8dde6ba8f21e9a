import type { Clock } from '../clock/Clock.js';
import { ClosedError } from '../errors/ValveError.js';
import { type Disposable, Emitter } from '../events/Emitter.js';
import { isLimit, type Limit } from '../limits/Limit.js';
import {
  describeValue,
  rejectExtraArguments,
  rejectUnknownOptions,
  validateClock,
  validateInteger,
  validateObject,
} from '../validate.js';
import type { ConcurrencySource, Permit } from './Sources.js';
import { WaiterQueue } from './WaiterQueue.js';

export interface LocalConcurrencyOptions {
  /** A fixed cap (an integer >= 1, or Infinity) or an adaptive {@link Limit}. */
  limit: number | Limit;
  /** Times work for an adaptive limit. @default systemClock */
  clock?: Clock;
}

/**
 * An in-process concurrency cap: a counter, a limit, and (for an adaptive {@link Limit}) the
 * latency samples that move it. A permit is released once; releasing it again does nothing.
 */
/** The permits this source hands out: `using permit = slots.tryAcquire()` releases at block end. */
export type LocalPermit = Permit & { [Symbol.dispose](): void };

export class LocalConcurrency implements ConcurrencySource {
  private held = 0;
  private readonly fixed: number;
  private readonly adaptive: Limit | undefined;
  private readonly clock: Clock;
  private readonly waiters = new WaiterQueue<LocalPermit>();
  private readonly available$ = new Emitter<void>();
  private readonly subscription: Disposable | undefined;
  private closed = false;
  readonly onAvailable = this.available$.event;

  constructor(options: LocalConcurrencyOptions) {
    // biome-ignore lint/complexity/noArguments: counts the arguments to refuse an extra one; a rest parameter would allocate
    rejectExtraArguments(arguments.length, 1, 'new LocalConcurrency()');
    validateObject(options, 'options');
    rejectUnknownOptions(options, 'options', ['limit', 'clock']);
    const limit = options.limit;
    if (isLimit(limit)) {
      this.adaptive = limit;
      this.fixed = 0;
      this.subscription = limit.onChange(() => this.wake());
    } else if (typeof limit === 'number') {
      this.fixed = validateInteger(limit, 'limit', { min: 1, allowInfinity: true });
    } else {
      throw new TypeError(`limit must be an integer >= 1, Infinity or a Limit, got ${describeValue(limit)}`);
    }
    this.clock = validateClock(options.clock);
  }

  get limit(): number {
    return this.adaptive ? this.adaptive.limit : this.fixed;
  }

  get inUse(): number {
    return this.held;
  }

  tryAcquire(): LocalPermit | undefined {
    if (this.closed || this.held >= this.limit) return undefined;
    return this.grant();
  }

  /**
   * The permit-free fast path, for a fixed limit only: takes a slot by counting, with no permit
   * object, and says whether one was free. The caller then owns the slot and gives it back with
   * {@link give} exactly once; a count cannot tell a second `give()` from another holder's, so
   * the idempotence a {@link Permit} guarantees is the caller's job here. (Valves that start
   * millions of short jobs use this pair: a permit per job is garbage that a fixed cap, whose
   * slots are interchangeable, does not need.) An adaptive limit samples each job's latency
   * through its permit, so it refuses this path.
   */
  tryTake(): boolean {
    if (this.adaptive !== undefined) {
      throw new TypeError('tryTake() needs a fixed limit: an adaptive Limit samples each permit, use tryAcquire()');
    }
    if (this.closed || this.held >= this.fixed) return false;
    this.held++;
    return true;
  }

  /** Gives back a slot taken with {@link tryTake}: once per successful `tryTake()`. */
  give(): void {
    if (this.held === 0) throw new RangeError('give() without a slot taken: 0 in use');
    this.held--;
    this.wake();
  }

  acquire(signal?: AbortSignal): Promise<LocalPermit> {
    if (this.closed) return Promise.reject(new ClosedError('the concurrency source is closed'));
    if (this.waiters.size === 0) {
      const p = this.tryAcquire();
      if (p) return Promise.resolve(p);
    }
    return this.waiters.wait(signal);
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.subscription?.dispose();
    this.waiters.rejectAll(new ClosedError('the concurrency source is closed'));
  }

  private grant(): LocalPermit {
    this.held++;
    if (this.adaptive === undefined) return new FixedPermit(this);
    return new SampledPermit(this, this.clock.now(), this.held);
  }

  /** @internal */
  releaseSlot(): void {
    this.held--;
    this.wake();
  }

  /** @internal */
  sample(startedAt: number, inflight: number, dropped: boolean): void {
    this.adaptive!.onSample({ rttMs: this.clock.now() - startedAt, inflight, dropped });
  }

  private wake(): void {
    while (this.waiters.size > 0 && this.held < this.limit && !this.closed) {
      this.waiters.resolveNext(this.grant());
    }
    // Checked first: on the uncontended path nobody listens, and a release then costs no call.
    if (this.available$.hasListeners && this.held < this.limit) this.available$.emit();
  }
}

class FixedPermit implements LocalPermit {
  private source: LocalConcurrency | undefined;
  constructor(source: LocalConcurrency) {
    this.source = source;
  }
  release(): void {
    const s = this.source;
    if (s === undefined) return;
    this.source = undefined;
    s.releaseSlot();
  }
  [Symbol.dispose](): void {
    this.release();
  }
}

class SampledPermit implements LocalPermit {
  private source: LocalConcurrency | undefined;
  constructor(
    source: LocalConcurrency,
    private readonly startedAt: number,
    private readonly inflight: number,
  ) {
    this.source = source;
  }
  release(outcome?: { dropped?: boolean }): void {
    const s = this.source;
    if (s === undefined) return;
    this.source = undefined;
    s.sample(this.startedAt, this.inflight, outcome?.dropped === true);
    s.releaseSlot();
  }
  [Symbol.dispose](): void {
    this.release();
  }
}
