import type { Event } from '../events/Emitter.js';

/** One finished piece of work, as seen by an adaptive concurrency {@link Limit}. */
export interface LimitSample {
  /** How long the work ran, in ms (from the valve's clock). */
  rttMs: number;
  /** How many pieces of work were in flight when this one started (itself included). */
  inflight: number;
  /** True when the work failed in a way that signals overload (timeout, rejection, error). */
  dropped: boolean;
}

/**
 * An adaptive concurrency limit in the style of Netflix's concurrency-limits: it watches the
 * latency of finished work and moves the allowed concurrency up while latency stays flat and
 * down when it grows or work fails. Implementations: `AimdLimit`, `Gradient2Limit`, `VegasLimit`.
 */
export interface Limit {
  /** The concurrency currently allowed (an integer >= 1). */
  readonly limit: number;
  /** Feed one finished piece of work. */
  onSample(sample: LimitSample): void;
  /** Fires with the new limit whenever it changes. */
  readonly onChange: Event<number>;
}

/** True for an object that looks like a {@link Limit}. */
export function isLimit(value: unknown): value is Limit {
  return (
    typeof value === 'object' &&
    value !== null &&
    typeof (value as Limit).onSample === 'function' &&
    typeof (value as Limit).limit === 'number' &&
    typeof (value as Limit).onChange === 'function'
  );
}
