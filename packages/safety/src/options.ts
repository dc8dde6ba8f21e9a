import {
  type Clock,
  type ConcurrencySource,
  isLimit,
  type Limit,
  LocalConcurrency,
  LoadMonitor,
  type LoadSampler,
  type LoadCause,
  type LoadThresholds,
  type MetricsRegistry,
  type RateSource,
  type Reason,
  rejectUnknownOptions,
  TokenBucket,
  validateClock,
  validateFunction,
  validateInteger,
  validateMetrics,
  validateNumber,
  validateObject,
  validateOneOf,
  validateSignal,
  validateString,
  type ValveStats,
} from '@valve/core';
import { checkCoDelTimes } from './CoDel.js';

/** How the queue of waiting jobs is disciplined. See the README for which to choose. */
export type QueueDiscipline = 'fifo' | 'codel' | 'codel-timer' | 'deadline';

export const QUEUE_DISCIPLINES: readonly QueueDiscipline[] = Object.freeze([
  'fifo',
  'codel',
  'codel-timer',
  'deadline',
]);

/** What `onReject` receives: a job the valve refused or dropped (aborts are not rejections). */
export interface RejectEvent {
  /** The valve's name. */
  valve: string;
  reason: Reason;
  /** Time the job spent queued before it was rejected, in ms (0 when refused on arrival). */
  waitedMs: number;
}

/**
 * `loadShedding` given as thresholds: the valve builds its own {@link LoadMonitor} on its clock
 * (and closes it on `close()`). Names as in core's `LoadMonitorOptions`.
 */
export interface LoadSheddingOptions extends LoadThresholds {
  /** Time between samples, in ms (> 0). @default 1000 */
  sampleIntervalMs?: number;
  /** What takes the samples. @default processLoadSampler() (perf_hooks and process.memoryUsage) */
  sampler?: LoadSampler;
  /**
   * Hysteresis (> 0 and <= 1): once shedding, the valve sheds until every measure is at or below
   * `recoverBelow` times its threshold. @default 1 (no hysteresis)
   */
  recoverBelow?: number;
}

/** What `setLimits()` changes at run time (each optional; the others stay). */
export interface SafetyValveLimits {
  /** Tokens per refill of the built-in bucket (integer >= 1). */
  rate?: number;
  /** Size of the built-in bucket (integer >= 1); the tokens in it stay, clamped to a lower limit. */
  tokenLimit?: number;
  /** The fixed cap (integer >= 1 or Infinity); raising it starts waiters at once, lowering it stops no running job. */
  concurrency?: number;
  /** Jobs allowed to wait (integer >= 0 or Infinity); lowering it drops no waiting job. */
  size?: number;
  /** The default longest wait in ms (>= 0), for jobs queued from now on. */
  deadlineMs?: number;
}

export const LIMIT_KEYS: readonly (keyof SafetyValveLimits)[] = Object.freeze([
  'rate',
  'tokenLimit',
  'concurrency',
  'size',
  'deadlineMs',
]);

/**
 * Options of a {@link SafetyValve}; the names mirror safetyvalve's queue configuration
 * `{pg_q, [{hz, 500}, {rate, 20}, {token_limit, 30}, {size, 30}, {concurrency, 32}]}`.
 */
export interface SafetyValveOptions {
  /** Names the valve in errors, `stats()` and the metrics label `valve`. @default 'safety' */
  name?: string;
  /**
   * Refill period of the token bucket, in ms (safetyvalve's `hz`). Needs `rate` and `tokenLimit`.
   * Without it there is no timer and tokens come only from `replenish()`.
   * @default undefined (no refill timer)
   */
  hz?: number;
  /** Tokens added per refill, an integer >= 1. Required with `hz`. @default undefined */
  rate?: number;
  /**
   * Bucket size, an integer >= 1; the bucket starts full. Required with `hz` or `rate`. Without
   * `hz`, `rate` and `tokenLimit` there is no token gate at all.
   * @default undefined (no rate limit)
   */
  tokenLimit?: number;
  /**
   * Jobs allowed to wait, an integer >= 0 (or Infinity). Job number `size + 1` is rejected at once
   * with `queue_full`. Required: the right bound depends on the resource.
   */
  size: number;
  /**
   * Jobs allowed in flight: an integer >= 1, Infinity, or an adaptive `Limit` from @valve/core
   * (AIMD, Gradient2, Vegas) that follows the resource's latency. Required unless
   * `concurrencySource` is given.
   */
  concurrency?: number | Limit;
  /** Queue discipline. @default 'fifo' */
  queue?: QueueDiscipline;
  /**
   * `'adaptive'`: serve the newest waiter while the queue is standing (has not been empty for
   * `intervalMs`), the oldest otherwise. Works with every discipline; drops (CoDel, timers) still
   * take the oldest first. @default false
   */
  lifo?: false | 'adaptive';
  /** CoDel's (and `codel-timer`'s) acceptable sojourn, in ms, > 0 and <= `intervalMs`. @default 5 */
  targetMs?: number;
  /**
   * CoDel's window, in ms, > 0; also how long a queue must stay non-empty to count as standing
   * (`codel-timer`, adaptive LIFO). @default 100
   */
  intervalMs?: number;
  /**
   * Longest time a job may wait in the queue, in ms (>= 0), before it is rejected with reason
   * `deadline`. Required with `queue: 'deadline'`; allowed with every discipline; a call's own
   * `deadlineMs` overrides it. @default undefined (no deadline)
   */
  deadlineMs?: number;
  /**
   * A started job or permit not finished within `leaseMs` (> 0) gives its slot back and is
   * counted in `reclaimed` (Node has no process monitors to notice a lost permit). The job itself
   * keeps running. @default undefined (no lease)
   */
  leaseMs?: number;
  /**
   * Longest time a started job may run, in ms (> 0): then its signal aborts with a `TimeoutError`
   * (reason `timeout`) and `run()` rejects with it at once; the slot comes back when the job's
   * promise settles (or by `leaseMs`). Separate from `deadlineMs`, the longest wait in the queue;
   * a call's own `timeoutMs` overrides it. @default undefined (no limit)
   */
  timeoutMs?: number;
  /** @default systemClock */
  clock?: Clock;
  /** Registers the valve's counters, gauges and sojourn histogram here. @default undefined */
  metrics?: MetricsRegistry;
  /** Called for every rejected job (also available as the `onReject(listener)` event). */
  onReject?: (event: RejectEvent) => void;
  /** Replaces the built-in `TokenBucket` (e.g. a Redis bucket); excludes `hz`/`rate`/`tokenLimit`. */
  rateSource?: RateSource;
  /** Replaces the built-in `LocalConcurrency`; excludes `concurrency`. */
  concurrencySource?: ConcurrencySource;
  /**
   * Refuse new jobs (reason `overload`) while the process is overloaded by its own measure:
   * thresholds (the valve samples on its clock and closes its monitor on `close()`), or a core
   * `LoadMonitor` several valves share (not closed by the valve). Jobs already waiting stay.
   * @default undefined (no load gate)
   */
  loadShedding?: LoadSheddingOptions | LoadMonitor;
}

export const KNOWN_OPTIONS: readonly string[] = Object.freeze([
  'name',
  'hz',
  'rate',
  'tokenLimit',
  'size',
  'concurrency',
  'queue',
  'lifo',
  'targetMs',
  'intervalMs',
  'deadlineMs',
  'leaseMs',
  'timeoutMs',
  'clock',
  'metrics',
  'onReject',
  'rateSource',
  'concurrencySource',
  'loadShedding',
]);

/** Options of one `run`, `tryRun` or `ask` call. */
export interface RunOptions {
  /**
   * Aborting it while the job waits removes the job from the queue and rejects with
   * `signal.reason`; while it runs, aborts the job's own signal and rejects with `signal.reason`
   * at once (the slot comes back when the job settles).
   */
  signal?: AbortSignal;
  /** This call's longest wait in the queue, in ms (overrides the valve's `deadlineMs`). */
  deadlineMs?: number;
  /** This call's longest run time, in ms (overrides the valve's `timeoutMs`). */
  timeoutMs?: number;
  /**
   * Slots and tokens this job takes (an integer >= 1, at most the concurrency cap and the
   * bucket's `tokenLimit`). Needs a fixed `concurrency` and the built-in bucket (or a rate source
   * with `tryAcquireMany`). @default 1
   */
  weight?: number;
}

/**
 * What a job receives: `signal` aborts on the caller's abort, on `timeoutMs`, on a lease reclaim
 * and on `close()` (as the pool's tasks get `{ signal }`).
 */
export interface JobContext {
  readonly signal: AbortSignal;
}

/** The work a valve runs. */
export type Job<T> = (context: JobContext) => T | PromiseLike<T>;

/** safetyvalve's `{ok, Result} | {error, Reason}`, without exceptions for refusals. */
export type TryRunResult<T> = { ok: true; value: T } | { ok: false; reason: Reason; error: unknown };

/** A started slot from `ask()`; `done()` gives it back (safetyvalve's `sv:done/3`). */
export interface SafetyPermit {
  /** Releases the slot. Idempotent; `dropped: true` tells an adaptive limit the work failed. */
  done(outcome?: { dropped?: boolean }): void;
  /** True once `done()` was called or the lease reclaimed the slot. */
  readonly released: boolean;
}

/** The configuration a valve runs with (safetyvalve's `q(Name, configuration)`). */
export interface SafetyValveConfiguration {
  name: string;
  hz: number | undefined;
  rate: number | undefined;
  tokenLimit: number | undefined;
  size: number;
  concurrency: number | 'adaptive' | 'source';
  queue: QueueDiscipline;
  lifo: false | 'adaptive';
  targetMs: number;
  intervalMs: number;
  deadlineMs: number | undefined;
  leaseMs: number | undefined;
  timeoutMs: number | undefined;
  /** The load thresholds checked (`undefined` without `loadShedding`). */
  loadShedding: Readonly<LoadThresholds> | undefined;
}

/**
 * A snapshot of a valve (safetyvalve's `q(Name, tokens)` and more), in the Valve contract's words:
 * the unit is a job (a `run()` or an `ask()` permit); `admitted = running + completed + failed`.
 */
export interface SafetyValveStats extends ValveStats {
  /** Tokens in the bucket now (Infinity without a rate limit). */
  tokens: number;
  /** Concurrency allowed now (moves with an adaptive limit). */
  limit: number;
  /** Queued jobs whose caller aborted (also in `rejected` and `rejectedByReason.aborted`). */
  aborted: number;
  /** Slots taken back by `leaseMs` (those jobs count in `failed`). */
  reclaimed: number;
  /** CoDel is in its dropping state (`queue: 'codel'` only). */
  dropping: boolean;
  /**
   * Jobs CoDel dropped from the queue (`queue: 'codel'` only; `codel-timer`'s expiries are not
   * counted here), also counted in `rejected` and `rejectedByReason.overload`.
   */
  codelDrops: number;
  /**
   * Set while the load gate (`loadShedding`) refuses new jobs: the measure over its threshold (or,
   * with `recoverBelow`, over its release level); `undefined` otherwise or without a gate.
   */
  loadCause: LoadCause | undefined;
  configuration: SafetyValveConfiguration;
}

/**
 * A valve's options, checked and with their defaults applied (the constructor's input). The
 * sources the valve built itself (`ownRate`, `ownConc`) are closed by its `close()`; sources passed
 * in may be shared and are not.
 */
export interface Settings {
  name: string;
  clock: Clock;
  metrics: MetricsRegistry | undefined;
  size: number;
  discipline: QueueDiscipline;
  lifo: boolean;
  targetMs: number;
  intervalMs: number;
  deadlineMs: number | undefined;
  leaseMs: number | undefined;
  timeoutMs: number | undefined;
  onReject: ((event: RejectEvent) => void) | undefined;
  rate: RateSource | undefined;
  ownRate: TokenBucket | undefined;
  /** A fixed cap (counted by core's Admission, no permits) or a source. */
  concurrency: number | ConcurrencySource;
  ownConc: LocalConcurrency | undefined;
  /** The load gate, if any. */
  load: LoadMonitor | undefined;
  /** The valve built `load` from thresholds and closes it. */
  ownLoad: boolean;
  configuration: SafetyValveConfiguration;
}

/**
 * Checks a valve's options in a fixed order (the first bad one throws a TypeError or RangeError
 * naming it) and applies the defaults. A fixed `concurrency` stays a number (counted); an
 * adaptive `Limit` gets a `LocalConcurrency` that samples each permit.
 */
export function checkOptions(options: SafetyValveOptions): Settings {
  validateObject(options, 'options');
  rejectUnknownOptions(options, 'options', KNOWN_OPTIONS);
  const name = validateString(options.name ?? 'safety', 'name', { nonEmpty: true });
  const clock = validateClock(options.clock);
  const metrics = validateMetrics(options.metrics);
  const size = validateInteger(options.size, 'size', { min: 0, allowInfinity: true });
  const discipline = validateOneOf(options.queue ?? 'fifo', 'queue', QUEUE_DISCIPLINES);
  const lifo = options.lifo ?? false;
  if (lifo !== false && lifo !== 'adaptive') {
    throw new TypeError(`lifo must be false or "adaptive", got ${JSON.stringify(lifo)}`);
  }
  const intervalMs = options.intervalMs ?? 100;
  const targetMs = options.targetMs ?? 5;
  checkCoDelTimes(targetMs, intervalMs);
  const deadlineMs =
    options.deadlineMs === undefined ? undefined : validateNumber(options.deadlineMs, 'deadlineMs', { min: 0 });
  if (discipline === 'deadline' && deadlineMs === undefined) {
    throw new TypeError('deadlineMs is required with queue: "deadline" (the longest wait, in ms)');
  }
  const leaseMs = options.leaseMs === undefined ? undefined : validateNumber(options.leaseMs, 'leaseMs', { above: 0 });
  const timeoutMs =
    options.timeoutMs === undefined ? undefined : validateNumber(options.timeoutMs, 'timeoutMs', { above: 0 });
  const onReject =
    options.onReject === undefined
      ? undefined
      : validateFunction<(event: RejectEvent) => void>(options.onReject, 'onReject');

  // The rate gate: a custom source, the built-in bucket, or none.
  let rate: RateSource | undefined;
  let ownRate: TokenBucket | undefined;
  const bucketKeys = options.hz !== undefined || options.rate !== undefined || options.tokenLimit !== undefined;
  if (options.rateSource !== undefined) {
    if (bucketKeys) throw new TypeError('rateSource replaces hz, rate and tokenLimit; pass one or the other');
    rate = checkRateSource(options.rateSource);
  } else if (bucketKeys) {
    if (options.tokenLimit === undefined) {
      throw new TypeError('tokenLimit is required with hz or rate (the bucket size, an integer >= 1)');
    }
    ownRate = new TokenBucket({ hz: options.hz, rate: options.rate, tokenLimit: options.tokenLimit, clock });
    rate = ownRate;
  }
  // The concurrency gate: a custom source, an adaptive limit's LocalConcurrency, or a fixed cap.
  let concurrency: number | ConcurrencySource;
  let ownConc: LocalConcurrency | undefined;
  const c = options.concurrency;
  if (options.concurrencySource !== undefined) {
    if (c !== undefined) throw new TypeError('concurrencySource replaces concurrency; pass one or the other');
    concurrency = checkConcurrencySource(options.concurrencySource);
  } else if (isLimit(c)) {
    ownConc = new LocalConcurrency({ limit: c, clock });
    concurrency = ownConc;
  } else {
    concurrency = validateInteger(c, 'concurrency', { min: 1, allowInfinity: true });
  }
  let load: LoadMonitor | undefined;
  let ownLoad = false;
  const ls = options.loadShedding;
  if (ls !== undefined) {
    if (isLoadMonitor(ls)) load = ls;
    else {
      validateObject(ls, 'loadShedding');
      load = new LoadMonitor({ ...ls, clock });
      ownLoad = true;
    }
  }
  const configuration: SafetyValveConfiguration = Object.freeze({
    name,
    hz: ownRate?.hz,
    rate: ownRate?.rate,
    tokenLimit: ownRate?.tokenLimit,
    size,
    concurrency: options.concurrencySource ? 'source' : typeof concurrency === 'number' ? concurrency : 'adaptive',
    queue: discipline,
    lifo,
    targetMs,
    intervalMs,
    deadlineMs,
    leaseMs,
    timeoutMs,
    loadShedding: load?.limits,
  });
  return {
    name,
    clock,
    metrics,
    size,
    discipline,
    lifo: lifo === 'adaptive',
    targetMs,
    intervalMs,
    deadlineMs,
    leaseMs,
    timeoutMs,
    onReject,
    rate,
    ownRate,
    concurrency,
    ownConc,
    load,
    ownLoad,
    configuration,
  };
}

/** A LoadMonitor by shape, not `instanceof` (dual ESM/CJS copies of core break it). */
function isLoadMonitor(value: unknown): value is LoadMonitor {
  const v = value as LoadMonitor;
  return typeof v === 'object' && v !== null && typeof v.check === 'function' && typeof v.overloaded === 'boolean';
}

/**
 * Checks `setLimits()`'s argument (each key on its own, named in the message) and returns the
 * limits given.
 */
export function checkLimits(limits: SafetyValveLimits): SafetyValveLimits {
  validateObject(limits, 'limits');
  rejectUnknownOptions(limits, 'limits', LIMIT_KEYS);
  const out: SafetyValveLimits = {};
  if (limits.rate !== undefined) out.rate = validateInteger(limits.rate, 'rate', { min: 1 });
  if (limits.tokenLimit !== undefined) out.tokenLimit = validateInteger(limits.tokenLimit, 'tokenLimit', { min: 1 });
  if (limits.concurrency !== undefined) {
    out.concurrency = validateInteger(limits.concurrency, 'concurrency', { min: 1, allowInfinity: true });
  }
  if (limits.size !== undefined) out.size = validateInteger(limits.size, 'size', { min: 0, allowInfinity: true });
  if (limits.deadlineMs !== undefined) out.deadlineMs = validateNumber(limits.deadlineMs, 'deadlineMs', { min: 0 });
  return out;
}

const KNOWN_RUN = ['signal', 'deadlineMs', 'timeoutMs', 'weight'] as const;

/** Checks one `run()`/`ask()` call's options (unknown keys included); returns its signal. */
export function checkRunOptions(options: RunOptions): AbortSignal | undefined {
  validateObject(options, 'options');
  rejectUnknownOptions(options, 'options', KNOWN_RUN);
  if (options.deadlineMs !== undefined) validateNumber(options.deadlineMs, 'options.deadlineMs', { min: 0 });
  if (options.timeoutMs !== undefined) validateNumber(options.timeoutMs, 'options.timeoutMs', { above: 0 });
  if (options.weight !== undefined) validateInteger(options.weight, 'options.weight', { min: 1 });
  return validateSignal(options.signal, 'options.signal');
}

function checkRateSource(source: RateSource): RateSource {
  validateObject(source, 'rateSource');
  validateFunction(source.tryAcquire, 'rateSource.tryAcquire');
  validateFunction(source.acquire, 'rateSource.acquire');
  validateFunction(source.nextTokenInMs, 'rateSource.nextTokenInMs');
  validateFunction(source.onAvailable, 'rateSource.onAvailable');
  return source;
}

function checkConcurrencySource(source: ConcurrencySource): ConcurrencySource {
  validateObject(source, 'concurrencySource');
  validateFunction(source.tryAcquire, 'concurrencySource.tryAcquire');
  validateFunction(source.acquire, 'concurrencySource.acquire');
  validateFunction(source.onAvailable, 'concurrencySource.onAvailable');
  return source;
}
