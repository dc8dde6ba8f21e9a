/**
 * Every error the demo answers is JSON: `{ "error": { "code", "message" } }`, with a 4xx status
 * for bad input (ids, bodies, unknown routes) and 503 with `Retry-After` for load shedding.
 */
import { isValveError } from '@valve/core';
import type { ErrorRequestHandler, RequestHandler, Response } from 'express';

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
      sendError(res, 503, error.reason ?? 'unavailable', error.message, 1);
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
