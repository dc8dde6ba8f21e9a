/**
 * Hono glue (`@valve/safety/hono`): a middleware on the web platform's Request/Response, so the
 * same code serves Node (`@hono/node-server`), Bun, Deno and edge runtimes. Only types are
 * imported from hono: loading this entry loads no framework code.
 */
import type { MiddlewareHandler } from 'hono';
import type { SafetyValve } from './SafetyValve.js';
import { type AdapterOptions, checkAdapterOptions, overloadAnswer, rateLimitFields } from './internal/answer.js';
import type { SafetyPermit } from './options.js';

export type { AdapterOptions, OverloadBody } from './internal/answer.js';

/**
 * `app.use('/api/*', honoSafetyValve(valve))`: each request waits in `valve` for a token and a
 * slot and holds the slot until the rest of the chain returned its Response (a streamed body may
 * still be sending after that: Request/Response has no "response finished" event on every
 * runtime). A refusal is answered with 503, `Retry-After` and the JSON body
 * `{"error":"overloaded","reason":...,"retryAfterSeconds":...}`; other errors are thrown to Hono's
 * `onError`. A request whose `signal` aborts while queued (the client left, on runtimes that
 * abort it) leaves the queue.
 */
export function honoSafetyValve(valve: SafetyValve, options?: AdapterOptions): MiddlewareHandler {
  const rateLimit = checkAdapterOptions(valve, options);
  return async (c, next) => {
    const signal = c.req.raw.signal;
    let permit: SafetyPermit;
    try {
      permit = await valve.ask({ signal });
    } catch (error) {
      const answer = overloadAnswer(valve, error, rateLimit);
      if (answer === undefined) {
        if (signal.aborted && error === signal.reason) return c.body(null, 503); // nobody reads it
        throw error;
      }
      return c.body(answer.body, answer.status, Object.fromEntries(answer.headers));
    }
    try {
      // Read at admission: the remainder after this request's token.
      const fields = rateLimit ? rateLimitFields(valve) : undefined;
      await next();
      // After next(): c.header() copies a finalized (possibly immutable) Response first.
      if (fields !== undefined) for (const [name, value] of fields) c.header(name, value);
    } finally {
      permit.done();
    }
  };
}
