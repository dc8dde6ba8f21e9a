import { describeValue, rejectUnknownOptions, validateInteger, validateObject } from '../validate.js';

/** The guard rails every adaptive limit shares, validated once here. */
export interface LimitBounds {
  initialLimit: number;
  minLimit: number;
  maxLimit: number;
}

/**
 * Validates `options` (which may be omitted) against `known` keys and resolves the bounds.
 * `initialLimit` defaults to `defaults.initialLimit` clamped into [minLimit, maxLimit], so
 * `{ maxLimit: 10 }` works without also lowering initialLimit; an explicit initialLimit outside
 * the bounds is a mistake and throws.
 */
export function resolveLimitBounds(
  options: object | undefined,
  className: string,
  known: readonly string[],
  defaults: LimitBounds,
): Record<string, unknown> & Partial<LimitBounds> & { bounds: LimitBounds } {
  const o = options === undefined ? {} : validateObject(options, `${className} options`);
  rejectUnknownOptions(o, 'options', known);
  const minLimit = validateInteger(o.minLimit ?? defaults.minLimit, 'minLimit', { min: 1 });
  const maxLimit = validateInteger(o.maxLimit ?? defaults.maxLimit, 'maxLimit', { min: minLimit, allowInfinity: true });
  const initialLimit =
    o.initialLimit === undefined
      ? Math.min(maxLimit, Math.max(minLimit, defaults.initialLimit))
      : validateInteger(o.initialLimit, 'initialLimit', { min: minLimit, max: maxLimit });
  return { ...o, bounds: { initialLimit, minLimit, maxLimit } };
}

/** Clamps an estimate into the bounds. */
export function clampLimit(value: number, bounds: LimitBounds): number {
  return Math.min(bounds.maxLimit, Math.max(bounds.minLimit, value));
}

/** A finite number in [min, below): the validators have no exclusive upper bound. */
export function validateHalfOpen(value: unknown, name: string, min: number, below: number): number {
  const text = `${name} must be a finite number >= ${min} and < ${below}, got ${describeValue(value)}`;
  if (typeof value !== 'number' || Number.isNaN(value)) throw new TypeError(text);
  if (!Number.isFinite(value) || value < min || value >= below) throw new RangeError(text);
  return value;
}
