/**
 * Every error the demo answers is JSON. A 4xx (bad ids, bodies, unknown routes) or a 500 is
 * `{ "error": { "code", "message" } }`. Every 503, whoever sheds (the SafetyValve through
 * @valve/safety/http, a full event buffer, shutdown), is one shape: @valve/safety/http's
 * `{"error":"overloaded","reason","retryAfterSeconds"}` with `Retry-After` and
 * `Cache-Control: no-store`, so a client handles one body for "come back later" (POST /events
 * adds `accepted`). One exception, not a refusal but an outage: while the embedded PGlite's
 * worker is down (issue 18 item 4), database routes answer 503 `database_unavailable` in the
 * 4xx/500 shape, with `Retry-After: 1`.
 */
import { isValveError, type Reason } from '@valve/core';
import type { OverloadBody } from '@valve/safety/http';
import type { ErrorRequestHandler, RequestHandler, Response } from 'express';
import { isPgliteUnavailable } from './db/PgliteWorkerConnection.js';

export class HttpError extends Error {
  override readonly name = 'HttpError';
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    /** Seconds, for 503s. */
    readonly retryAfterS?: number,
  ) {
    super(message);
  }
}

export function sendError(res: Response, status: number, code: string, message: string, retryAfterS?: number): void {
  if (retryAfterS !== undefined) res.setHeader('Retry-After', String(Math.max(1, Math.ceil(retryAfterS))));
  res.status(status).json({ error: { code, message } });
}

/**
 * The demo's one 503: @valve/safety/http's body, for refusals that do not come from a
 * SafetyValve (shutdown, a full event buffer). `extra` adds fields (POST /events: `accepted`).
 */
export function sendOverloaded(
  res: Response,
  reason: Reason,
  retryAfterS: number,
  extra?: Readonly<Record<string, number>>,
): void {
  const retryAfterSeconds = Math.max(1, Math.ceil(retryAfterS));
  const body: OverloadBody = { error: 'overloaded', reason, retryAfterSeconds };
  res.setHeader('Retry-After', String(retryAfterSeconds));
  res.setHeader('Cache-Control', 'no-store');
  res.status(503).json(extra === undefined ? body : { ...body, ...extra });
}

export const notFound: RequestHandler = (req, res) => {
  sendError(res, 404, 'not_found', `no route for ${req.method} ${req.path}`);
};

/** body-parser's error `type`s, mapped to stable codes. */
const BODY_ERRORS: Record<string, string> = {
  'entity.too.large': 'body_too_large',
  'entity.parse.failed': 'malformed_json',
  'encoding.unsupported': 'unsupported_encoding',
  'charset.unsupported': 'unsupported_charset',
  'request.aborted': 'request_aborted',
  'request.size.invalid': 'body_size_mismatch',
  'entity.verify.failed': 'invalid_body',
};

export function errorHandler(log: (line: string) => void): ErrorRequestHandler {
  return (error, _req, res, _next) => {
    if (res.headersSent) {
      res.destroy();
      return;
    }
    if (error instanceof HttpError) {
      sendError(res, error.status, error.code, error.message, error.retryAfterS);
      return;
    }
    if (isValveError(error)) {
      // A valve refused (shutting down, overloaded): the client may retry.
      sendOverloaded(res, error.reason ?? 'overload', 1);
      return;
    }
    if (isPgliteUnavailable(error)) {
      // The embedded database's worker died and is being restarted (or restarts gave up, and
      // the process is exiting): not the request's fault, and retrying later may work.
      res.setHeader('Cache-Control', 'no-store');
      sendError(res, 503, 'database_unavailable', error.message, 1);
      return;
    }
    const status = Number(error?.status ?? error?.statusCode);
    if (Number.isInteger(status) && status >= 400 && status < 500) {
      const code = BODY_ERRORS[error?.type as string] ?? 'bad_request';
      const message =
        code === 'body_too_large'
          ? `request body is larger than the limit of ${error.limit} bytes`
          : code === 'malformed_json'
            ? `request body is not valid JSON: ${error.message}`
            : String(error?.message ?? 'bad request');
      sendError(res, status, code, message);
      return;
    }
    log(`request failed: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}`);
    sendError(res, 500, 'internal', 'internal error');
  };
}

const MAX_ID = 2_147_483_647;

/** Ids are positive 32-bit integers written in decimal; anything else is a 400. */
export function parseId(raw: string | undefined): number {
  const value = Number(raw);
  if (raw === undefined || !/^[1-9][0-9]{0,9}$/.test(raw) || value > MAX_ID) {
    throw new HttpError(400, 'invalid_id', `id must be an integer from 1 to ${MAX_ID}, got ${JSON.stringify(raw)}`);
  }
  return value;
}
