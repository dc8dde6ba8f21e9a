/**
 * The customer routes. Each variant answers the same JSON for the same id; they differ only in
 * what stands between the request and the database (nothing, a BurstValve, a cache, both).
 */
import type { RequestHandler, Response } from 'express';
import type { Cache } from '../cache/index.js';
import type { Database } from '../db/index.js';
import { HttpError, parseId } from '../httpErrors.js';

/** Loads one customer as JSON text, or undefined when there is no such id. */
export type CustomerLoader = (id: number) => Promise<string | undefined>;

export function directLoader(db: Database): CustomerLoader {
  return async (id) => {
    const customer = await db.getCustomer(id);
    return customer === undefined ? undefined : JSON.stringify(customer);
  };
}

export interface CacheCounters {
  hit(): void;
  miss(): void;
  error(): void;
}

/**
 * Read-through, as the seed's cached variant: the cache first; on a miss the database, then the
 * cache is filled with a TTL. A cache that fails is skipped (fail-open to the database) and
 * counted, so Redis being down degrades speed, not answers. `load` is what a miss runs (the
 * database, straight or inside the SafetyValve), so admission guards only the misses.
 */
export function cachedLoader(
  load: CustomerLoader,
  cache: Cache,
  ttlMs: number,
  counters: CacheCounters,
): CustomerLoader {
  return async (id) => {
    const key = `customer:${id}`;
    let hit: string | undefined;
    try {
      hit = await cache.get(key);
    } catch {
      counters.error();
    }
    if (hit !== undefined) {
      counters.hit();
      return hit;
    }
    counters.miss();
    const json = await load(id);
    if (json !== undefined) {
      try {
        await cache.set(key, json, ttlMs);
      } catch {
        counters.error();
      }
    }
    return json;
  };
}

/**
 * Answers a refusal (a ValveError from a valve inside `load`) and returns true, or returns false
 * for any other error. The demo passes @valve/safety/http's `respondOverloaded`.
 */
export type RefusalResponder = (error: unknown, res: Response) => boolean;

export function customerRoute(load: CustomerLoader, refused?: RefusalResponder): RequestHandler<{ id: string }> {
  return async (req, res) => {
    const id = parseId(req.params.id);
    let json: string | undefined;
    try {
      json = await load(id);
    } catch (error) {
      // A SafetyValve refusal inside a shared BurstValve fetch reaches every coalesced caller
      // as the same error: each of them answers 503 here.
      if (refused?.(error, res)) return;
      throw error;
    }
    if (json === undefined) throw new HttpError(404, 'customer_not_found', `no customer with id ${id}`);
    res.type('application/json').send(json);
  };
}

/** `GET /reports/customers/:id`: the costly segment report (see Database.customerReport). */
export function reportRoute(db: Database): RequestHandler<{ id: string }> {
  return async (req, res) => {
    const id = parseId(req.params.id);
    const report = await db.customerReport(id);
    if (report === undefined) throw new HttpError(404, 'customer_not_found', `no customer with id ${id}`);
    res.json(report);
  };
}
