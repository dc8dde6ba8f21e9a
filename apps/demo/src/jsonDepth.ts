/**
 * The nesting limit on JSON request bodies (`BODY_MAX_DEPTH`), checked at the door.
 *
 * `JSON.parse` is iterative in V8 and parses a 16 KB body of 8,000 nested arrays fine, but
 * `JSON.stringify` (the database layer's payload serializer), structured clone and most other
 * code walk a value recursively: at about 5,000 levels they throw `RangeError: Maximum call stack
 * size exceeded`. Issue 18: one such `POST /events` was acknowledged, failed every flush, and the
 * dead-letter log line's own `JSON.stringify` crashed the process. A body deeper than the limit
 * is now a 400 before anything is accepted.
 */
import { HttpError } from './httpErrors.js';

/**
 * The depth of a parsed JSON value (a scalar is 0, `[]` and `{}` are 1, `[[1]]` is 2), walked
 * with an explicit stack, so a value of any depth is measured without recursion. Stops as soon
 * as `limit` is exceeded and returns `limit + 1`.
 */
export function jsonDepth(value: unknown, limit: number): number {
  if (typeof value !== 'object' || value === null) return 0;
  let max = 0;
  const values: unknown[] = [value];
  const depths: number[] = [1];
  while (values.length > 0) {
    const v = values.pop() as object;
    const d = depths.pop() as number;
    if (d > max) {
      max = d;
      if (max > limit) return limit + 1;
    }
    const children = Array.isArray(v) ? v : Object.values(v);
    for (const child of children) {
      if (typeof child === 'object' && child !== null) {
        values.push(child);
        depths.push(d + 1);
      }
    }
  }
  return max;
}

/** Throws a 400 `body_too_deep` when `body` nests deeper than `limit`. */
export function assertDepth(body: unknown, limit: number): void {
  if (jsonDepth(body, limit) > limit) {
    throw new HttpError(
      400,
      'body_too_deep',
      `request body nests arrays/objects deeper than the limit of ${limit} levels (BODY_MAX_DEPTH)`,
    );
  }
}
