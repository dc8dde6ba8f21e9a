/**
 * Framework-free HTTP glue: a `(req, res, next)` middleware (Express, Connect, Polka...) and a
 * handler wrapper for `node:http`. A refused request gets 503 with `Retry-After` (seconds: the
 * time to the next refill when tokens ran out, else the queue's length over the measured
 * throughput) and a JSON body naming the reason. Only `node:http` types are used, so importing
 * `@valve/safety/http` never pulls in a framework.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { validateFunction } from '@valve/core';
import type { SafetyValve } from './SafetyValve.js';
import {
  ADAPTER_OPTIONS,
  type AdapterOptions,
  checkAdapterOptions,
  overloadAnswer,
  rateLimitFields,
} from './internal/answer.js';
import { clientGone } from './internal/clientGone.js';

export type { AdapterOptions, OverloadBody } from './internal/answer.js';

/**
 * Writes the 503 answer for a refusal; returns false (writing nothing) for other errors. With
 * `rateLimitHeaders`, the `RateLimit-*` fields are sent too.
 */
export function respondOverloaded(
  valve: SafetyValve,
  error: unknown,
  res: ServerResponse,
  rateLimitHeaders = false,
): boolean {
  const answer = overloadAnswer(valve, error, rateLimitHeaders);
  if (answer === undefined) return false;
  if (!res.headersSent) {
    res.statusCode = answer.status;
    for (const [name, value] of answer.headers) res.setHeader(name, value);
  }
  res.end(answer.body);
  return true;
}

function setRateLimitFields(valve: SafetyValve, res: ServerResponse): void {
  for (const [name, value] of rateLimitFields(valve)) res.setHeader(name, value);
}

export type Next = (error?: unknown) => void;

export interface HttpErrorOptions extends AdapterOptions {
  /**
   * Told about an error the valve could not hand on: for `withSafetyValve`, whatever the handler
   * threw or rejected with (the client got a 500, or the response was destroyed if headers were
   * already sent); for `safetyMiddleware`, an error that `next` itself threw. Never rethrown, so
   * without this option such errors are answered but not reported. An exception thrown by
   * `onError` is ignored: the glue runs where nobody could catch it.
   * @default none
   */
  onError?: (error: unknown, req: IncomingMessage) => void;
}

export interface InternalErrorBody {
  error: 'internal';
}

/**
 * Reports `error` and ends the response: 500 JSON while headers are unsent, else the response is
 * destroyed (a partly written body must not look complete). Never throws: it runs inside a
 * promise callback that nobody awaits, where a throw would be an unhandled rejection.
 */
function failRequest(
  error: unknown,
  req: IncomingMessage,
  res: ServerResponse,
  onError: HttpErrorOptions['onError'],
): void {
  if (onError !== undefined) {
    try {
      onError(error, req);
    } catch {
      // Ignored on purpose, see HttpErrorOptions.onError.
    }
  }
  try {
    if (res.headersSent) {
      res.destroy();
      return;
    }
    const body: InternalErrorBody = { error: 'internal' };
    res.statusCode = 500;
    res.setHeader('Content-Type', 'application/json; charset=utf-8');
    res.setHeader('Cache-Control', 'no-store');
    res.end(JSON.stringify(body));
  } catch {
    res.destroy();
  }
}

const HTTP_OPTIONS: readonly string[] = Object.freeze([...ADAPTER_OPTIONS, 'onError']);

function checkErrorOptions(
  valve: SafetyValve,
  options: HttpErrorOptions | undefined,
): { onError: HttpErrorOptions['onError']; rateLimit: boolean } {
  const rateLimit = checkAdapterOptions(valve, options, HTTP_OPTIONS);
  const onError =
    options?.onError === undefined
      ? undefined
      : validateFunction<NonNullable<HttpErrorOptions['onError']>>(options.onError, 'options.onError');
  return { onError, rateLimit };
}

/**
 * Admits each request through `valve` and holds its slot until the response finishes or the
 * connection closes. A client that leaves while queued leaves the queue. Errors go to
 * `next(error)`, as Express expects, including one thrown synchronously by `next()` (Express's own
 * router does the same for a throwing handler); only if `next(error)` throws too does the request
 * get a 500 and `onError` the error.
 */
export function safetyMiddleware(
  valve: SafetyValve,
  options?: HttpErrorOptions,
): (req: IncomingMessage, res: ServerResponse, next: Next) => void {
  const { onError, rateLimit } = checkErrorOptions(valve, options);
  const forward = (error: unknown, req: IncomingMessage, res: ServerResponse, next: Next) => {
    try {
      next(error);
    } catch (nextError) {
      failRequest(nextError, req, res, onError);
    }
  };
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
        if (rateLimit && !res.headersSent) setRateLimitFields(valve, res);
        try {
          next();
        } catch (error) {
          forward(error, req, res, next);
        }
      },
      (error) => {
        if (ac.signal.aborted) return; // nobody is listening any more
        let answered: boolean;
        try {
          answered = respondOverloaded(valve, error, res, rateLimit);
        } catch (writeError) {
          answered = false;
          error = writeError;
        }
        if (!answered) forward(error, req, res, next);
      },
    );
  };
}

/**
 * Wraps a `node:http` handler: it runs inside `valve.run` (its rejection marks the work failed
 * for an adaptive limit), and a refusal is answered with 503. The returned function never
 * rejects: node:http ignores its promise, so a rethrow would be an unhandled rejection (which
 * ends the process under Node's defaults) and the client would wait for an answer forever. A
 * handler error is answered with 500 `{"error":"internal"}` (or the response is destroyed when
 * headers were already sent) and passed to `onError`.
 */
export function withSafetyValve<Req extends IncomingMessage, Res extends ServerResponse>(
  valve: SafetyValve,
  handler: (req: Req, res: Res) => unknown,
  options?: HttpErrorOptions,
): (req: Req, res: Res) => Promise<void> {
  const { onError, rateLimit } = checkErrorOptions(valve, options);
  validateFunction(handler, 'handler');
  return async (req, res) => {
    const ac = clientGone(req, res);
    try {
      await valve.run(
        rateLimit
          ? () => {
              if (!res.headersSent) setRateLimitFields(valve, res);
              return handler(req, res);
            }
          : () => handler(req, res),
        { signal: ac.signal },
      );
    } catch (error) {
      // The client left while queued: the valve rejected with our own abort reason.
      if (ac.signal.aborted && error === ac.signal.reason) return;
      try {
        if (respondOverloaded(valve, error, res, rateLimit)) return;
      } catch (writeError) {
        failRequest(writeError, req, res, onError);
        return;
      }
      failRequest(error, req, res, onError);
    }
  };
}
