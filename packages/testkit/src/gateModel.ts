import fc from 'fast-check';
import { FlakyRate, LyingConcurrency } from './sources.js';
import { flush } from './index.js';

/**
 * A model test of a valve's two gates (issue 14): random offers, completions, aborts, refills and
 * sources that disagree (a concurrency source refusing while `inUse < limit`, a rate source saying
 * yes then no), then close. The reference model is just conservation: every token taken starts
 * exactly one unit, every permit granted is released once, no more than `limit` run at once,
 * every offered unit settles exactly once, and each started unit ran once.
 */
export type GateOp =
  | { kind: 'offer'; abortable: boolean }
  | { kind: 'complete'; pick: number; fail: boolean }
  | { kind: 'abort'; pick: number }
  | { kind: 'refill'; n: number }
  | { kind: 'lie'; on: boolean }
  | { kind: 'flaky'; on: boolean };

// size 'max': with the default size a run never had more than 10 of the 60 operations (average ~5).
export const gateOps: fc.Arbitrary<GateOp[]> = fc.array(
  fc.oneof(
    { weight: 5, arbitrary: fc.record({ kind: fc.constant('offer' as const), abortable: fc.boolean() }) },
    {
      weight: 4,
      arbitrary: fc.record({ kind: fc.constant('complete' as const), pick: fc.nat(), fail: fc.boolean() }),
    },
    { weight: 1, arbitrary: fc.record({ kind: fc.constant('abort' as const), pick: fc.nat() }) },
    { weight: 2, arbitrary: fc.record({ kind: fc.constant('refill' as const), n: fc.integer({ min: 1, max: 3 }) }) },
    { weight: 1, arbitrary: fc.record({ kind: fc.constant('lie' as const), on: fc.boolean() }) },
    { weight: 1, arbitrary: fc.record({ kind: fc.constant('flaky' as const), on: fc.boolean() }) },
  ),
  { maxLength: 60, size: 'max' },
);

/** What the model needs from a valve under test. */
export interface GateValve {
  /** Offers a unit of work (never refused for queue size); the promise settles with its outcome. */
  offer(fn: () => Promise<unknown>, signal: AbortSignal | undefined): Promise<unknown>;
  /** Work queued now. */
  queued(): number;
}

export interface GateResult {
  offered: number;
  settled: number;
  settledTwice: number;
  started: number;
  tokensTaken: number;
  granted: number;
  released: number;
  maxInUse: number;
  limit: number;
}

/**
 * Runs `ops` against a valve built by `make(conc, rate)`, then ends everything: the sources tell
 * the truth, enough tokens arrive, every running unit completes; returns the counts to check.
 */
export async function runGateModel(
  ops: GateOp[],
  limit: number,
  make: (conc: LyingConcurrency, rate: FlakyRate) => GateValve,
): Promise<GateResult> {
  const conc = new LyingConcurrency(limit);
  const rate = new FlakyRate(1);
  const valve = make(conc, rate);
  const running: { resolve: () => void; reject: (e: unknown) => void }[] = [];
  const waiting: AbortController[] = [];
  const settleCounts: number[] = [];
  let started = 0;
  const offer = (abortable: boolean): void => {
    const id = settleCounts.length;
    settleCounts.push(0);
    const ac = abortable ? new AbortController() : undefined;
    if (ac !== undefined) waiting.push(ac);
    const fn = () =>
      new Promise<unknown>((resolve, reject) => {
        started++;
        running.push({ resolve: () => resolve(id), reject });
      });
    valve.offer(fn, ac?.signal).then(
      () => settleCounts[id]!++,
      () => settleCounts[id]!++,
    );
  };
  for (const op of ops) {
    switch (op.kind) {
      case 'offer':
        offer(op.abortable);
        break;
      case 'complete': {
        if (running.length === 0) break;
        const [r] = running.splice(op.pick % running.length, 1);
        if (op.fail) r!.reject(new Error('failed'));
        else r!.resolve();
        break;
      }
      case 'abort':
        if (waiting.length > 0) waiting.splice(op.pick % waiting.length, 1)[0]!.abort();
        break;
      case 'refill':
        rate.refill(op.n);
        break;
      case 'lie':
        conc.setLying(op.on);
        break;
      case 'flaky':
        rate.setFlaky(op.on);
        break;
    }
    await flush();
  }
  // The end: truthful sources, tokens for everyone, every unit completes.
  conc.setLying(false);
  rate.setFlaky(false);
  for (let guard = 0; guard < 10_000 && (running.length > 0 || valve.queued() > 0); guard++) {
    rate.refill(1);
    while (running.length > 0) running.shift()!.resolve();
    await flush();
  }
  await flush();
  return {
    offered: settleCounts.length,
    settled: settleCounts.filter((n) => n >= 1).length,
    settledTwice: settleCounts.filter((n) => n > 1).length,
    started,
    tokensTaken: rate.taken,
    granted: conc.granted,
    released: conc.released,
    maxInUse: conc.maxInUse,
    limit,
  };
}
