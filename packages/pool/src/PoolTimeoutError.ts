import { TimeoutError } from '@valve/core';
import type { PoolSummary } from './options.js';

/**
 * A waiting `drain()`/`done()` gave up: the cycle's `runtimeLimitMs` passed (reason
 * `deadline`), or tasks were running and none settled for `idleTimeoutMs` (reason `timeout`).
 * Code `ERR_VALVE_TIMEOUT`; `summary` reports what finished and what did not.
 */
export class PoolTimeoutError extends TimeoutError {
  readonly summary: PoolSummary;
  constructor(message: string, reason: 'deadline' | 'timeout', summary: PoolSummary) {
    super(message, { reason });
    this.summary = summary;
  }
}
