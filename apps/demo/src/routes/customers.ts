/**
 * The customer routes. Each variant answers the same JSON for the same id; they differ only in
 * what stands between the request and the database (nothing, a BurstValve, a cache, both).
 */
import type { RequestHandler } from 'express';
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
 * counted, so Redis being down degrades speed, not answers.
 */
export function cachedLoader(db: Database, cache: Cache, ttlMs: number, counters: CacheCounters): CustomerLoader {
  const load = directLoader(db);
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

export function customerRoute(load: CustomerLoader): RequestHandler<{ id: string }> {
  return async (req, res) => {
    const id = parseId(req.params.id);
    const json = await load(id);
    if (json === undefined) throw new HttpError(404, 'customer_not_found', `no customer with id ${id}`);
    res.type('application/json').send(json);
  };
}
