import {
  type Clock,
  type MetricsRegistry,
  rejectUnknownOptions,
  validateClock,
  validateFunction,
  validateInteger,
  validateMetrics,
  validateNumber,
  validateObject,
  validateSignal,
  validateString,
  type ValveStats,
} from '@valve/core';
import { checkCoDelTimes } from './CoDel.js';
import type { RejectEvent } from './options.js';

/** What each key gets of its own. Every field is optional; an absent one is no per-key limit. */
export interface PerKeyOptions {
  /**
   * Each key's token bucket: `rate` tokens every `hz` ms, refilled continuously (not in steps),
   * up to `tokenLimit`; a key's bucket starts full. A job whose key has no token is refused at
   * once with `rate_limited` (it never waits for a token). Needs all three.
   */
  hz?: number;
  /** Tokens per `hz` ms, > 0. */
  rate?: number;
  /** Bucket size, an integer >= 1. */
  tokenLimit?: number;
  /**
   * A key's share of the global cap: at most this many of its jobs run at once (an integer >= 1);
   * its further jobs wait without holding up other keys. @default Infinity
   */
  concurrency?: number;
  /**
   * CoDel on each key's own queue (FQ-CoDel, RFC 8290): a key whose waiters' time in the queue
   * stayed >= `targetMs` for `intervalMs` has waiters dropped from the head of its queue, at
   * dequeue, with reason `overload`, on CoDel's control law; other keys' queues are not touched.
   * @default none (no CoDel)
   */
  codel?: KeyCoDelOptions;
}

/** CoDel per key: SafetyValve's `targetMs` and `intervalMs`, with the same defaults. */
export interface KeyCoDelOptions {
  /** Acceptable time in the queue, in ms, > 0 and <= `intervalMs`. @default 5 */
  targetMs?: number;
  /** How long the time in the queue must stay >= `targetMs` before drops start, in ms, > 0. @default 100 */
  intervalMs?: number;
}

/** One priority class (index 0 is the lowest). */
export interface PriorityClassOptions {
  /** Longest wait of this class's jobs, in ms (>= 0); overrides the valve's `deadlineMs`. */
  deadlineMs?: number;
}

export interface KeyedValveOptions {
  /** Names the valve in errors, `stats()` and the metrics label `valve`. @default 'keyed' */
  name?: string;
  /** Jobs in flight over all keys: an integer >= 1 or Infinity. Required. */
  concurrency: number;
  /** Jobs allowed to wait over all keys, an integer >= 0 or Infinity. Required. */
  size: number;
  /** Limits each key has of its own. @default {} */
  perKey?: PerKeyOptions;
  /**
   * Keys held at most, an integer >= 1. A new key when the table is full of live keys (running,
   * queued, recently seen or with a bucket not yet full) is refused with `overload`.
   * @default 100_000
   */
  maxKeys?: number;
  /**
   * How long after its last job arrived a key with nothing running or queued may be evicted, in
   * ms (> 0). A key is only evicted once its bucket would be full again, so eviction never
   * resets a key's rate limit early. @default 60_000
   */
  idleMs?: number;
  /** Longest wait of a queued job, in ms (>= 0), then it is refused with `deadline`. @default none */
  deadlineMs?: number;
  /**
   * Priority classes, lowest first (`run`'s `priority` is the index). With more than one class the
   * highest class with a waiter is served first, and a full queue evicts a waiter of a lower class
   * (reason `evicted`) to make room for a higher one. @default [{}] (one class)
   */
  priorities?: readonly PriorityClassOptions[];
  /** The class of a job whose call names none. @default 0 (the lowest) */
  defaultPriority?: number;
  /** @default systemClock */
  clock?: Clock;
  /** Registers the valve's series here (the safety valve's names; no `key` label). */
  metrics?: MetricsRegistry;
  /** Called for every rejected job (also the `onReject(listener)` event). */
  onReject?: (event: RejectEvent) => void;
}

/** Options of one keyed `run` call. */
export interface KeyedRunOptions {
  /** Aborting it while the job waits removes the job and rejects with `signal.reason`. */
  signal?: AbortSignal;
  /** This call's longest wait in the queue, in ms (overrides the class's and the valve's). */
  deadlineMs?: number;
  /** The job's class, an integer from 0 to `priorities.length - 1`. */
  priority?: number;
}

/** A snapshot of a keyed valve in the Valve contract's words (the unit is a job). */
export interface KeyedValveStats extends ValveStats {
  /** Keys in the table now. */
  keys: number;
  /** Keys evicted since the start (idle, bucket full). */
  evictedKeys: number;
  /**
   * Jobs CoDel dropped from their key's queue (`perKey.codel`), also counted in `rejected` and
   * `rejectedByReason.overload` (where a full key table's refusals count too).
   */
  codelDrops: number;
  /** The global cap. */
  limit: number;
  /** Always Infinity: the buckets are per key (kept for the shared gauges). */
  tokens: number;
}

/** The checked options with their defaults applied. */
export interface KeyedSettings {
  name: string;
  concurrency: number;
  size: number;
  /** Per-key tokens per ms (0 without a per-key bucket). */
  perMs: number;
  tokenLimit: number;
  keyConcurrency: number;
  /** CoDel per key (`perKey.codel`), checked, or `undefined`. */
  codel: { targetMs: number; intervalMs: number } | undefined;
  maxKeys: number;
  idleMs: number;
  deadlineMs: number | undefined;
  classDeadlines: (number | undefined)[];
  defaultPriority: number;
  clock: Clock;
  metrics: MetricsRegistry | undefined;
  onReject: ((event: RejectEvent) => void) | undefined;
}

const KNOWN = [
  'name',
  'concurrency',
  'size',
  'perKey',
  'maxKeys',
  'idleMs',
  'deadlineMs',
  'priorities',
  'defaultPriority',
  'clock',
  'metrics',
  'onReject',
];
const KNOWN_PER_KEY = ['hz', 'rate', 'tokenLimit', 'concurrency', 'codel'];

function checkKeyCoDel(codel: KeyCoDelOptions): { targetMs: number; intervalMs: number } {
  validateObject(codel, 'perKey.codel');
  rejectUnknownOptions(codel, 'perKey.codel', ['targetMs', 'intervalMs']);
  const intervalMs = codel.intervalMs ?? 100;
  const targetMs = codel.targetMs ?? 5;
  checkCoDelTimes(targetMs, intervalMs, 'perKey.codel.');
  return { targetMs, intervalMs };
}

export function checkKeyedOptions(options: KeyedValveOptions): KeyedSettings {
  validateObject(options, 'options');
  rejectUnknownOptions(options, 'options', KNOWN);
  const name = options.name === undefined ? 'keyed' : validateString(options.name, 'name', { nonEmpty: true });
  const concurrency = validateInteger(options.concurrency, 'concurrency', { min: 1, allowInfinity: true });
  const size = validateInteger(options.size, 'size', { min: 0, allowInfinity: true });
  const perKey = options.perKey ?? {};
  validateObject(perKey, 'perKey');
  rejectUnknownOptions(perKey, 'perKey', KNOWN_PER_KEY);
  const { hz, rate, tokenLimit } = perKey;
  let perMs = 0;
  let limit = Number.POSITIVE_INFINITY;
  if (hz !== undefined || rate !== undefined || tokenLimit !== undefined) {
    if (hz === undefined || rate === undefined || tokenLimit === undefined) {
      throw new TypeError(
        `perKey.hz, perKey.rate and perKey.tokenLimit go together, got hz ${hz}, rate ${rate}, tokenLimit ${tokenLimit}`,
      );
    }
    perMs = validateNumber(rate, 'perKey.rate', { above: 0 }) / validateNumber(hz, 'perKey.hz', { above: 0 });
    limit = validateInteger(tokenLimit, 'perKey.tokenLimit', { min: 1 });
  }
  const keyConcurrency =
    perKey.concurrency === undefined
      ? Number.POSITIVE_INFINITY
      : validateInteger(perKey.concurrency, 'perKey.concurrency', { min: 1, allowInfinity: true });
  const codel = perKey.codel === undefined ? undefined : checkKeyCoDel(perKey.codel);
  const maxKeys = validateInteger(options.maxKeys ?? 100_000, 'maxKeys', { min: 1 });
  const idleMs = validateNumber(options.idleMs ?? 60_000, 'idleMs', { above: 0 });
  const deadlineMs =
    options.deadlineMs === undefined ? undefined : validateNumber(options.deadlineMs, 'deadlineMs', { min: 0 });
  const priorities = options.priorities ?? [{}];
  if (!Array.isArray(priorities) || priorities.length === 0) {
    throw new TypeError(`priorities must be a non-empty array of class options, got ${String(priorities)}`);
  }
  const classDeadlines = priorities.map((c: PriorityClassOptions, i: number) => {
    validateObject(c, `priorities[${i}]`);
    rejectUnknownOptions(c, `priorities[${i}]`, ['deadlineMs']);
    return c.deadlineMs === undefined
      ? deadlineMs
      : validateNumber(c.deadlineMs, `priorities[${i}].deadlineMs`, { min: 0 });
  });
  const defaultPriority = validateInteger(options.defaultPriority ?? 0, 'defaultPriority', {
    min: 0,
    max: priorities.length - 1,
  });
  const onReject = options.onReject === undefined ? undefined : validateFunction(options.onReject, 'onReject');
  return {
    name,
    concurrency,
    size,
    perMs,
    tokenLimit: limit,
    keyConcurrency,
    codel,
    maxKeys,
    idleMs,
    deadlineMs,
    classDeadlines,
    defaultPriority,
    clock: validateClock(options.clock),
    metrics: validateMetrics(options.metrics),
    onReject: onReject as ((event: RejectEvent) => void) | undefined,
  };
}

const KNOWN_RUN = ['signal', 'deadlineMs', 'priority'];

/** Checks a call's options; returns its signal. */
export function checkKeyedRunOptions(options: KeyedRunOptions, classes: number): AbortSignal | undefined {
  validateObject(options, 'options');
  rejectUnknownOptions(options, 'options', KNOWN_RUN);
  if (options.deadlineMs !== undefined) validateNumber(options.deadlineMs, 'options.deadlineMs', { min: 0 });
  if (options.priority !== undefined) {
    validateInteger(options.priority, 'options.priority', { min: 0, max: classes - 1 });
  }
  return validateSignal(options.signal, 'options.signal');
}
