/**
 * Koa glue (`@valve/safety/koa`): a middleware that admits each request through a SafetyValve.
 * It needs only `ctx.req`, `ctx.res`, `ctx.status`, `ctx.body`, `ctx.set` and `ctx.respond`, so
 * it is typed structurally and imports nothing from koa (no runtime code, no `@types/koa`).
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { SafetyValve } from './SafetyValve.js';
import { type AdapterOptions, checkAdapterOptions, overloadAnswer, rateLimitFields } from './internal/answer.js';
import { clientGone } from './internal/clientGone.js';
import type { SafetyPermit } from './options.js';

export type { AdapterOptions, OverloadBody } from './internal/answer.js';

/** The part of Koa's `ctx` the middleware uses. */
export interface KoaContextLike {
  req: IncomingMessage;
  res: ServerResponse;
  status: number;
  body: unknown;
  respond?: boolean;
  set(field: string, value: string): void;
}

/**
 * `app.use(koaSafetyValve(valve))`: each request waits in `valve` for a token and a slot and holds
 * the slot until its response finished or the connection closed (Koa writes the body after the
 * middleware chain returned, so the slot covers that too). A refusal is answered with 503,
 * `Retry-After` and the JSON body `{"error":"overloaded","reason":...,"retryAfterSeconds":...}`;
 * other errors are thrown to Koa's error handling; a client that leaves while queued leaves the
 * queue and gets no answer.
 */
export function koaSafetyValve(
  valve: SafetyValve,
  options?: AdapterOptions,
): (ctx: KoaContextLike, next: () => Promise<unknown>) => Promise<void> {
  const rateLimit = checkAdapterOptions(valve, options);
  return async (ctx, next) => {
    const ac = clientGone(ctx.req, ctx.res);
    let permit: SafetyPermit;
    try {
      permit = await valve.ask({ signal: ac.signal });
    } catch (error) {
      if (ac.signal.aborted) {
        ctx.respond = false; // nobody to answer
        return;
      }
      const answer = overloadAnswer(valve, error, rateLimit);
      if (answer === undefined) throw error;
      ctx.status = answer.status;
      // Content-Type first: Koa keeps it when the body is a string.
      for (const [name, value] of answer.headers) ctx.set(name, value);
      ctx.body = answer.body;
      return;
    }
    const release = () => permit.done();
    if (ac.signal.aborted) {
      release();
      ctx.respond = false;
      return;
    }
    ctx.res.once('finish', release);
    ctx.res.once('close', release);
    if (rateLimit) for (const [name, value] of rateLimitFields(valve)) ctx.set(name, value);
    await next();
  };
}
