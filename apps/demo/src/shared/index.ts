/**
 * `@valve/demo/shared`: what the dashboard's load generator and bench/load must agree on, in one
 * place (issue 16, item 5): the workloads (ids, Zipf exponent, seeds, routes, the dashboard's
 * scenarios), the seeded samplers, the statistics, and the demo's 503 body.
 */
export { median, percentile, percentileOf } from './stats.js';
export { mulberry32, zipfSampler } from './random.js';
export {
  CUSTOMERS,
  HOT_ID,
  isScenarioName,
  ROUTES,
  SCENARIO_NAMES,
  SCENARIOS,
  type Scenario,
  type ScenarioName,
  SEEDS,
  ZIPF_S,
} from './scenarios.js';
