import { type Disposable, disposable } from '../events/Emitter.js';
import { rejectExtraArguments, validateFunction } from '../validate.js';

/**
 * A value that goes up and down (Prometheus `gauge`). Either set it, or give it `collect`
 * functions that are read only when the metric is exported: a queue length then costs nothing
 * on the hot path.
 *
 * Several collectors on one series are summed: two valves registered under the same `name`
 * share their series (as their counters do), so the exported queue length is theirs together,
 * never just the first valve's.
 */
export class Gauge {
  private current = 0;
  private collectors: (() => number)[] = [];

  constructor(collect?: () => number) {
    // biome-ignore lint/complexity/noArguments: counts the arguments to refuse an extra one; a rest parameter would allocate
    rejectExtraArguments(arguments.length, 1, 'new Gauge()');
    if (collect !== undefined) this.collectors.push(validateFunction(collect, 'collect'));
  }

  set(value: number): void {
    this.current = value;
  }

  inc(n = 1): void {
    this.current += n;
  }

  dec(n = 1): void {
    this.current -= n;
  }

  /** Adds a collector; dispose it when its owner goes away, so the registry does not keep it alive. */
  addCollector(collect: () => number): Disposable {
    this.collectors.push(collect);
    return disposable(() => {
      this.collectors = this.collectors.filter((c) => c !== collect);
    });
  }

  get value(): number {
    const cs = this.collectors;
    if (cs.length === 0) return this.current;
    let sum = 0;
    for (let i = 0; i < cs.length; i++) sum += cs[i]!();
    return sum;
  }
}
