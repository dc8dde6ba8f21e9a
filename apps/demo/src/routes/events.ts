/** Validation of `POST /events` bodies, shared by the buffered and the direct route. */
import type { Request } from 'express';
import type { NewEvent } from '../db/index.js';
import { HttpError } from '../httpErrors.js';

const TYPE_RE = /^[A-Za-z0-9_.:-]{1,64}$/;

/** `{ "type": "page.view", "payload": {…} }`: type required (1-64 of [A-Za-z0-9_.:-]), payload any JSON. */
export function parseEvent(req: Request): NewEvent {
  if (!req.is('application/json')) {
    throw new HttpError(415, 'unsupported_media_type', 'POST /events expects Content-Type: application/json');
  }
  const body: unknown = req.body;
  if (typeof body !== 'object' || body === null || Array.isArray(body)) {
    throw new HttpError(400, 'invalid_event', 'the body must be a JSON object like {"type":"page.view","payload":{}}');
  }
  const { type, payload } = body as { type?: unknown; payload?: unknown };
  if (typeof type !== 'string' || !TYPE_RE.test(type)) {
    throw new HttpError(
      400,
      'invalid_event',
      `"type" must be a string of 1 to 64 characters from [A-Za-z0-9_.:-], got ${JSON.stringify(type)?.slice(0, 80)}`,
    );
  }
  return { type, payload: payload ?? null, receivedAt: Date.now() };
}
