import { type ManualClock, isValveError } from '@valve/core';

/** A seeded PRNG (mulberry32), so a simulation is the same on every run. */
export function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export interface Arrival {
  at: number;
  key: string;
  priority: number;
}

/** Poisson arrivals of one key at `perSecond` for `durationMs`. */
export function poisson(
  rand: () => number,
  key: string,
  perSecond: number,
  durationMs: number,
  priority = 0,
): Arrival[] {
  const out: Arrival[] = [];
  const meanGap = 1000 / perSecond;
  for (let t = -Math.log(1 - rand()) * meanGap; t < durationMs; t += -Math.log(1 - rand()) * meanGap) {
    out.push({ at: t, key, priority });
  }
  return out;
}

/**
 * Seeded Poisson arrivals of `lightKeys` keys at `lightPerSecond` each and, when `heavyPerSecond`
 * is above 0, of the key `heavy` at that rate, in time order.
 */
export function lightAndHeavy(
  lightKeys: readonly string[],
  lightPerSecond: number,
  heavyPerSecond: number,
  durationMs: number,
  seed: number,
): Arrival[] {
  const rand = prng(seed);
  const all = lightKeys.flatMap((k) => poisson(rand, k, lightPerSecond, durationMs));
  if (heavyPerSecond > 0) all.push(...poisson(rand, 'heavy', heavyPerSecond, durationMs));
  return all.sort((a, b) => a.at - b.at);
}

export interface Outcome {
  arrival: Arrival;
  /** Time from arrival to start (started jobs only). */
  waitMs?: number;
  /** Time from arrival to the end of the job (completed jobs only). */
  doneMs?: number;
  reason?: string;
}

/**
 * Offers every arrival at its time on the ManualClock through `run`, each job taking `serviceMs`
 * of clock time, and returns one outcome per arrival (checked: each settles exactly once).
 */
export async function simulate(
  clock: ManualClock,
  arrivals: Arrival[],
  serviceMs: number,
  run: (a: Arrival, fn: () => Promise<void>) => Promise<unknown>,
): Promise<Outcome[]> {
  const outcomes: Outcome[] = arrivals.map((arrival) => ({ arrival }));
  let settled = 0;
  const t0 = clock.now();
  arrivals.forEach((a, i) => {
    clock.setTimeout(
      () => {
        const o = outcomes[i]!;
        const at = clock.now();
        const fn = () => {
          o.waitMs = clock.now() - at;
          return new Promise<void>((resolve) => clock.setTimeout(resolve, serviceMs));
        };
        run(a, fn).then(
          () => {
            if (o.doneMs !== undefined || o.reason !== undefined) throw new Error('settled twice');
            o.doneMs = clock.now() - at;
            settled++;
          },
          (e: unknown) => {
            if (o.doneMs !== undefined || o.reason !== undefined) throw new Error('settled twice');
            o.reason = isValveError(e) ? e.reason : String(e);
            settled++;
          },
        );
      },
      t0 + a.at - clock.now(),
    );
  });
  await clock.runAllAsync(10_000_000);
  if (settled !== arrivals.length) throw new Error(`${arrivals.length - settled} jobs never settled`);
  return outcomes;
}

/** The p-th percentile (nearest rank) of xs; 0 for none. */
export function percentile(xs: number[], p: number): number {
  if (xs.length === 0) return 0;
  const sorted = [...xs].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)]!;
}

export function waits(outcomes: Outcome[], keep: (a: Arrival) => boolean): number[] {
  const out: number[] = [];
  for (const o of outcomes) if (keep(o.arrival) && o.waitMs !== undefined) out.push(o.waitMs);
  return out;
}
