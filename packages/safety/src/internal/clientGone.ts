import type { IncomingMessage, ServerResponse } from 'node:http';

/**
 * An abort signal that fires when the client goes away before the response finished, so a
 * request still queued in the valve leaves the queue instead of taking a slot nobody waits for.
 * Shared by every adapter that runs on `node:http` (Express/Connect, node:http, Fastify, Koa).
 */
export function clientGone(req: IncomingMessage, res: ServerResponse): AbortController {
  const ac = new AbortController();
  const onClose = () => {
    if (!res.writableFinished) ac.abort(new Error('the client closed the connection'));
  };
  res.once('close', onClose);
  req.once('aborted', onClose);
  return ac;
}
