/**
 * The load generator's scenarios: the same as `bench/load` (hot customer, Zipf mix, overload,
 * events), each with the route that goes through the valve and its baseline without it, so a
 * visitor can run one after the other and watch the difference.
 */

export interface Scenario {
  readonly name: ScenarioName;
  readonly label: string;
  /** What the page shows about it. */
  readonly description: string;
  readonly method: 'GET' | 'POST';
  /** A rate that shows the scenario on a 2-core machine (generator, server and PGlite share it), req/s. */
  readonly defaultRate: number;
  /** Builds the per-run request source (a fresh seeded sampler each run). */
  paths(customers: number): () => string;
  readonly body?: string;
}

export const SCENARIO_NAMES = [
  'hot',
  'hot-direct',
  'zipf',
  'zipf-direct',
  'overload',
  'overload-unprotected',
  'events',
  'events-direct',
] as const;
export type ScenarioName = (typeof SCENARIO_NAMES)[number];

/** The bench's hot id; smaller seeds use their last id. */
const HOT_ID = 4242;
/** The bench's Zipf exponent. */
const ZIPF_S = 1.1;
/** The Zipf table is O(n) floats: cap it (a 10M-row seed would need 80 MB). */
const ZIPF_MAX_IDS = 100_000;

export function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Zipf-distributed ids 1..n (P(k) ∝ 1/k^s), seeded: the same sampler as bench/load/zipf.ts. */
export function zipfSampler(n: number, s: number, seed: number): () => number {
  const cdf = new Float64Array(n);
  let sum = 0;
  for (let k = 1; k <= n; k++) {
    sum += 1 / k ** s;
    cdf[k - 1] = sum;
  }
  for (let i = 0; i < n; i++) cdf[i]! /= sum;
  const random = mulberry32(seed);
  return () => {
    const u = random();
    let lo = 0;
    let hi = n - 1;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (cdf[mid]! < u) lo = mid + 1;
      else hi = mid;
    }
    return lo + 1;
  };
}

const hot = (base: string) => (customers: number) => {
  const path = `${base}/${Math.min(HOT_ID, customers)}`;
  return () => path;
};
const zipf = (base: string, seed: number) => (customers: number) => {
  const next = zipfSampler(Math.min(customers, ZIPF_MAX_IDS), ZIPF_S, seed);
  return () => `${base}/${next()}`;
};
const fixed = (path: string) => () => () => path;
const EVENT_BODY = JSON.stringify({ type: 'dashboard.load', payload: { page: '/pricing', ms: 42 } });

export const SCENARIOS: Readonly<Record<ScenarioName, Scenario>> = {
  hot: {
    name: 'hot',
    label: 'Hot customer, with BurstValve',
    description: 'Every request asks for the same customer; concurrent requests share one query.',
    method: 'GET',
    defaultRate: 300,
    paths: hot('/customers'),
  },
  'hot-direct': {
    name: 'hot-direct',
    label: 'Hot customer, direct (baseline)',
    description: 'Every request asks for the same customer; one query per request.',
    method: 'GET',
    defaultRate: 300,
    paths: hot('/direct/customers'),
  },
  zipf: {
    name: 'zipf',
    label: 'Zipf mix, with BurstValve',
    description: `Customer ids drawn from a Zipf law (s = ${ZIPF_S}): a few hot ids, a long tail.`,
    method: 'GET',
    defaultRate: 300,
    paths: zipf('/customers', 7),
  },
  'zipf-direct': {
    name: 'zipf-direct',
    label: 'Zipf mix, direct (baseline)',
    description: `Customer ids drawn from a Zipf law (s = ${ZIPF_S}), one query per request.`,
    method: 'GET',
    defaultRate: 300,
    paths: zipf('/direct/customers', 7),
  },
  overload: {
    name: 'overload',
    label: 'Overload, behind the SafetyValve',
    description:
      'More segment reports (a costly scan each) than the database serves; the SafetyValve sheds the excess with 503s.',
    method: 'GET',
    defaultRate: 1500,
    paths: zipf('/reports/customers', 11),
  },
  'overload-unprotected': {
    name: 'overload-unprotected',
    label: 'Overload, unprotected (baseline)',
    description: 'More segment reports than the database serves, with no admission control: queues grow.',
    method: 'GET',
    defaultRate: 1500,
    paths: zipf('/unprotected/reports/customers', 11),
  },
  events: {
    name: 'events',
    label: 'Events, through the BackpressureController',
    description: 'POST /events: buffered, inserted in batches.',
    method: 'POST',
    defaultRate: 500,
    paths: fixed('/events'),
    body: EVENT_BODY,
  },
  'events-direct': {
    name: 'events-direct',
    label: 'Events, one INSERT per request (baseline)',
    description: 'POST /direct/events: one INSERT per request.',
    method: 'POST',
    defaultRate: 500,
    paths: fixed('/direct/events'),
    body: EVENT_BODY,
  },
};

export function isScenarioName(v: unknown): v is ScenarioName {
  return typeof v === 'string' && (SCENARIO_NAMES as readonly string[]).includes(v);
}
