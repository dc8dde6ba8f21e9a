/**
 * Validation of `POST /events` bodies, shared by the buffered and the direct route: one event
 * object, or a JSON array of 1 to `maxEvents` of them (the load test posts batches).
 */
import type { Request } from 'express';
import type { NewEvent } from '../db/index.js';
import { HttpError } from '../httpErrors.js';

const TYPE_RE = /^[A-Za-z0-9_.:-]{1,64}$/;

/**
 * `{ "type": "page.view", "payload": {…} }` or `[{…}, {…}]`: type required (1-64 of
 * [A-Za-z0-9_.:-]), payload any JSON. An array is all or nothing: one bad event rejects the body
 * (400 naming its index) before anything is accepted.
 */
export function parseEvents(req: Request, maxEvents: number): NewEvent[] {
  if (!req.is('application/json')) {
    throw new HttpError(415, 'unsupported_media_type', 'POST /events expects Content-Type: application/json');
  }
  const body: unknown = req.body;
  const receivedAt = Date.now();
  if (!Array.isArray(body)) return [parseOne(body, '', receivedAt)];
  if (body.length === 0 || body.length > maxEvents) {
    throw new HttpError(
      400,
      'invalid_event',
      `an array of events must hold 1 to ${maxEvents} events (EVENTS_MAX_PER_REQUEST), got ${body.length}`,
    );
  }
  return body.map((item, i) => parseOne(item, `event ${i}: `, receivedAt));
}

function parseOne(body: unknown, where: string, receivedAt: number): NewEvent {
  if (typeof body !== 'object' || body === null || Array.isArray(body)) {
    throw new HttpError(
      400,
      'invalid_event',
      `${where}an event must be a JSON object like {"type":"page.view","payload":{}} (or the body an array of them)`,
    );
  }
  const { type, payload } = body as { type?: unknown; payload?: unknown };
  if (typeof type !== 'string' || !TYPE_RE.test(type)) {
    throw new HttpError(
      400,
      'invalid_event',
      `${where}"type" must be a string of 1 to 64 characters from [A-Za-z0-9_.:-], got ${JSON.stringify(type)?.slice(0, 80)}`,
    );
  }
  return { type, payload: payload ?? null, receivedAt };
}
