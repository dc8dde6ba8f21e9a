/**
 * Option validators shared by every valve. Each throws at construction time with a message that
 * names the option, the value received and what is allowed, e.g.
 * `maxWorkers must be an integer >= 1, got 0`.
 */

import type { Clock } from './clock/Clock.js';
import { systemClock } from './clock/systemClock.js';
import type { MetricsRegistry } from './metrics/MetricsRegistry.js';

/**
 * Renders a received value for an error message. (Not named `describe`: that would clash with the
 * test frameworks' global of the same name in any file that imports it.)
 */
export function describeValue(value: unknown): string {
  if (typeof value === 'string') return JSON.stringify(value);
  if (typeof value === 'bigint') return `${value}n`;
  if (typeof value === 'function') return `function ${value.name || '(anonymous)'}`;
  if (typeof value === 'symbol') return value.toString();
  if (Array.isArray(value)) return 'an array';
  if (value === null) return 'null';
  if (typeof value === 'object') return 'an object';
  return String(value);
}

export interface RangeOptions {
  /** Inclusive lower bound. */
  min?: number;
  /** Inclusive upper bound. */
  max?: number;
  /** Exclusive lower bound. */
  above?: number;
}

function rangeText(o: RangeOptions): string {
  const parts: string[] = [];
  if (o.above !== undefined) parts.push(`> ${o.above}`);
  if (o.min !== undefined) parts.push(`>= ${o.min}`);
  if (o.max !== undefined) parts.push(`<= ${o.max}`);
  return parts.join(' and ');
}

function checkRange(value: number, name: string, kind: string, o: RangeOptions): void {
  if (
    (o.min !== undefined && value < o.min) ||
    (o.max !== undefined && value > o.max) ||
    (o.above !== undefined && value <= o.above)
  ) {
    throw new RangeError(`${name} must be ${kind} ${rangeText(o)}, got ${describeValue(value)}`);
  }
}

/** A finite number (or `Infinity` when `allowInfinity`) within the range. */
export function validateNumber(
  value: unknown,
  name: string,
  range: RangeOptions & { allowInfinity?: boolean } = {},
): number {
  const kind = range.allowInfinity ? 'a number' : 'a finite number';
  const text = rangeText(range);
  if (typeof value !== 'number' || Number.isNaN(value)) {
    throw new TypeError(`${name} must be ${kind}${text ? ` ${text}` : ''}, got ${describeValue(value)}`);
  }
  if (!Number.isFinite(value) && !(range.allowInfinity && value === Number.POSITIVE_INFINITY)) {
    throw new RangeError(`${name} must be ${kind}${text ? ` ${text}` : ''}, got ${describeValue(value)}`);
  }
  checkRange(value, name, kind, range);
  return value;
}

/** A safe integer (or `Infinity` when `allowInfinity`) within the range. */
export function validateInteger(
  value: unknown,
  name: string,
  range: RangeOptions & { allowInfinity?: boolean } = {},
): number {
  const kind = range.allowInfinity ? 'an integer or Infinity' : 'an integer';
  const text = rangeText(range);
  if (typeof value !== 'number' || Number.isNaN(value)) {
    throw new TypeError(`${name} must be ${kind}${text ? ` ${text}` : ''}, got ${describeValue(value)}`);
  }
  const isInf = value === Number.POSITIVE_INFINITY && range.allowInfinity;
  if (!isInf && !Number.isSafeInteger(value)) {
    throw new RangeError(`${name} must be ${kind}${text ? ` ${text}` : ''}, got ${describeValue(value)}`);
  }
  checkRange(value, name, kind, range);
  return value;
}

export function validateFunction<F extends (...args: never[]) => unknown>(value: unknown, name: string): F {
  if (typeof value !== 'function') {
    throw new TypeError(`${name} must be a function, got ${describeValue(value)}`);
  }
  return value as F;
}

export function validateBoolean(value: unknown, name: string): boolean {
  if (typeof value !== 'boolean') {
    throw new TypeError(`${name} must be a boolean, got ${describeValue(value)}`);
  }
  return value;
}

export function validateString(value: unknown, name: string, opts: { nonEmpty?: boolean } = {}): string {
  if (typeof value !== 'string' || (opts.nonEmpty && value.length === 0)) {
    throw new TypeError(`${name} must be a ${opts.nonEmpty ? 'non-empty ' : ''}string, got ${describeValue(value)}`);
  }
  return value;
}

export function validateOneOf<T extends string>(value: unknown, name: string, allowed: readonly T[]): T {
  if (!allowed.includes(value as T)) {
    throw new TypeError(
      `${name} must be one of ${allowed.map((a) => JSON.stringify(a)).join(', ')}, got ${describeValue(value)}`,
    );
  }
  return value as T;
}

export function validateObject(value: unknown, name: string): Record<string, unknown> {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw new TypeError(`${name} must be an object, got ${describeValue(value)}`);
  }
  return value as Record<string, unknown>;
}

/**
 * `undefined`, a real AbortSignal, or a signal-like object (a boolean `aborted` and an
 * `addEventListener`). A real AbortSignal is accepted by `instanceof` alone: probing it by shape
 * costs a getter call and two megamorphic loads (Node gives every AbortSignal its own hidden
 * class), about a tenth of a whole `BurstValve.fetch(key, { signal })` on Node 20.
 */
export function validateSignal(value: unknown, name: string): AbortSignal | undefined {
  if (value === undefined || value instanceof AbortSignal) return value;
  if (
    typeof value !== 'object' ||
    value === null ||
    typeof (value as AbortSignal).aborted !== 'boolean' ||
    typeof (value as AbortSignal).addEventListener !== 'function'
  ) {
    throw new TypeError(`${name} must be an AbortSignal, got ${describeValue(value)}`);
  }
  return value as AbortSignal;
}

/** Throws a TypeError naming unknown keys, so typos like `maxWorker` fail loudly. */
export function rejectUnknownOptions(options: object, name: string, known: readonly string[]): void {
  for (const key of Object.keys(options)) {
    if (!known.includes(key)) {
      throw new TypeError(`${name}.${key} is not a known option; known options are ${known.join(', ')}`);
    }
  }
}

/**
 * Throws a TypeError when a constructor got more arguments than it takes, so that
 * `new PromisePool({ maxWorkers: 2 }, { timeoutMs: 5 })` fails instead of dropping the second
 * object (issue 14: no constructor silently ignores an argument). `name` is the call as the user
 * wrote it (`'new PromisePool()'`). Callers pass `arguments.length`: a rest parameter would
 * allocate and would show in the declared signature.
 */
export function rejectExtraArguments(count: number, max: number, name: string): void {
  if (count > max) {
    const takes = max === 0 ? 'no arguments' : `at most ${max} argument${max === 1 ? '' : 's'}`;
    throw new TypeError(`${name} takes ${takes}, got ${count}`);
  }
}

/**
 * The `clock` option of every valve: `undefined` gives {@link systemClock}; anything else must have
 * `now()` and `setTimeout()` (checked by shape, not `instanceof`, so a user's own clock works).
 */
export function validateClock(value: unknown, name = 'clock'): Clock {
  if (value === undefined) return systemClock;
  if (
    typeof value !== 'object' ||
    value === null ||
    typeof (value as Clock).now !== 'function' ||
    typeof (value as Clock).setTimeout !== 'function'
  ) {
    throw new TypeError(`${name} must be a Clock (an object with now() and setTimeout()), got ${describeValue(value)}`);
  }
  return value as Clock;
}

/**
 * The `metrics` option of every valve: `undefined` (no registry) or a {@link MetricsRegistry}.
 * Checked by shape rather than `instanceof`, since a process may load both the ESM and the CJS
 * build of core, and each has its own class.
 */
export function validateMetrics(value: unknown, name = 'metrics'): MetricsRegistry | undefined {
  if (value === undefined) return undefined;
  const r = value as Partial<Record<keyof MetricsRegistry, unknown>>;
  if (
    typeof value !== 'object' ||
    value === null ||
    typeof r.counter !== 'function' ||
    typeof r.gauge !== 'function' ||
    typeof r.histogram !== 'function' ||
    typeof r.remove !== 'function'
  ) {
    throw new TypeError(`${name} must be a MetricsRegistry, got ${describeValue(value)}`);
  }
  return value as MetricsRegistry;
}
