/**
 * The hot-customer target, restated from the Express ceiling measured in the same run.
 *
 * The comparison: every request asks for the same id, directly (one query each) and through a
 * BurstValve (concurrent requests share one query). The original target, the BurstValve route at
 * >= 1.9x the direct route's throughput, needs the direct route to run at most about half the
 * HTTP server's own ceiling. On the 2-core machine it often does not: in the three `--quick` runs
 * of 2026-12-04 the direct route served 4,000-8,400 req/s against an Express ceiling
 * (`GET /healthz`, measured in the same runs) of 10,200-12,200, while the BurstValve route served
 * 7,900-13,200 (at the ceiling; PGlite's 0.69-1.01x of it), so the ratio was bounded by
 * ceiling / direct (1.4-2.0x) and met in 2 of 9 runs: a limit of Express on this machine, not of
 * the valve or the database.
 *
 * Restated: met when the ratio is >= 1.9x, or when the BurstValve route reaches at least
 * {@link HOT_CEILING_SHARE} of the ceiling measured in the same run *and* at least
 * {@link HOT_MIN_COALESCED} of its calls in the measured runs were coalesced onto another call's
 * fetch (read from the valve's own counters). Why these numbers:
 *
 * - 85% of the ceiling: in every committed results file (2026-11-23 full and quick, 2026-12-04
 *   quick) the direct route ran at 0.45-0.70x of the ceiling and the BurstValve route at
 *   1.03-1.64x, with one exception (PGlite 2026-12-04: 0.69x, while the BurstValve + SafetyValve
 *   route in the same run reached 0.86x; single 3 s runs vary by up to 20%). 0.85 sits 15 points
 *   above the fastest direct route, so a route that runs a query per request does not reach it.
 * - 90% coalesced: the hot routes coalesced 98.7-99.0% in those runs; with coalescing broken the
 *   share is 0 and the route is the direct route again. This guard keeps the rule honest even in
 *   a run whose ceiling measurement came out low (it did by up to 40% on 2026-11-23).
 */

/** The original target: the BurstValve route's throughput over the direct route's. */
export const HOT_RATIO_TARGET = 1.9;
/** The restated target: the BurstValve route's throughput over the Express ceiling of the run. */
export const HOT_CEILING_SHARE = 0.85;
/** ...with at least this share of its calls coalesced (no fetch of their own). */
export const HOT_MIN_COALESCED = 0.9;

export const HOT_TARGET_TEXT =
  `>= ${HOT_RATIO_TARGET}x, or the BurstValve route >= ${Math.round(100 * HOT_CEILING_SHARE)}% of the Express ` +
  `ceiling of this run with >= ${Math.round(100 * HOT_MIN_COALESCED)}% of its calls coalesced`;

export interface HotCustomerInput {
  /** BurstValve route / direct route (medians of ok/s). */
  ratio: number;
  /** The BurstValve route's median ok/s. */
  burstOkPerSec: number;
  /** The Express ceiling (`GET /healthz`, median ok/s) measured in the same run. */
  ceiling: number;
  /**
   * Coalesced calls / calls of the BurstValve route's valve over the measured runs, or undefined
   * when its counters could not be read (then only the ratio can meet the target).
   */
  coalescedShare: number | undefined;
}

export interface Verdict {
  met: boolean;
  /** Why, in one sentence for the results file. */
  why: string;
}

const pct = (x: number) => `${(100 * x).toFixed(1)}%`;

export function hotCustomerVerdict(input: HotCustomerInput): Verdict {
  const { ratio, burstOkPerSec, ceiling, coalescedShare } = input;
  const share = ceiling > 0 && Number.isFinite(ceiling) ? burstOkPerSec / ceiling : Number.NaN;
  const facts =
    `the BurstValve route ran at ${Number.isFinite(share) ? `${share.toFixed(2)}x` : 'an unknown share'} of the ` +
    `Express ceiling, ${coalescedShare === undefined ? 'coalesced share unknown (counters not read)' : `${pct(coalescedShare)} of its calls coalesced`}`;
  if (ratio >= HOT_RATIO_TARGET) {
    return { met: true, why: `Met by the ratio (${ratio.toFixed(2)}x >= ${HOT_RATIO_TARGET}x); ${facts}.` };
  }
  const atCeiling = share >= HOT_CEILING_SHARE;
  const coalesced = coalescedShare !== undefined && coalescedShare >= HOT_MIN_COALESCED;
  if (atCeiling && coalesced) {
    return {
      met: true,
      why:
        `Met by the ceiling rule: the ratio is ${ratio.toFixed(2)}x (< ${HOT_RATIO_TARGET}x) because ${facts} ` +
        `(>= ${HOT_CEILING_SHARE}x and >= ${pct(HOT_MIN_COALESCED)}): the route is bounded by Express, not by the database.`,
    };
  }
  const missing = [
    ...(atCeiling ? [] : [`below ${HOT_CEILING_SHARE}x of the ceiling`]),
    ...(coalesced ? [] : [`fewer than ${pct(HOT_MIN_COALESCED)} coalesced or unknown`]),
  ];
  return {
    met: false,
    why: `Not met: the ratio is ${ratio.toFixed(2)}x (< ${HOT_RATIO_TARGET}x) and ${facts} (${missing.join('; ')}).`,
  };
}

/** Why the target is restated, for the results file (next to the verdict). */
export const HOT_TARGET_WHY =
  `Why the target is restated: the BurstValve route can serve at most what Express serves (\`GET /healthz\`, the ` +
  `ceiling measured in this run), so the ratio can reach at most ceiling / direct route. On this 2-core machine the ` +
  `direct route has run at 0.45-0.70x of the ceiling, which caps the ratio at 1.4-2.2x whatever the valve does. ` +
  `When the ratio falls short of ${HOT_RATIO_TARGET}x, the target is met only if the BurstValve route runs at ` +
  `>= ${Math.round(100 * HOT_CEILING_SHARE)}% of that ceiling (above any direct route measured) and ` +
  `>= ${Math.round(100 * HOT_MIN_COALESCED)}% of its calls in the measured runs were coalesced (with coalescing ` +
  `broken the share is 0 and the route runs at the direct route's rate): it is then bounded by Express, not by the database.`;

/** A BurstValve's counters (its /metrics series), or their growth over some runs. */
export interface BurstCounters {
  /** Fetcher runs (calls that ran their own fetch). */
  fetches: number;
  /** Calls that joined a fetch already in flight. */
  coalesced: number;
  /** Calls answered from a just-finished fetch (linger window). */
  linger: number;
}

/** Coalesced calls / all calls (fetches + coalesced + linger hits); undefined when there were no calls. */
export function coalescedShareOf(counters: BurstCounters | undefined): number | undefined {
  if (counters === undefined) return undefined;
  const calls = counters.fetches + counters.coalesced + counters.linger;
  return calls > 0 ? counters.coalesced / calls : undefined;
}
