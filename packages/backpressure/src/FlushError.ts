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
    const why = first instanceof Error ? first.message : first === undefined ? 'no error given' : String(first);
    super('ERR_VALVE_FLUSH_FAILED', `flush failed for ${items.length} item(s): ${why}`, {
      cause: options.cause ?? first,
    });
    this.items = items;
    this.errors = errors;
  }
}
