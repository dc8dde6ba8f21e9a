import {
  type ConcurrencySource,
  Emitter,
  type Limit,
  type LimitSample,
  type Permit,
  type RateSource,
} from '@valve/core';
import { type Deferred, deferred } from '@valve/testkit';

/** A Limit whose value the test sets, recording the samples it is fed. */
export class FakeLimit implements Limit {
  readonly samples: LimitSample[] = [];
  private readonly change$ = new Emitter<number>();
  readonly onChange = this.change$.event;
  constructor(private current: number) {}
  get limit(): number {
    return this.current;
  }
  set(limit: number): void {
    this.current = limit;
    this.change$.emit(limit);
  }
  onSample(sample: LimitSample): void {
    this.samples.push(sample);
  }
}

/** An asynchronous concurrency source (as a Redis semaphore would be): each acquire is a gate the test opens. */
export class FakeAsyncConcurrency implements ConcurrencySource {
  readonly async = true;
  readonly limit = 100;
  inUse = 0;
  readonly requests: { signal: AbortSignal | undefined; gate: Deferred<Permit> }[] = [];
  released = 0;
  private readonly available$ = new Emitter<void>();
  readonly onAvailable = this.available$.event;
  tryAcquire(): Permit | undefined {
    throw new Error('an async source is never asked synchronously');
  }
  acquire(signal?: AbortSignal): Promise<Permit> {
    const gate = deferred<Permit>();
    signal?.addEventListener('abort', () => gate.reject(signal.reason), { once: true });
    this.requests.push({ signal, gate });
    return gate.promise;
  }
  /** Grants the oldest request still open. */
  grant(index: number): void {
    this.inUse++;
    let done = false;
    this.requests[index]!.gate.resolve({
      release: () => {
        if (done) return;
        done = true;
        this.inUse--;
        this.released++;
      },
    });
  }
}

/** An asynchronous rate source. */
export class FakeAsyncRate implements RateSource {
  readonly async = true;
  readonly available = 0;
  readonly gates: Deferred<void>[] = [];
  private readonly available$ = new Emitter<void>();
  readonly onAvailable = this.available$.event;
  tryAcquire(): boolean {
    throw new Error('an async source is never asked synchronously');
  }
  acquire(): Promise<void> {
    const gate = deferred<void>();
    this.gates.push(gate);
    return gate.promise;
  }
  nextTokenInMs(): number {
    return 0;
  }
}
