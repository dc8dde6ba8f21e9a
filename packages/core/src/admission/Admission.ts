import type { Clock, Timer } from '../clock/Clock.js';
import type { Disposable } from '../events/Emitter.js';
import type { ConcurrencySource, Permit, RateSource } from '../sources/Sources.js';
import { rejectExtraArguments, validateInteger } from '../validate.js';
import type { WaitLine } from './WaitLine.js';

/**
 * The slot of a unit admitted under a fixed cap, which is counted, not held as an object: slots
 * of a fixed cap are interchangeable, so a counter is exact and a permit per unit would be garbage.
 * Hand it back to {@link Admission.leave}; its own `release()` does nothing.
 */
const COUNTED: Permit = Object.freeze({ release(): void {} });

const DROPPED = Object.freeze({ dropped: true });

/**
 * The counted slots of a unit of weight > 1 (issue 17): `weight` slots of a fixed cap, handed back
 * together through {@link Admission.leave}. One frozen object per weight, made on first use.
 */
class WeightedSlots implements Permit {
  constructor(readonly weight: number) {
    Object.freeze(this);
  }
  release(): void {}
}
const weightedSlots: WeightedSlots[] = [];
function slotsOf(weight: number): WeightedSlots {
  // Weights are small integers in practice; a huge one is not cached (no unbounded array).
  if (weight > 1024) return new WeightedSlots(weight);
  return (weightedSlots[weight] ??= new WeightedSlots(weight));
}

export interface AdmissionOptions<W> {
  /** The waiting line and its discipline. */
  line: WaitLine<W>;
  /**
   * A fixed cap (an integer >= 1 or Infinity), counted without permits and changeable with
   * `setLimit`, or a {@link ConcurrencySource} (an adaptive limit, Redis, a custom source).
   */
  concurrency: number | ConcurrencySource;
  /** The rate gate, if any. */
  rate?: RateSource | undefined;
  /** Arms the refill timer and times the line. */
  clock: Clock;
  /**
   * Starts a waiter the admission took from the line. It holds a slot (`permit`, handed back
   * through `leave` exactly once) and has spent its token. Must not throw.
   */
  start: (waiter: W, permit: Permit, now: number) => void;
  /**
   * An asynchronous source failed to grant the head of the line: the waiter has left the line
   * and gets the source's error. Must not throw.
   */
  fail: (waiter: W, error: unknown) => void;
  /** Called after a pump took at least one waiter from the line (a valve's size waiters). */
  pumped?: (() => void) | undefined;
  /**
   * `this` for `start`, `fail` and `pumped`. A valve passes functions shared by all its instances
   * plus itself here, rather than closures made per instance: the pump's calls then keep one
   * target, which V8 keeps optimized across garbage collections (per-instance closures measured
   * 2.4x slower on a fresh pool's queued path after a gc(), issue 14).
   */
  host?: unknown;
  /**
   * A waiter's weight: the slots and tokens it takes (see {@link Admission.checkWeight}). Without
   * it every waiter weighs 1.
   */
  weight?: ((waiter: W) => number) | undefined;
}

/**
 * The one place a unit of work waits for and takes a slot and a token (issue 14): PromisePool and
 * SafetyValve are built on it. It owns the sources, the counted synchronous fast path, the pump
 * that starts waiters in the line's order, the async acquire loop for the head of the line, and
 * the refill timer on the injected clock. The valve owns its units, their line and what a unit
 * does when it starts, times out or is aborted.
 *
 * Rules (CONTRIBUTING.md, "Admission"):
 * - **Gate order: the slot first, then the token.** A slot can be given back, a token cannot (a
 *   `RateSource` has no return), so a refused token gives the slot back and a refused slot costs
 *   no token. A source whose `tryAcquire()` disagrees with its `inUse`/`limit` costs nothing.
 * - **No barging.** The fast path is taken only when nobody waits; waiters start only from
 *   `pump()` (re-entrancy safe), in the line's order.
 * - **Timers.** The refill timer exists only while waiters wait for a token, is ref'd (accepted
 *   work waits on it), due at the source's `nextTokenInMs()` but at least 1 ms out (a timer that
 *   fires just before the bucket refills must not spin), and cleared when the line empties.
 * - **Listening.** The sources' `onAvailable` is listened to only while something waits or
 *   runs after something waited, so an uncontended release costs no listener call.
 */
export class Admission<W> {
  /** The permit of a counted slot (see {@link COUNTED}). */
  static readonly COUNTED: Permit = COUNTED;

  private readonly line: WaitLine<W>;
  private readonly conc: ConcurrencySource | undefined;
  private readonly rate: RateSource | undefined;
  private readonly clock: Clock;
  private readonly startWaiter: (waiter: W, permit: Permit, now: number) => void;
  private readonly failWaiter: (waiter: W, error: unknown) => void;
  private readonly pumped: (() => void) | undefined;
  private readonly host: unknown;
  /** `pump` bound once, for the sources' onAvailable (made on first use: a counted cap never listens). */
  private wakeFn: (() => void) | undefined = undefined;
  private get wake(): () => void {
    if (this.wakeFn === undefined) this.wakeFn = () => this.pump();
    return this.wakeFn;
  }
  private readonly weightOf: ((waiter: W) => number) | undefined;
  /** Some source must be asked asynchronously: every unit waits, the acquire loop serves the head. */
  readonly async: boolean;
  /** A fixed cap and nothing else (no rate, no weights, an untimed line): `leave` uses `pumpCounted`. */
  private readonly countedOnly: boolean;
  /** The fixed cap in counted mode (`conc === undefined`). */
  private max: number;
  /** Units admitted and not yet left (in counted mode, the slots in use). */
  private held = 0;
  private paused = false;
  private closed = false;
  private pumping = false;
  private refillTimer: Timer | undefined = undefined;
  private watching: Disposable[] | undefined = undefined;
  private acquiring = false;
  private acquireAbort: AbortController | undefined = undefined;

  constructor(options: AdmissionOptions<W>) {
    // biome-ignore lint/complexity/noArguments: counts the arguments to refuse an extra one; a rest parameter would allocate
    rejectExtraArguments(arguments.length, 1, 'new Admission()');
    this.line = options.line;
    const c = options.concurrency;
    if (typeof c === 'number') {
      this.max = validateInteger(c, 'concurrency', { min: 1, allowInfinity: true });
      this.conc = undefined;
    } else {
      this.max = 0;
      this.conc = c;
    }
    this.rate = options.rate;
    this.clock = options.clock;
    this.startWaiter = options.start;
    this.failWaiter = options.fail;
    this.pumped = options.pumped;
    this.host = options.host;
    this.weightOf = options.weight;
    this.async = this.conc?.async === true || this.rate?.async === true;
    this.countedOnly =
      this.conc === undefined && this.rate === undefined && this.weightOf === undefined && this.line.timed !== true;
  }

  /** Units admitted that have not left: running, or (in a valve's words) holding a slot. */
  get running(): number {
    return this.held;
  }

  /** The concurrency allowed now (moves with an adaptive limit). */
  get limit(): number {
    return this.conc === undefined ? this.max : this.conc.limit;
  }

  /** True while the async acquire loop asks a source for the head's permission. */
  get isAcquiring(): boolean {
    return this.acquiring;
  }

  get isPaused(): boolean {
    return this.paused;
  }

  /**
   * The fast path: a permit (with its token spent) if a unit may start now without waiting, else
   * `undefined`. Never while anybody waits (no barging), paused, closed, or with an async source.
   */
  tryEnter(): Permit | undefined {
    if (this.line.size !== 0 || this.paused || this.closed || this.async) return undefined;
    const rate = this.rate;
    let permit: Permit | undefined;
    if (this.conc === undefined) {
      if (this.held >= this.max) return undefined;
      if (rate !== undefined && !rate.tryAcquire()) return undefined;
      this.held++;
      return COUNTED;
    }
    // Asked before the slot so that an empty bucket costs no permit taken and given back.
    if (rate !== undefined && rate.available < 1) return undefined;
    permit = this.conc.tryAcquire();
    if (permit === undefined) return undefined;
    if (rate !== undefined && !rate.tryAcquire()) {
      permit.release();
      return undefined;
    }
    this.held++;
    return permit;
  }

  /**
   * Throws unless a unit of `weight` (an integer >= 1) can ever be admitted: weights need a fixed
   * cap and a rate source with `tryAcquireMany` (TypeError otherwise, for weight > 1), and a weight
   * above the cap or the source's `tokenLimit` could never start (RangeError).
   */
  checkWeight(weight: number): void {
    if (weight === 1) return;
    if (this.conc !== undefined) {
      throw new TypeError(
        `weight ${weight} needs a fixed concurrency cap: a concurrency source or adaptive Limit takes one slot per unit`,
      );
    }
    const rate = this.rate;
    if (rate !== undefined && (rate.async === true || typeof rate.tryAcquireMany !== 'function')) {
      throw new TypeError(
        `weight ${weight} needs a synchronous rate source with tryAcquireMany(n); this one takes one token at a time`,
      );
    }
    if (weight > this.max) {
      throw new RangeError(`weight must be <= the concurrency cap (${this.max}), got ${weight}`);
    }
    if (rate?.tokenLimit !== undefined && weight > rate.tokenLimit) {
      throw new RangeError(`weight must be <= tokenLimit (${rate.tokenLimit}), got ${weight}`);
    }
  }

  /**
   * `tryEnter` for a unit of `weight` slots and tokens (checked with `checkWeight` first): a
   * separate method, so the weight-1 fast path does no extra work.
   */
  tryEnterWeighted(weight: number): Permit | undefined {
    if (weight === 1) return this.tryEnter();
    if (this.line.size !== 0 || this.paused || this.closed || this.async) return undefined;
    if (this.held + weight > this.max) return undefined;
    const rate = this.rate;
    if (rate !== undefined && !rate.tryAcquireMany!(weight)) return undefined;
    this.held += weight;
    return slotsOf(weight);
  }

  /**
   * An admitted unit is done with its slot: gives it back (exactly once per admitted unit) and
   * starts waiters it makes room for. `failed` tells an adaptive limit the unit failed.
   */
  leave(permit: Permit, failed: boolean): void {
    this.held--;
    if (permit === COUNTED) {
      if (this.line.size !== 0) {
        if (this.countedOnly) this.pumpCounted();
        else this.pump();
      } else if (this.held === 0 && this.watching !== undefined) this.unwatch();
      return;
    }
    if (permit instanceof WeightedSlots) {
      this.held -= permit.weight - 1;
      if (this.line.size !== 0) this.pump();
      else if (this.held === 0 && this.watching !== undefined) this.unwatch();
      return;
    }
    // A synchronous source wakes `pump` from release() through onAvailable while we listen.
    permit.release(failed ? DROPPED : undefined);
    if (this.held === 0 && this.line.size === 0 && this.watching !== undefined) this.unwatch();
  }

  /**
   * `leave(COUNTED, false)` with the slot passed on: in a counted-only admission (a fixed cap, no
   * rate, no weights, an untimed line), when a waiter can start now, the leaving unit's slot goes
   * straight to it and the waiter is returned for the caller to start (the caller then does what
   * its `pumped` callback would); otherwise the slot is given back as `leave` does and `undefined`
   * is returned. One take instead of a give-back, a pump and two callbacks per queued unit (issue
   * 14's cold burst: about 340 fewer instructions per task in a fresh process, valgrind-counted).
   * The same unit starts as with `leave` (the model test runs both).
   */
  passOn(): W | undefined {
    const line = this.line;
    if (this.countedOnly && line.size !== 0 && this.held <= this.max && !this.paused && !this.closed && !this.pumping) {
      const waiter = line.take(0);
      if (waiter !== undefined) {
        if (line.size === 0) this.lineEmptied();
        return waiter;
      }
    }
    this.leave(COUNTED, false);
    return undefined;
  }

  /** The valve just pushed a waiter onto the line (after `tryEnter` refused). */
  enqueued(): void {
    if (this.closed) return;
    if (this.async) {
      void this.acquireLoop();
      return;
    }
    if (this.watching === undefined) this.watch();
    const rate = this.rate;
    if (rate !== undefined && this.refillTimer === undefined && rate.available < 1) this.armRefill(rate);
    // A refused fast path with a free slot and a token means the line was paused or non-empty:
    // the pump decides (it also starts the newcomer when the refusal was a race).
    else if (!this.paused && this.line.size === 1) this.pump();
  }

  /** The valve removed a waiter from the middle of the line (an abort, a deadline). */
  removed(): void {
    if (this.line.size === 0) this.lineEmptied();
  }

  /**
   * Starts no waiter until `resume()`; the fast path refuses meanwhile. An async acquire under
   * way for the head is aborted (`resume()` asks again).
   */
  pause(): void {
    this.paused = true;
    this.acquireAbort?.abort();
  }

  resume(): void {
    if (!this.paused) return;
    this.paused = false;
    this.pump();
  }

  /**
   * Changes a fixed cap at run time: raising it starts waiters at once, lowering it lets running
   * units finish (none is stopped). Only in counted mode (a source owns its own limit).
   */
  setLimit(limit: number): void {
    if (this.conc !== undefined) {
      throw new TypeError('setLimit() needs a fixed cap: a concurrency source or adaptive Limit sets its own limit');
    }
    this.max = validateInteger(limit, 'concurrency', { min: 1, allowInfinity: true });
    this.pump();
  }

  /**
   * The rate source was reconfigured (a new rate or tokenLimit): the refill timer is re-timed and
   * what can start now starts (a waiter heavier than a lowered tokenLimit takes the whole bucket).
   */
  rateChanged(): void {
    this.clearRefill();
    this.pump();
  }

  /** Starts nothing again: timers cleared, sources no longer listened to, an async acquire aborted. */
  close(): void {
    this.closed = true;
    this.clearRefill();
    this.unwatch();
    this.acquireAbort?.abort();
  }

  /** Starts waiters while a slot and a token are free, in the line's order. Never recursive. */
  pump(): void {
    if (this.pumping) return;
    const line = this.line;
    if (line.size === 0) {
      this.lineEmptied();
      return;
    }
    if (this.async) {
      void this.acquireLoop();
      return;
    }
    this.pumping = true;
    let took = false;
    const conc = this.conc;
    const rate = this.rate;
    const timed = line.timed === true;
    // No try/finally: `start` must not throw (AdmissionOptions), and the loop allocates nothing.
    while (line.size !== 0 && !this.paused && !this.closed) {
      if (conc === undefined ? this.held >= this.max : conc.inUse >= conc.limit) break;
      if (rate !== undefined && rate.available < 1) {
        if (this.refillTimer === undefined) this.armRefill(rate);
        break;
      }
      const now = timed ? this.clock.now() : 0;
      const waiter = line.take(now);
      if (waiter === undefined) break;
      const weight = this.weightOf === undefined ? 1 : this.weightOf(waiter);
      if (weight !== 1) {
        if (this.startWeighted(waiter, weight, now)) {
          took = true;
          continue;
        }
        break;
      }
      // Slot first, then token. Both gates said yes a moment ago; a source that now refuses is
      // misbehaving: the waiter goes back to the front until the source's next onAvailable.
      let permit: Permit | undefined = COUNTED;
      if (conc !== undefined) {
        permit = conc.tryAcquire();
        if (permit === undefined) {
          line.putBack(waiter);
          break;
        }
      }
      if (rate !== undefined && !rate.tryAcquire()) {
        line.putBack(waiter);
        if (permit !== COUNTED) permit.release();
        if (this.refillTimer === undefined) this.armRefill(rate);
        break;
      }
      this.held++;
      took = true;
      this.startWaiter.call(this.host, waiter, permit, now);
    }
    this.pumping = false;
    if (line.size === 0) this.lineEmptied();
    if (took && this.pumped !== undefined) this.pumped.call(this.host);
  }

  /**
   * `pump` for a fixed cap and nothing else (a plain pool's hand-over, once per queued task): the
   * same loop without the checks such an admission cannot need, so that the path a fresh process
   * runs before V8 optimizes it is short (issue 14's cold burst: 10^5 tasks queued at once). The
   * same starts in the same order as `pump`; the model test runs both.
   */
  private pumpCounted(): void {
    if (this.pumping) return;
    const line = this.line;
    this.pumping = true;
    let took = false;
    while (line.size !== 0 && this.held < this.max && !this.paused && !this.closed) {
      const waiter = line.take(0);
      if (waiter === undefined) break;
      this.held++;
      took = true;
      this.startWaiter.call(this.host, waiter, COUNTED, 0);
    }
    this.pumping = false;
    if (line.size === 0) this.lineEmptied();
    if (took && this.pumped !== undefined) this.pumped.call(this.host);
  }

  /**
   * Starts a waiter of weight > 1 (counted mode, checked at its arrival), or puts it back. One
   * whose weight a lowered cap or `tokenLimit` no longer allows does not wait forever: it starts
   * once nothing else holds a slot, taking every token the bucket can hold.
   */
  private startWeighted(waiter: W, weight: number, now: number): boolean {
    const held = this.held;
    if (held + weight > this.max && held !== 0) {
      this.line.putBack(waiter);
      return false;
    }
    const rate = this.rate;
    if (rate !== undefined) {
      const tokens = rate.tokenLimit === undefined ? weight : Math.min(weight, rate.tokenLimit);
      if (!rate.tryAcquireMany!(tokens)) {
        this.line.putBack(waiter);
        if (this.refillTimer === undefined) this.armRefill(rate, tokens);
        return false;
      }
    }
    this.held += weight;
    this.startWaiter.call(this.host, waiter, slotsOf(weight), now);
    return true;
  }

  /** Async sources: ask for the head's permission, one unit at a time, in the line's order. */
  private async acquireLoop(): Promise<void> {
    if (this.acquiring) return;
    this.acquiring = true;
    const line = this.line;
    const conc = this.conc;
    try {
      while (line.size !== 0 && !this.closed && !this.paused) {
        if (conc === undefined && this.held >= this.max) break;
        const ac = new AbortController();
        this.acquireAbort = ac;
        let permit: Permit | undefined;
        try {
          if (conc === undefined) {
            this.held++;
            permit = COUNTED;
          } else {
            permit = (conc.async === true ? undefined : conc.tryAcquire()) ?? (await conc.acquire(ac.signal));
            this.held++;
          }
          const rate = this.rate;
          if (rate !== undefined && (rate.async === true || !rate.tryAcquire())) await rate.acquire(ac.signal);
        } catch (error) {
          if (permit !== undefined) this.giveBack(permit);
          if (ac.signal.aborted) continue;
          // The source failed: the unit it was asked for gets the error unchanged.
          const waiter = line.take(line.timed === true ? this.clock.now() : 0);
          if (waiter !== undefined) this.failWaiter.call(this.host, waiter, error);
          continue;
        } finally {
          this.acquireAbort = undefined;
        }
        const now = this.clock.now();
        const waiter = this.closed || this.paused ? undefined : line.take(line.timed === true ? now : 0);
        if (waiter === undefined) {
          // Nobody left to start (aborted meanwhile), or a grant that won the race with pause()
          // or close(): the slot goes back; the token is spent.
          this.giveBack(permit);
          continue;
        }
        this.startWaiter.call(this.host, waiter, permit, now);
        if (this.pumped !== undefined) this.pumped.call(this.host);
      }
    } finally {
      this.acquiring = false;
    }
  }

  /** Undoes a slot taken for a unit that did not start. */
  private giveBack(permit: Permit): void {
    this.held--;
    if (permit !== COUNTED) permit.release();
  }

  private lineEmptied(): void {
    this.clearRefill();
    this.acquireAbort?.abort();
    if (this.held === 0 && this.watching !== undefined) this.unwatch();
  }

  /** Listens for freed slots and new tokens (synchronous sources only); idempotent. */
  private watch(): void {
    const subscriptions: Disposable[] = [];
    if (this.conc !== undefined) subscriptions.push(this.conc.onAvailable(this.wake));
    if (this.rate !== undefined) subscriptions.push(this.rate.onAvailable(this.wake));
    this.watching = subscriptions;
  }

  private unwatch(): void {
    const subscriptions = this.watching;
    if (subscriptions === undefined) return;
    this.watching = undefined;
    for (const s of subscriptions) s.dispose();
  }

  /**
   * Waiters wait for a token: the source's `onAvailable` wakes the pump, and this timer keeps
   * the process alive meanwhile (in-process buckets leave their own timers unref'd).
   */
  private armRefill(rate: RateSource, tokens = 1): void {
    const ms = rate.nextTokenInMs(tokens);
    if (!Number.isFinite(ms)) return;
    this.refillTimer = this.clock
      .setTimeout(
        () => {
          this.refillTimer = undefined;
          this.pump();
        },
        Math.max(1, ms),
      )
      .ref();
  }

  private clearRefill(): void {
    if (this.refillTimer === undefined) return;
    this.refillTimer.clear();
    this.refillTimer = undefined;
  }
}
