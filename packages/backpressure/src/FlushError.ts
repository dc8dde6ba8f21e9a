import { ValveError } from '@valve/core';

/**
 * A batch (or the failed part of one) that could not be written after every retry. It carries
 * the items, so `onDeadLetter` can park them somewhere: nothing vanishes with a log line, as it
 * did in the seed. Match it with `isValveError(e, 'ERR_VALVE_FLUSH_FAILED')`.
 */
export class FlushError<T = unknown> extends ValveError {
  /** The items that were not written. */
  readonly items: readonly T[];
  /** The errors the flush reported (`FlushResult.errors`) or threw, last attempt. */
  readonly errors: readonly unknown[];

  constructor(items: readonly T[], errors: readonly unknown[], options: { cause?: unknown } = {}) {
    const first = errors[0];
    super('ERR_VALVE_FLUSH_FAILED', `flush failed for ${items.length} item(s): ${describe(first)}`, {
      cause: options.cause ?? first,
    });
    this.items = items;
    this.errors = errors;
  }
}

/**
 * The message of whatever a flush threw, never throwing itself: a value whose `message` getter or
 * `toString` throws (a stack overflow in a serializer, a revoked Proxy) must still become a
 * dead letter. Issue 18: a throw here escaped `BatchFlusher.run` as an unhandled rejection and
 * left the batch in flight for good.
 */
function describe(error: unknown): string {
  try {
    if (error === undefined) return 'no error given';
    return error instanceof Error ? String(error.message) : String(error);
  } catch (thrown) {
    let why = 'unknown';
    try {
      why = thrown instanceof Error ? thrown.name : typeof thrown;
    } catch {}
    return `an error that could not be described (converting it to text threw ${why})`;
  }
}
