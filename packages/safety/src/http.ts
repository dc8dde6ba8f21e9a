/**
 * Framework-free HTTP glue: a `(req, res, next)` middleware (Express, Connect, Polka...) and a
 * handler wrapper for `node:http`. A refused request gets 503 with `Retry-After` (seconds: the
 * time to the next refill when tokens ran out, else the queue's length over the measured
 * throughput) and a JSON body naming the reason. Only `node:http` types are used, so importing
 * `@valve/safety/http` never pulls in a framework.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { isValveError, type Reason, validateFunction, validateObject } from '@valve/core';
import type { SafetyValve } from './SafetyValve.js';

export interface OverloadBody {
  error: 'overloaded';
  reason: Reason;
  retryAfterSeconds: number;
}

/** Writes the 503 answer for a refusal; returns false (writing nothing) for other errors. */
export function respondOverloaded(valve: SafetyValve, error: unknown, res: ServerResponse): boolean {
  if (!isValveError(error) || error.reason === undefined) return false;
  const seconds = Math.max(1, Math.ceil(valve.retryAfterMs() / 1000));
  const body: OverloadBody = { error: 'overloaded', reason: error.reason, retryAfterSeconds: seconds };
  if (!res.headersSent) {
    res.statusCode = 503;
    res.setHeader('Retry-After', String(seconds));
    res.setHeader('Content-Type', 'application/json; charset=utf-8');
    res.setHeader('Cache-Control', 'no-store');
  }
  res.end(JSON.stringify(body));
  return true;
}

/** An abort signal that fires when the client goes away before the response finished. */
function clientGone(req: IncomingMessage, res: ServerResponse): AbortController {
  const ac = new AbortController();
  const onClose = () => {
    if (!res.writableFinished) ac.abort(new Error('the client closed the connection'));
  };
  res.once('close', onClose);
  req.once('aborted', onClose);
  return ac;
}

export type Next = (error?: unknown) => void;

/**
 * Admits each request through `valve` and holds its slot until the response finishes or the
 * connection closes. A client that leaves while queued leaves the queue.
 */
export function safetyMiddleware(valve: SafetyValve): (req: IncomingMessage, res: ServerResponse, next: Next) => void {
  validateObject(valve, 'valve');
  return (req, res, next) => {
    const ac = clientGone(req, res);
    valve.ask({ signal: ac.signal }).then(
      (permit) => {
        if (ac.signal.aborted) {
          permit.done();
          return;
        }
        const release = () => permit.done();
        res.once('finish', release);
        res.once('close', release);
        next();
      },
      (error) => {
        if (ac.signal.aborted) return; // nobody is listening any more
        if (!respondOverloaded(valve, error, res)) next(error);
      },
    );
  };
}

/**
 * Wraps a `node:http` handler: it runs inside `valve.run` (its rejection marks the work failed
 * for an adaptive limit), and a refusal is answered with 503.
 */
export function withSafetyValve<Req extends IncomingMessage, Res extends ServerResponse>(
  valve: SafetyValve,
  handler: (req: Req, res: Res) => unknown,
): (req: Req, res: Res) => Promise<void> {
  validateObject(valve, 'valve');
  validateFunction(handler, 'handler');
  return async (req, res) => {
    const ac = clientGone(req, res);
    try {
      await valve.run(() => handler(req, res), { signal: ac.signal });
    } catch (error) {
      if (ac.signal.aborted) return;
      if (respondOverloaded(valve, error, res)) return;
      throw error;
    }
  };
}
