/**
 * Typed errors shared by every valve. Match them by `code` (or with {@link isValveError}), not
 * by `instanceof`: a process that loads both the ESM and the CJS build of a package has two
 * copies of each class.
 */

/** Why a valve refused, dropped or gave up on a piece of work. One union for every package. */
export type Reason =
  | 'queue_full'
  | 'overload'
  | 'deadline'
  | 'timeout'
  | 'shutdown'
  | 'rate_limited'
  | 'evicted'
  | 'sampled';

export const REASONS: readonly Reason[] = Object.freeze([
  'queue_full',
  'overload',
  'deadline',
  'timeout',
  'shutdown',
  'rate_limited',
  'evicted',
  'sampled',
]);

export type ValveErrorCode =
  | 'ERR_VALVE_CLOSED'
  | 'ERR_VALVE_QUEUE_FULL'
  | 'ERR_VALVE_TIMEOUT'
  | 'ERR_VALVE_DROPPED'
  | (string & {});

const BRAND = Symbol.for('@valve/core.ValveError');

export interface ValveErrorOptions {
  reason?: Reason;
  cause?: unknown;
}

export class ValveError extends Error {
  readonly code: ValveErrorCode;
  /** Set when the error stands for a refusal or a drop. */
  readonly reason: Reason | undefined;

  constructor(code: ValveErrorCode, message: string, options: ValveErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.code = code;
    this.reason = options.reason;
    Object.defineProperty(this, BRAND, { value: true });
  }

  override get name(): string {
    return this.constructor.name;
  }
}

/** The valve is closed (reason `shutdown`). */
export class ClosedError extends ValveError {
  constructor(message = 'the valve is closed', options: { cause?: unknown } = {}) {
    super('ERR_VALVE_CLOSED', message, { reason: 'shutdown', cause: options.cause });
  }
}

/** A bounded queue was full (reason `queue_full`). */
export class QueueFullError extends ValveError {
  constructor(message = 'the queue is full', options: { cause?: unknown } = {}) {
    super('ERR_VALVE_QUEUE_FULL', message, { reason: 'queue_full', cause: options.cause });
  }
}

/** A time limit ran out (reason `timeout`, or `deadline` for time spent waiting in a queue). */
export class TimeoutError extends ValveError {
  constructor(message = 'the operation timed out', options: { reason?: 'timeout' | 'deadline'; cause?: unknown } = {}) {
    super('ERR_VALVE_TIMEOUT', message, { reason: options.reason ?? 'timeout', cause: options.cause });
  }
}

/** Work was dropped by a policy: overload, rate limit, eviction or sampling. */
export class DroppedError extends ValveError {
  declare readonly reason: Reason;
  constructor(reason: Reason, message = `dropped (${reason})`, options: { cause?: unknown } = {}) {
    super('ERR_VALVE_DROPPED', message, { reason, cause: options.cause });
  }
}

/** The one place a {@link Reason} becomes an error class and code. */
export function errorForReason(reason: Reason, message?: string, options: { cause?: unknown } = {}): ValveError {
  switch (reason) {
    case 'queue_full':
      return new QueueFullError(message, options);
    case 'shutdown':
      return new ClosedError(message, options);
    case 'timeout':
    case 'deadline':
      return new TimeoutError(message, { reason, cause: options.cause });
    default:
      return new DroppedError(reason, message, options);
  }
}

/** True for any valve error (from either module format), optionally with the given code. */
export function isValveError(error: unknown, code?: ValveErrorCode): error is ValveError {
  return (
    typeof error === 'object' &&
    error !== null &&
    (error as Record<symbol, unknown>)[BRAND] === true &&
    (code === undefined || (error as ValveError).code === code)
  );
}

/** The abort reason of a signal, as Node's own APIs reject with it. */
export function abortReason(signal: AbortSignal): unknown {
  return signal.reason ?? new DOMException('This operation was aborted', 'AbortError');
}
