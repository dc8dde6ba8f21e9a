/**
 * Express glue for the SafetyValve in front of the database routes: a request needs a permit
 * (a slot, after a bounded wait in the valve's queue) before its handler runs, and gives it back
 * when the response is finished or the connection closes. A refusal is a 503 with `Retry-After`
 * and a JSON body naming the reason, never an unbounded queue.
 *
 * A client that disconnects while waiting leaves the queue (its AbortSignal); a permit granted
 * after the connection closed is released at once, so no slot leaks.
 */
import { isValveError } from '@valve/core';
import type { SafetyValve } from '@valve/safety';
import type { RequestHandler } from 'express';
import { sendError } from './httpErrors.js';

export function safetyAdmission(valve: SafetyValve): RequestHandler {
  return (_req, res, next) => {
    const gone = new AbortController();
    const onClose = () => gone.abort(new Error('client closed the connection'));
    res.once('close', onClose);
    valve.ask({ signal: gone.signal }).then(
      (permit) => {
        res.off('close', onClose);
        if (res.closed) {
          permit.done();
          return;
        }
        res.once('close', () => permit.done());
        next();
      },
      (error: unknown) => {
        res.off('close', onClose);
        if (gone.signal.aborted) return; // nobody is left to answer
        if (isValveError(error)) {
          const reason = error.reason ?? 'overload';
          sendError(
            res,
            503,
            reason,
            `the database is at capacity (${reason}); retry later`,
            valve.retryAfterMs() / 1000,
          );
          return;
        }
        next(error);
      },
    );
  };
}
