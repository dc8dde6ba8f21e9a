/**
 * The workloads, defined once for the dashboard's load generator and bench/load (hot customer,
 * Zipf mix, overload, events): the ids, the Zipf exponent, the sampler seeds and the routes. The
 * dashboard's scenarios pair each route that goes through a valve with its baseline without it,
 * so a visitor can run one after the other and watch the difference.
 */
import { zipfSampler } from './random.js';

export interface Scenario {
  readonly name: ScenarioName;
  readonly label: string;
  /** What the page shows about it. */
  readonly description: string;
  readonly method: 'GET' | 'POST';
  /** A rate that shows the scenario on a 2-core machine (generator, server and PGlite share it), req/s. */
  readonly defaultRate: number;
  /**
   * The database latency (ms each statement holds a connection) the page sets with this
   * scenario: enough that the valve has work at `defaultRate` (see LatencyDatabase).
   */
  readonly defaultDbLatencyMs: number;
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

/** Rows the demo seeds by default (`SEED_CUSTOMERS`), and the id range bench/load draws from. */
export const CUSTOMERS = 10_000;
/** The hot-customer scenarios' id; smaller seeds use their last id. */
export const HOT_ID = 4242;
/** The Zipf mix's exponent: a few hot ids, a long tail. */
export const ZIPF_S = 1.1;
/** The Zipf table is O(n) floats: cap it (a 10M-row seed would need 80 MB). */
const ZIPF_MAX_IDS = 100_000;
/** Seeds of the samplers, per workload: the dashboard and bench/load offer the same sequences. */
export const SEEDS = { zipf: 7, overload: 11, overloadProbe: 13 } as const;

/** The demo's routes the generators call (bench/load adds `/unprotected` and `/cached` variants). */
export const ROUTES = {
  customers: '/customers',
  directCustomers: '/direct/customers',
  reports: '/reports/customers',
  unprotectedReports: '/unprotected/reports/customers',
  events: '/events',
  directEvents: '/direct/events',
} as const;

const hot = (base: string) => (customers: number) => {
  const path = `${base}/${Math.min(HOT_ID, customers)}`;
  return () => path;
};
const zipf = (base: string, seed: number) => (customers: number) => {
  const next = zipfSampler(Math.min(customers, ZIPF_MAX_IDS), ZIPF_S, seed);
  return () => `${base}/${next()}`;
};
const fixed = (path: string) => () => () => path;
/** Events per POST of the events scenarios (bench/load's batch size too): the generator's rates outrun the slowed inserts. */
export const EVENTS_PER_POST = 50;
const EVENT_BODY = JSON.stringify(
  Array.from({ length: EVENTS_PER_POST }, (_, i) => ({ type: 'dashboard.load', payload: { page: '/pricing', i } })),
);

export const SCENARIOS: Readonly<Record<ScenarioName, Scenario>> = {
  hot: {
    name: 'hot',
    label: 'Hot customer, with BurstValve',
    description: 'Every request asks for the same customer; concurrent requests share one query.',
    method: 'GET',
    defaultRate: 300,
    defaultDbLatencyMs: 100,
    paths: hot(ROUTES.customers),
  },
  'hot-direct': {
    name: 'hot-direct',
    label: 'Hot customer, direct (baseline)',
    description: 'Every request asks for the same customer; one query per request.',
    method: 'GET',
    defaultRate: 300,
    defaultDbLatencyMs: 100,
    paths: hot(ROUTES.directCustomers),
  },
  zipf: {
    name: 'zipf',
    label: 'Zipf mix, with BurstValve',
    description: `Customer ids drawn from a Zipf law (s = ${ZIPF_S}): a few hot ids, a long tail.`,
    method: 'GET',
    defaultRate: 300,
    defaultDbLatencyMs: 20,
    paths: zipf(ROUTES.customers, SEEDS.zipf),
  },
  'zipf-direct': {
    name: 'zipf-direct',
    label: 'Zipf mix, direct (baseline)',
    description: `Customer ids drawn from a Zipf law (s = ${ZIPF_S}), one query per request.`,
    method: 'GET',
    defaultRate: 300,
    defaultDbLatencyMs: 20,
    paths: zipf(ROUTES.directCustomers, SEEDS.zipf),
  },
  overload: {
    name: 'overload',
    label: 'Overload, behind the SafetyValve',
    description:
      'More segment reports (a costly scan each) than the database serves; the SafetyValve sheds the excess with 503s.',
    method: 'GET',
    defaultRate: 100,
    defaultDbLatencyMs: 50,
    paths: zipf(ROUTES.reports, SEEDS.overload),
  },
  'overload-unprotected': {
    name: 'overload-unprotected',
    label: 'Overload, unprotected (baseline)',
    description: 'More segment reports than the database serves, with no admission control: queues grow.',
    method: 'GET',
    defaultRate: 100,
    defaultDbLatencyMs: 50,
    paths: zipf(ROUTES.unprotectedReports, SEEDS.overload),
  },
  events: {
    name: 'events',
    label: 'Events, through the BackpressureController',
    description: `POST /events with ${EVENTS_PER_POST} events each: buffered, inserted in batches; a full buffer refuses (503).`,
    method: 'POST',
    defaultRate: 100,
    defaultDbLatencyMs: 250,
    paths: fixed(ROUTES.events),
    body: EVENT_BODY,
  },
  'events-direct': {
    name: 'events-direct',
    label: 'Events, one INSERT per event (baseline)',
    description: `POST /direct/events with ${EVENTS_PER_POST} events each: one INSERT per event, nothing buffered.`,
    method: 'POST',
    defaultRate: 100,
    defaultDbLatencyMs: 250,
    paths: fixed(ROUTES.directEvents),
    body: EVENT_BODY,
  },
};

export function isScenarioName(v: unknown): v is ScenarioName {
  return typeof v === 'string' && (SCENARIO_NAMES as readonly string[]).includes(v);
}
