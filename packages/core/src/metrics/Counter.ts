import { rejectExtraArguments } from '../validate.js';

/** A monotonically increasing count (Prometheus `counter`; name it `…_total`). */
export class Counter {
  private current = 0;

  constructor() {
    // biome-ignore lint/complexity/noArguments: counts the arguments to refuse an extra one; a rest parameter would allocate
    rejectExtraArguments(arguments.length, 0, 'new Counter()');
  }

  inc(n = 1): void {
    // A counter that goes down breaks every rate() over it; refuse instead of corrupting.
    if (!(n >= 0)) throw new RangeError(`Counter.inc(n) needs n >= 0, got ${n}`);
    this.current += n;
  }

  get value(): number {
    return this.current;
  }

  /** For tests and for valves that are reset as a whole. */
  reset(): void {
    this.current = 0;
  }
}
