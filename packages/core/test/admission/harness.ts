/**
 * A minimal valve around {@link Admission} for its tests: a FIFO line on {@link LazyQueue}, units
 * that record how they started, and sources whose every answer and subscription a test can see.
 * The valve side follows the Admission contract: `tryEnter()` first, else push and `enqueued()`;
 * a removal from the line is followed by `removed()`; each started unit leaves exactly once.
 */
import { FlakyRate } from '@valve/testkit';
import {
  Admission,
  type AdmissionOptions,
  type Clock,
  type ConcurrencySource,
  Emitter,
  LazyQueue,
  ManualClock,
  type Permit,
  type RateSource,
  type WaitLine,
} from '../../src/index.js';

export interface Unit {
  readonly id: number;
  gone: boolean;
  /** The permit it started with; undefined while it waits (or if it never started). */
  permit: Permit | undefined;
  /** How it started: 'fast' (tryEnter) or 'pump' (the admission's start callback). */
  via: 'fast' | 'pump' | undefined;
  left: boolean;
  error: unknown;
}

/** FIFO over LazyQueue: `take` from the front, `putBack` to the front. */
export class FifoLine implements WaitLine<Unit> {
  readonly q = new LazyQueue<Unit>();
  takes = 0;
  putBacks = 0;
  get size(): number {
    return this.q.size;
  }
  take(): Unit | undefined {
    this.takes++;
    return this.q.shift();
  }
  putBack(unit: Unit): void {
    this.putBacks++;
    this.q.unshift(unit);
  }
}

export interface HarnessOptions {
  concurrency: number | ConcurrencySource;
  rate?: RateSource;
  clock?: Clock;
  /** Runs inside the start callback, after the unit is recorded (re-entrancy tests). */
  onStart?: (unit: Unit, h: Harness) => void;
}

export class Harness {
  readonly line = new FifoLine();
  readonly clock: Clock;
  readonly admission: Admission<Unit>;
  readonly units: Unit[] = [];
  /** Units in the order they started (fast path and pump alike). */
  readonly started: Unit[] = [];
  readonly failed: { unit: Unit; error: unknown }[] = [];
  pumpedCalls = 0;
  /** Start-callback nesting depth now and at most (the pump must never recurse). */
  private depth = 0;
  maxDepth = 0;

  private readonly startUnit: (unit: Unit, permit: Permit, now: number) => void;

  constructor(options: HarnessOptions) {
    this.clock = options.clock ?? new ManualClock();
    const admissionOptions: AdmissionOptions<Unit> = {
      line: this.line,
      concurrency: options.concurrency,
      rate: options.rate,
      clock: this.clock,
      start: (unit, permit) => {
        this.depth++;
        this.maxDepth = Math.max(this.maxDepth, this.depth);
        try {
          if (unit.permit !== undefined) throw new Error(`unit ${unit.id} started twice`);
          unit.permit = permit;
          unit.via = 'pump';
          this.started.push(unit);
          options.onStart?.(unit, this);
        } finally {
          this.depth--;
        }
      },
      fail: (unit, error) => {
        unit.error = error;
        this.failed.push({ unit, error });
      },
      pumped: () => {
        this.pumpedCalls++;
      },
    };
    this.admission = new Admission(admissionOptions);
    this.startUnit = admissionOptions.start;
  }

  /** Offers a unit: the fast path if it may start now, else the line. */
  offer(): Unit {
    const unit: Unit = {
      id: this.units.length,
      gone: false,
      permit: undefined,
      via: undefined,
      left: false,
      error: undefined,
    };
    this.units.push(unit);
    const permit = this.admission.tryEnter();
    if (permit !== undefined) {
      unit.permit = permit;
      unit.via = 'fast';
      this.started.push(unit);
      return unit;
    }
    this.line.q.push(unit);
    this.admission.enqueued();
    return unit;
  }

  /** A started unit is done. */
  finish(unit: Unit, failed = false): void {
    if (unit.permit === undefined || unit.left) throw new Error(`unit ${unit.id} is not running`);
    unit.left = true;
    this.admission.leave(unit.permit, failed);
  }

  /**
   * A started unit with a counted slot is done and passes the slot on (`Admission#passOn`): the
   * waiter it returns is started here the way a valve does (its start, then what `pumped` does).
   */
  finishPassingOn(unit: Unit): void {
    if (unit.permit !== Admission.COUNTED || unit.left) throw new Error(`unit ${unit.id} holds no counted slot`);
    unit.left = true;
    const next = this.admission.passOn();
    if (next === undefined) return;
    this.startUnit(next, Admission.COUNTED, 0);
    this.pumpedCalls++;
  }

  /** A waiting unit aborts: off the line, then the admission is told. */
  remove(unit: Unit): boolean {
    if (!this.line.q.remove(unit)) return false;
    this.admission.removed();
    return true;
  }

  get running(): Unit[] {
    return this.started.filter((u) => !u.left);
  }

  ids(units: readonly Unit[]): number[] {
    return units.map((u) => u.id);
  }
}

/** Replaces a source's `onAvailable` with one that counts live subscriptions (and all ever made). */
export function spyOnAvailable(source: { onAvailable: ConcurrencySource['onAvailable'] }): {
  readonly live: number;
  readonly total: number;
} {
  const inner = source.onAvailable;
  const counts = { live: 0, total: 0 };
  (source as { onAvailable: ConcurrencySource['onAvailable'] }).onAvailable = (listener) => {
    counts.live++;
    counts.total++;
    const sub = inner(listener);
    let done = false;
    const dispose = () => {
      if (done) return;
      done = true;
      counts.live--;
      sub.dispose();
    };
    return { dispose, [Symbol.dispose]: dispose };
  };
  return counts;
}

/**
 * testkit's FlakyRate with a finite `nextTokenInMs()` (`nextMs` while empty, counted in
 * `nextTokenCalls`) and its live subscriptions visible; still no timer of its own.
 */
export class ScriptedRate extends FlakyRate {
  nextMs = 100;
  nextTokenCalls = 0;
  private readonly subs = spyOnAvailable(this);
  override nextTokenInMs(): number {
    this.nextTokenCalls++;
    return this.tokens >= 1 ? 0 : this.nextMs;
  }
  get listeners(): number {
    return this.subs.live;
  }
}

/** A pending call to an async source's `acquire(signal)`, settled by the test. */
export interface PendingAcquire<T> {
  signal: AbortSignal | undefined;
  grant(value: T): void;
  fail(error: unknown): void;
  settled: boolean;
}

function pending<T>(signal: AbortSignal | undefined, list: PendingAcquire<T>[]): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    const p: PendingAcquire<T> = {
      signal,
      settled: false,
      grant: (v) => {
        if (p.settled) return;
        p.settled = true;
        resolve(v);
      },
      fail: (e) => {
        if (p.settled) return;
        p.settled = true;
        reject(e);
      },
    };
    signal?.addEventListener('abort', () => p.fail(signal.reason), { once: true });
    list.push(p);
  });
}

/** An async concurrency source (a server's): every `acquire` waits until the test grants it. */
export class AsyncConcurrency implements ConcurrencySource {
  readonly async = true;
  limit: number;
  inUse = 0;
  granted = 0;
  released = 0;
  readonly requests: PendingAcquire<Permit>[] = [];
  private readonly available$ = new Emitter<void>();
  readonly onAvailable = this.available$.event;
  constructor(limit: number) {
    this.limit = limit;
  }
  tryAcquire(): Permit | undefined {
    throw new Error('an async source is never asked synchronously');
  }
  acquire(signal?: AbortSignal): Promise<Permit> {
    return pending(signal, this.requests);
  }
  /** Grants the oldest unsettled request a permit. */
  grantNext(): boolean {
    const p = this.requests.find((r) => !r.settled);
    if (p === undefined) return false;
    this.inUse++;
    this.granted++;
    let done = false;
    p.grant({
      release: () => {
        if (done) return;
        done = true;
        this.inUse--;
        this.released++;
      },
    });
    return true;
  }
  get open(): PendingAcquire<Permit>[] {
    return this.requests.filter((r) => !r.settled);
  }
  get listeners(): number {
    return this.available$.size;
  }
}

/** An async rate source: every `acquire` waits until the test grants it (one token each). */
export class AsyncRate implements RateSource {
  readonly async = true;
  taken = 0;
  readonly requests: PendingAcquire<void>[] = [];
  private readonly available$ = new Emitter<void>();
  readonly onAvailable = this.available$.event;
  get available(): number {
    return 0;
  }
  tryAcquire(): boolean {
    throw new Error('an async source is never asked synchronously');
  }
  acquire(signal?: AbortSignal): Promise<void> {
    return pending(signal, this.requests);
  }
  nextTokenInMs(): number {
    return 10;
  }
  grantNext(): boolean {
    const p = this.requests.find((r) => !r.settled);
    if (p === undefined) return false;
    this.taken++;
    p.grant(undefined);
    return true;
  }
  get open(): PendingAcquire<void>[] {
    return this.requests.filter((r) => !r.settled);
  }
}
