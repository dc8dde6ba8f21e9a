/**
 * `coalesce(fn, options)`: p-memoize's habit (wrap a function, keep its signature) on a
 * BurstValve. Concurrent calls whose arguments give the same key share one call of `fn`; with
 * `lingerMs` the value is also kept, as the valve keeps it. The valve is `wrapped.valve` (stats,
 * `clear`, `prime`, `close`), keyed by the arguments array: `wrapped.valve.clear([a, b])`.
 */
import { describeValue, validateFunction, validateObject } from '@valve/core';
import { BurstValve, type TrailingOptions } from './BurstValve.js';
import { BATCH_ONLY_OPTIONS } from './normalizeOptions.js';

/** BurstValve's options minus batch mode, with `keyOf` taking `fn`'s arguments. */
export type CoalesceOptions<A extends unknown[], R> = Omit<
  TrailingOptions<R, A>,
  'keyOf' | 'maxBatchSize' | 'batchWindowMs' | 'batchScheduleFn'
> & {
  /**
   * The coalescing identity of one call's arguments. Default: see {@link defaultKeyOf}.
   */
  keyOf?: (...args: A) => unknown;
};

/** `fn`'s parameters, a promise of its awaited result, and the valve behind it. */
export type Coalesced<A extends unknown[], R> = ((...args: A) => Promise<R>) & {
  readonly valve: BurstValve<R, A>;
};

const NO_ARGUMENTS = Symbol('no arguments');

/**
 * The default key of `coalesce`: no arguments → one shared slot; one argument → that argument
 * itself, compared as a `Map` compares keys (SameValueZero: `0` and `-0` are one key, objects by
 * reference); several arguments → one string built from them, each tagged with its type (so
 * `(1, '1')` and `('1', 1)` differ), when each is a string, number, boolean, bigint, `null` or
 * `undefined`. Any other argument among several rejects the call with a `TypeError`: give `keyOf`.
 * The key follows the arguments passed: `f(1)` and `f(1, undefined)` are different calls.
 */
export function defaultKeyOf(args: readonly unknown[]): unknown {
  if (args.length === 0) return NO_ARGUMENTS;
  if (args.length === 1) return args[0];
  let key = '';
  for (let i = 0; i < args.length; i++) {
    const a = args[i];
    switch (typeof a) {
      case 'string':
        key += `s${a.length}:${a}|`;
        break;
      case 'number':
        key += `n${a}|`; // `${-0}` is '0': SameValueZero, as for one argument
        break;
      case 'boolean':
        key += a ? 't|' : 'f|';
        break;
      case 'bigint':
        key += `b${a}|`;
        break;
      case 'undefined':
        key += 'u|';
        break;
      default:
        if (a === null) {
          key += 'l|';
          break;
        }
        throw new TypeError(
          `coalesce: argument ${i} is ${describeValue(a)}; with several arguments the default keyOf takes only strings, numbers, booleans, bigints, null and undefined: give options.keyOf`,
        );
    }
  }
  return key;
}

/**
 * Wraps `fn` so that concurrent calls with equal keys (see {@link defaultKeyOf}, or
 * `options.keyOf(...args)`) share one call. `fn` runs with the first caller's arguments and no
 * `this` (bind a method first); its throw or rejection rejects every caller sharing the call.
 * Options are BurstValve's (`lingerMs`, `timeoutMs`, `staleWhileRevalidateMs`, `metrics`, …)
 * except batch mode; checked here, as the constructor checks them.
 */
export function coalesce<F extends (...args: never[]) => unknown>(
  fn: F,
  options?: CoalesceOptions<Parameters<F>, Awaited<ReturnType<F>>>,
): Coalesced<Parameters<F>, Awaited<ReturnType<F>>> {
  type A = Parameters<F>;
  type R = Awaited<ReturnType<F>>;
  validateFunction(fn, 'fn');
  const o = options === undefined ? {} : validateObject(options, 'options');
  for (const name of BATCH_ONLY_OPTIONS) {
    if (name in o) throw new TypeError(`options.${name} is a batch mode option; coalesce() has no batch mode`);
  }
  const { keyOf, ...rest } = o as CoalesceOptions<A, R>;
  let mapKey: (args: A) => unknown = defaultKeyOf;
  if (keyOf !== undefined) {
    const userKeyOf = validateFunction<(...args: A) => unknown>(keyOf, 'options.keyOf');
    mapKey = (args) => userKeyOf(...args);
  }
  const call = fn as unknown as (...args: A) => R | PromiseLike<R>;
  const valve = new BurstValve<R, A>((args: A) => call(...args), { ...rest, keyOf: mapKey });
  const wrapped = (...args: A): Promise<R> => valve.fetch(args);
  Object.defineProperty(wrapped, 'name', { value: fn.name, configurable: true });
  Object.defineProperty(wrapped, 'valve', { value: valve, enumerable: true });
  return wrapped as Coalesced<A, R>;
}
