// The public API of @valve/burst. Every export here is a decision: adding one needs a changeset.

export { BurstValve, ERR_BURST_NO_RESULT, type TrailingOptions } from './BurstValve.js';
export type { BurstStats } from './BurstMetrics.js';
export type {
  BatchContext,
  BatchFetcher,
  BatchResult,
  BurstValveOptions,
  Fetcher,
  FetchContext,
  FetchOptions,
  LingerFunction,
  SettledEvent,
  SharedResult,
} from './options.js';
export { type Coalesced, type CoalesceOptions, coalesce, defaultKeyOf } from './coalesce.js';
