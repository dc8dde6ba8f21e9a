/**
 * What every HTTP adapter answers, written once so that Express/node:http, Fastify, Koa and Hono
 * send the same bytes: the 503 for a refusal (`Retry-After` + a JSON body naming the reason) and
 * the optional `RateLimit-Limit` / `RateLimit-Remaining` / `RateLimit-Reset` fields. Framework
 * free: each adapter copies `status`, `headers` and `body` onto its own response object.
 */
import { isValveError, type Reason, rejectUnknownOptions, validateBoolean, validateObject } from '@valve/core';
import type { SafetyValve } from '../SafetyValve.js';

/** The JSON body of a refused request. */
export interface OverloadBody {
  error: 'overloaded';
  reason: Reason;
  retryAfterSeconds: number;
}

/** Options every framework adapter takes. */
export interface AdapterOptions {
  /**
   * Also send `RateLimit-Limit`, `RateLimit-Remaining` and `RateLimit-Reset` (IETF httpapi
   * ratelimit-headers draft) on admitted and refused responses, describing the valve's token
   * bucket: the limit is `tokenLimit`, the remainder the tokens left after this request, the reset
   * the seconds (at most) until the bucket is full again. Sent only when the valve has a built-in
   * bucket (`hz`/`rate`/`tokenLimit`); the reset only when it refills on a timer (`hz`). The
   * bucket is the valve's, shared by every client, not a per-client quota.
   * @default false
   */
  rateLimitHeaders?: boolean;
}

export const ADAPTER_OPTIONS: readonly string[] = Object.freeze(['rateLimitHeaders']);

/** Validates an adapter's `options` (and that `valve` is an object); returns `rateLimitHeaders`. */
export function checkAdapterOptions(
  valve: unknown,
  options: AdapterOptions | undefined,
  known: readonly string[] = ADAPTER_OPTIONS,
): boolean {
  validateObject(valve, 'valve');
  if (options === undefined) return false;
  validateObject(options, 'options');
  rejectUnknownOptions(options, 'options', known);
  return options.rateLimitHeaders === undefined
    ? false
    : validateBoolean(options.rateLimitHeaders, 'options.rateLimitHeaders');
}

/** A refusal as the adapters send it. */
export interface OverloadAnswer {
  status: 503;
  /** Header names as sent, in order. */
  headers: Array<[string, string]>;
  /** `JSON.stringify` of an {@link OverloadBody}. */
  body: string;
}

const JSON_TYPE = 'application/json; charset=utf-8';

/**
 * The 503 answer for `error` when it is the valve's refusal (a `ValveError` with a `reason`),
 * else `undefined`: other errors belong to the framework's own error handling.
 */
export function overloadAnswer(valve: SafetyValve, error: unknown, rateLimit: boolean): OverloadAnswer | undefined {
  if (!isValveError(error) || error.reason === undefined) return undefined;
  const seconds = Math.max(1, Math.ceil(valve.retryAfterMs() / 1000));
  const body: OverloadBody = { error: 'overloaded', reason: error.reason, retryAfterSeconds: seconds };
  const headers: Array<[string, string]> = [
    ['Retry-After', String(seconds)],
    ['Content-Type', JSON_TYPE],
    ['Cache-Control', 'no-store'],
  ];
  if (rateLimit) appendRateLimitFields(valve, headers);
  return { status: 503, headers, body: JSON.stringify(body) };
}

/** The `RateLimit-*` fields for the valve's bucket now, or none (see `rateLimitHeaders`). */
export function rateLimitFields(valve: SafetyValve): Array<[string, string]> {
  const fields: Array<[string, string]> = [];
  appendRateLimitFields(valve, fields);
  return fields;
}

function appendRateLimitFields(valve: SafetyValve, into: Array<[string, string]>): void {
  const { tokens, configuration } = valve.stats();
  const { tokenLimit, hz, rate } = configuration;
  if (tokenLimit === undefined) return; // no built-in bucket: no quota to describe
  const remaining = Math.max(0, Math.floor(tokens));
  into.push(['RateLimit-Limit', String(tokenLimit)], ['RateLimit-Remaining', String(remaining)]);
  if (hz === undefined || rate === undefined) return; // tokens only from replenish(): no reset time
  const refills = Math.ceil((tokenLimit - tokens) / rate);
  let resetMs = 0;
  if (refills > 0) {
    // Empty: the next refill's time is known exactly; otherwise count whole periods (an upper
    // bound: the next refill on the bucket's grid may come sooner).
    resetMs = tokens < 1 ? valve.retryAfterMs() + (refills - 1) * hz : refills * hz;
  }
  into.push(['RateLimit-Reset', String(Math.ceil(resetMs / 1000))]);
}
