/**
 * A value that goes up and down (Prometheus `gauge`). Either set it, or give it a `collect`
 * function that is read only when the metric is exported: a queue length then costs nothing
 * on the hot path.
 */
export class Gauge {
  private current = 0;

  constructor(private readonly collect?: () => number) {}

  set(value: number): void {
    this.current = value;
  }

  inc(n = 1): void {
    this.current += n;
  }

  dec(n = 1): void {
    this.current -= n;
  }

  get value(): number {
    return this.collect ? this.collect() : this.current;
  }
}
