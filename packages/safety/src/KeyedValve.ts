/**
 * KeyedValve: one valve whose keys (clients, tenants, routes) each get a token bucket and a
 * concurrency share of their own under one global cap, with their queued work served fairly
 * (deficit round robin across keys) and, optionally, in priority classes that shed the lowest
 * class first (issue 17 items 2-4).
 *
 * Built like SafetyValve on core's `Admission` (CONTRIBUTING.md, "Admission"): the fast path is
 * `tryEnter()` (only while no job that could start waits), queued jobs start from the admission's
 * pump in the line's order. The line is a `FairLine` (one class) or `PriorityClasses` (one
 * `FairLine` per class). A key at its own concurrency share has its flows parked in the line, so
 * its backlog holds up nobody else; the key's next end unparks them.
 *
 * Per key, in this order, when a job arrives: the key table (full of live keys: `overload`), the
 * key's bucket (empty: `rate_limited`, the job never waits for a token), then the global cap and
 * the key's share (free and nobody of the key waiting: the job starts; else it queues, and a full
 * queue evicts a lower class's waiter or refuses the job with `queue_full`). A key's token is
 * given back when its job is refused on arrival.
 */
import {
  Admission,
  abortReason,
  type Clock,
  type Event,
  type Permit,
  type Reason,
  rejectExtraArguments,
  SignalGroups,
  type Valve,
  validateFunction,
  validateString,
} from '@valve/core';
import type { CoDel } from './CoDel.js';
import { type FairCoDelOptions, FairFlow, FairLine } from './FairLine.js';
import type { SignalMember } from './JobScope.js';
import { type KeyState, KeyTable } from './KeyTable.js';
import {
  checkKeyedOptions,
  checkKeyedRunOptions,
  type KeyedRunOptions,
  type KeyedSettings,
  type KeyedValveOptions,
  type KeyedValveStats,
} from './keyedOptions.js';
import { contractStats, createMeters, type Meters } from './meters.js';
import type { Job, RejectEvent } from './options.js';
import { type PriorityEntry, PriorityClasses } from './PriorityClasses.js';
import { Refusals } from './Refusals.js';
import { RunningJobs } from './RunningJobs.js';
import { newWaiter, type Waiter } from './Waiter.js';

const COUNTED = Admission.COUNTED;

/** A job waiting in a keyed valve's line, in its key's flow of its class. */
interface KeyedJob extends Waiter, PriorityEntry {
  readonly fn: Job<unknown>;
  readonly ks: KeyState;
  readonly flow: FairFlow;
  readonly priority: number;
}

/** The line's members the valve uses besides the WaitLine ones. */
type Line = FairLine<KeyedJob> | PriorityClasses<KeyedJob>;

export class KeyedValve implements Valve {
  readonly name: string;
  private readonly clock: Clock;
  private readonly s: KeyedSettings;
  private readonly table: KeyTable;
  private readonly line: Line;
  /** The line of each class (one entry without priority classes). */
  private readonly lines: readonly FairLine<KeyedJob>[];
  private readonly classes: PriorityClasses<KeyedJob> | undefined;
  private readonly admission: Admission<KeyedJob>;
  private readonly meters: Meters;
  private readonly refusals: Refusals;
  /**
   * Started jobs. With per-key shares an ended job hands back its key (its share comes back before
   * the global slot); without, the counted slot.
   */
  private readonly jobs: RunningJobs<KeyState | Permit>;
  private readonly signals = new SignalGroups<SignalMember>((job) => this.abortJob(job as KeyedJob), undefined, {
    keepListening: true, // as SafetyValve's
  });
  /** Per-key bucket: tokens per ms, 0 without one. */
  private readonly perMs: number;
  private readonly tokenLimit: number;
  private readonly keyConcurrency: number;
  /** Each key's running jobs are counted (a `perKey.concurrency` share is set). */
  private readonly shares: boolean;
  private queued = 0;
  /** Jobs CoDel dropped (`stats().codelDrops`). */
  private codelDrops = 0;
  /**
   * With `perKey.codel`: the CoDel states (one per class) of keys whose queue emptied while their
   * state remembered something (a count the restart rule resumes from), so CoDel's memory outlives
   * the key's flows as FQ-CoDel's outlives a flow going empty. Beside the key, not on it: a key
   * that CoDel never escalated costs nothing more, and an evicted key's entry goes with it.
   */
  private readonly codelKept: WeakMap<KeyState, (CoDel | undefined)[]> | undefined;
  /** Fires for every rejected job. */
  readonly onReject: Event<RejectEvent>;

  constructor(options: KeyedValveOptions) {
    // biome-ignore lint/complexity/noArguments: counts the arguments to refuse an extra one; a rest parameter would allocate
    rejectExtraArguments(arguments.length, 1, 'new KeyedValve()');
    const s = checkKeyedOptions(options);
    this.s = s;
    this.name = s.name;
    this.clock = s.clock;
    this.perMs = s.perMs;
    this.tokenLimit = s.tokenLimit;
    this.keyConcurrency = s.keyConcurrency;
    this.shares = s.keyConcurrency !== Number.POSITIVE_INFINITY;
    this.table = new KeyTable(s.clock, s.maxKeys, s.idleMs, s.tokenLimit, s.perMs);
    const codel: FairCoDelOptions<KeyedJob> | undefined = s.codel && {
      ...s.codel,
      enqueuedAt: (job) => job.enqueuedAt,
      drop: (job) => this.dropJob(job),
    };
    this.codelKept = codel && new WeakMap();
    if (s.classDeadlines.length > 1) {
      this.classes = new PriorityClasses<KeyedJob>(s.classDeadlines.length, codel);
      this.line = this.classes;
      this.lines = this.classes.lines;
    } else {
      const line = new FairLine<KeyedJob>(codel);
      this.classes = undefined;
      this.line = line;
      this.lines = [line];
    }
    this.meters = createMeters(this.name, s.metrics, () => this.stats());
    this.meters.series.gauge('valve_safety_keys', 'Keys held by a keyed safety valve.', () => this.table.size);
    this.refusals = new Refusals(
      this.name,
      this.meters,
      s.onReject,
      () => `${this.jobs.count} running, ${this.queued} waiting (size ${s.size}), ${this.table.size} keys`,
    );
    this.onReject = this.refusals.onReject;
    this.admission = new Admission<KeyedJob>({
      line: this.line,
      concurrency: s.concurrency,
      clock: this.clock,
      start: (job) => this.start(job),
      // Only asynchronous sources fail a waiter; this valve has none.
      fail: (job, error) => job.reject(error),
    });
    this.jobs = new RunningJobs<KeyState | Permit>(
      this.name,
      this.admission,
      this.meters,
      this.shares ? (ks, failed) => this.endShare(ks as KeyState, failed) : undefined,
    );
  }

  /**
   * Runs `fn` for `key` once the key's token, the key's share and a global slot allow, and
   * resolves with its result (errors pass through); rejects with a `ValveError` carrying
   * `reason` when the valve refuses or drops the job, or with `signal.reason` when the caller
   * aborts while the job waits.
   */
  run<T>(key: string, fn: Job<T>, options?: KeyedRunOptions): Promise<Awaited<T>> {
    if (typeof key !== 'string') validateString(key, 'key');
    if (typeof fn !== 'function') validateFunction(fn, 'fn');
    let signal: AbortSignal | undefined;
    if (options !== undefined) {
      signal = checkKeyedRunOptions(options, this.lines.length);
      if (signal?.aborted) return Promise.reject(abortReason(signal));
    }
    if (this.jobs.closed) return Promise.reject(this.refusals.refuse('shutdown', 0));
    const perMs = this.perMs;
    // The clock is read only for a bucket, once per call (a new key's bucket starts at the same
    // time): the key table keeps its own coarse time.
    const now = perMs === 0 ? 0 : this.clock.now();
    const table = this.table;
    const ks = table.enter(key, now);
    if (ks === undefined) return Promise.reject(this.refusals.refuse('overload', 0));
    if (perMs !== 0) {
      // The key's bucket: tokens at [slot], their time at [slot + 1] (KeyTable's `buckets`).
      const b = table.buckets;
      const at = ks.slot;
      let tokens = b[at]! + (now - b[at + 1]!) * perMs;
      if (tokens > this.tokenLimit) tokens = this.tokenLimit;
      b[at + 1] = now;
      if (tokens < 1) {
        b[at] = tokens;
        return Promise.reject(this.refusals.refuse('rate_limited', 0));
      }
      b[at] = tokens - 1;
    }
    if (ks.queued === 0 && ks.running < this.keyConcurrency) {
      const permit = this.admission.tryEnter();
      if (permit !== undefined) {
        if (!this.shares) return this.jobs.startCounted(fn);
        ks.running++;
        return this.jobs.start(fn, ks);
      }
    }
    return this.enqueue(ks, fn, options, signal) as Promise<Awaited<T>>;
  }

  /**
   * How long a caller refused for `key` should wait before retrying, in ms: the time to the key's
   * next token when its bucket is empty, else 0 (the refusal was about the shared capacity).
   */
  retryAfterMs(key: string): number {
    const ks = this.table.peek(key);
    if (ks === undefined || this.perMs === 0) return 0;
    const tokens = this.table.tokens(ks, this.clock.now());
    return tokens >= 1 ? 0 : Math.ceil((1 - tokens) / this.perMs);
  }

  /**
   * The state of one key (`undefined` when the table does not hold it). `running` is counted only
   * with a `perKey.concurrency` share (else `undefined`: the fast path does not count it).
   */
  keyStats(key: string): { tokens: number; running: number | undefined; queued: number } | undefined {
    const ks = this.table.peek(key);
    if (ks === undefined) return undefined;
    const tokens = this.perMs === 0 ? Number.POSITIVE_INFINITY : this.table.tokens(ks, this.clock.now());
    return { tokens, running: this.shares ? ks.running : undefined, queued: ks.queued };
  }

  stats(): KeyedValveStats {
    return {
      ...contractStats(this.name, this.meters, this.queued, this.jobs.count, this.jobs.closed),
      keys: this.table.size,
      evictedKeys: this.table.evicted,
      codelDrops: this.codelDrops,
      limit: this.admission.limit,
      tokens: Number.POSITIVE_INFINITY,
    };
  }

  /**
   * Refuses new jobs, rejects every waiter with reason `shutdown` and stops the timers; running
   * jobs finish (their signal aborts) and the promise resolves when the last one has.
   */
  close(): Promise<void> {
    return this.jobs.close(() => {
      this.table.close();
      for (const job of this.line.drain()) {
        this.left(job);
        this.refuse(job, 'shutdown');
      }
    });
  }

  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }

  /**
   * A started job of `ks` ended (with per-key shares): the key's share comes back, then the global
   * slot. Unparked first, so the admission's pump sees the key's waiters.
   */
  private endShare(ks: KeyState, failed: boolean): void {
    if (ks.running-- === this.keyConcurrency && ks.flows !== undefined) this.setParked(ks, false);
    this.admission.leave(COUNTED, failed);
  }

  private enqueue(
    ks: KeyState,
    fn: Job<unknown>,
    options: KeyedRunOptions | undefined,
    signal: AbortSignal | undefined,
  ): Promise<unknown> {
    const priority = options?.priority ?? this.s.defaultPriority;
    if (this.queued >= this.s.size) {
      // A full queue sheds a lower class first, then the heaviest key of the newcomer's class
      // when it holds more waiters than the newcomer's key would (so a heavy key cannot fill the
      // queue and lock the light keys out with queue_full); else the newcomer is refused.
      const mine = ks.flows?.[priority]?.size ?? 0;
      const victim = this.classes?.evictBelow(priority) ?? this.lines[priority]!.evictNewest(mine + 1);
      if (victim === undefined) {
        this.refund(ks);
        return Promise.reject(this.refusals.refuse('queue_full', 0));
      }
      this.left(victim);
      this.refuse(victim, 'evicted');
      this.admission.removed();
    }
    const flows = (ks.flows ??= []);
    let flow = flows[priority];
    if (flow === undefined) {
      flow = flows[priority] = new FairFlow();
      // The class's CoDel state the key's last flow left (none without perKey.codel).
      const codel = this.codelKept?.get(ks)?.[priority];
      if (codel !== undefined) flow.codel = codel;
      if (ks.running >= this.keyConcurrency) this.lines[priority]!.park(flow);
    }
    const now = this.clock.now();
    return new Promise((resolve, reject) => {
      const job = newWaiter(now, fn, resolve, reject, signal, 1, undefined, ks, flow, priority) as KeyedJob;
      if (signal !== undefined) this.signals.add(signal, job);
      this.line.push(job);
      ks.queued++;
      this.queued++;
      const deadline = options?.deadlineMs ?? this.s.classDeadlines[priority];
      if (deadline !== undefined) job.timer = this.clock.setTimeout(() => this.expire(job), deadline).ref();
      this.admission.enqueued();
    });
  }

  /** Starts a job the admission took from the line (it holds a counted slot). */
  private start(job: KeyedJob): void {
    const ks = job.ks;
    this.left(job);
    // The line is not timed (`now` is 0): the clock is read only when a histogram records.
    this.meters.sojourn?.record(this.clock.now() - job.enqueuedAt);
    this.jobs.started();
    if (this.shares && ++ks.running === this.keyConcurrency && ks.flows !== undefined) this.setParked(ks, true);
    this.jobs.settle(job.context, job.fn, this.shares ? ks : COUNTED, job.resolve, job.reject);
  }

  /** Parks or unparks every flow of the key (it reached or left its share). */
  private setParked(ks: KeyState, parked: boolean): void {
    const flows = ks.flows!;
    for (let c = 0; c < flows.length; c++) {
      const flow = flows[c];
      if (flow === undefined) continue;
      if (parked) this.lines[c]!.park(flow);
      else this.lines[c]!.unpark(flow);
    }
  }

  /** Bookkeeping of a job that left the line (taken, removed or evicted). */
  private left(job: KeyedJob): void {
    if (job.signalGroup !== undefined) this.signals.remove(job);
    if (job.timer !== undefined) {
      job.timer.clear();
      job.timer = undefined;
    }
    const ks = job.ks;
    this.queued--;
    // A key with no waiter drops its flows (an idle key holds no queue) but keeps their CoDel states.
    if (--ks.queued === 0) {
      if (this.codelKept !== undefined) this.keepCoDel(ks);
      ks.flows = undefined;
    }
  }

  /**
   * The key's queue emptied: keeps each of its flows' CoDel states that remembers something, lets
   * go of one that would act as a new one, and holds no entry for a key with none left.
   */
  private keepCoDel(ks: KeyState): void {
    const flows = ks.flows!;
    const table = this.codelKept!;
    let kept = table.get(ks);
    for (let c = 0; c < flows.length; c++) {
      const flow = flows[c];
      if (flow === undefined) continue;
      // Sized once, to the classes (`[]` would grow a 17-slot store at its first element).
      if (flow.codel?.remembers === true) (kept ??= new Array(this.lines.length))[c] = flow.codel;
      else if (kept !== undefined) kept[c] = undefined;
    }
    if (kept === undefined) return;
    if (kept.some((c) => c !== undefined)) table.set(ks, kept);
    else table.delete(ks);
  }

  /** Gives back the token a job refused on arrival took. */
  private refund(ks: KeyState): void {
    if (this.perMs === 0) return;
    const b = this.table.buckets;
    b[ks.slot] = Math.min(this.tokenLimit, b[ks.slot]! + 1);
  }

  private expire(job: KeyedJob): void {
    job.timer = undefined;
    if (!this.line.remove(job)) return;
    this.left(job);
    this.refuse(job, 'deadline');
    this.admission.removed();
  }

  /** CoDel dropped the job from its key's flow (inside the line's `take`): SafetyValve's `overload`. */
  private dropJob(job: KeyedJob): void {
    this.codelDrops++;
    this.left(job);
    this.refuse(job, 'overload');
  }

  private abortJob(job: KeyedJob): void {
    if (!this.line.remove(job)) return;
    this.left(job);
    this.meters.aborted.inc();
    job.reject(abortReason(job.signal!));
    this.admission.removed();
  }

  /** Rejects a job that left the line (its bookkeeping done by `left`). */
  private refuse(job: KeyedJob, reason: Reason): void {
    job.reject(this.refusals.refuse(reason, this.clock.now() - job.enqueuedAt));
  }
}
