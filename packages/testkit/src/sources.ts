/**
 * Permit sources that disagree with themselves, for model tests of a valve's gates (issue 14):
 * the valve must never lose or duplicate a token or a slot whatever a custom source says.
 * Structural (no import of @valve/core): they satisfy its RateSource and ConcurrencySource.
 */

type Listener = () => void;

/** A tiny event: `onAvailable(listener)` returns a disposable subscription. */
class Available {
  private listeners: Listener[] = [];
  readonly event = (listener: Listener) => {
    this.listeners = [...this.listeners, listener];
    const dispose = () => {
      this.listeners = this.listeners.filter((l) => l !== listener);
    };
    return { dispose, [Symbol.dispose]: dispose };
  };
  emit(): void {
    for (const l of this.listeners) l();
  }
}

/**
 * A concurrency source whose `tryAcquire()` refuses whenever `lying` is set, even while
 * `inUse < limit`. Counts permits granted and released (a second release of one permit is
 * ignored, as the contract says) and the most ever held at once.
 */
export class LyingConcurrency {
  inUse = 0;
  granted = 0;
  released = 0;
  maxInUse = 0;
  lying = false;
  private readonly available = new Available();
  readonly onAvailable = this.available.event;

  constructor(readonly limit: number) {}

  tryAcquire(): { release(): void } | undefined {
    if (this.lying || this.inUse >= this.limit) return undefined;
    this.inUse++;
    this.granted++;
    if (this.inUse > this.maxInUse) this.maxInUse = this.inUse;
    let done = false;
    return {
      release: () => {
        if (done) return;
        done = true;
        this.inUse--;
        this.released++;
        this.available.emit();
      },
    };
  }

  acquire(): Promise<{ release(): void }> {
    return Promise.reject(new Error('LyingConcurrency is synchronous: acquire() is never called'));
  }

  /** Stops or starts lying; telling the truth again wakes the valve. */
  setLying(lying: boolean): void {
    this.lying = lying;
    if (!lying) this.available.emit();
  }
}

/**
 * A rate source that can say yes then no: `available` reports the tokens it holds, but while
 * `flaky` is set `tryAcquire()` refuses anyway. Tokens come only from `refill(n)`; `taken` counts
 * the tokens handed out (each must start exactly one unit of work).
 */
export class FlakyRate {
  tokens: number;
  taken = 0;
  flaky = false;
  private readonly available$ = new Available();
  readonly onAvailable = this.available$.event;

  constructor(tokens: number) {
    this.tokens = tokens;
  }

  get available(): number {
    return this.tokens;
  }

  tryAcquire(): boolean {
    if (this.flaky || this.tokens < 1) return false;
    this.tokens--;
    this.taken++;
    return true;
  }

  acquire(): Promise<void> {
    return Promise.reject(new Error('FlakyRate is synchronous: acquire() is never called'));
  }

  /** No timer: tokens come from refill(), so the valve waits for onAvailable. */
  nextTokenInMs(): number {
    return Number.POSITIVE_INFINITY;
  }

  refill(n: number): void {
    this.tokens += n;
    this.available$.emit();
  }

  setFlaky(flaky: boolean): void {
    this.flaky = flaky;
    if (!flaky) this.available$.emit();
  }
}
