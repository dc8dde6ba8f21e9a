import { AsyncLocalStorage, AsyncResource, executionAsyncResource } from 'node:async_hooks';

/**
 * Runs a function inside an async context captured earlier: {@link NO_STORE}, a snapshot of the
 * caller's stores, or (on a Node that keeps stores in an AsyncContextFrame) an `AsyncResource`.
 * One argument only: the valves pass one, and a fixed arity keeps the call cheap.
 */
export interface CallerContext {
  runInAsyncScope<This, Arg, Result>(fn: (this: This, arg: Arg) => Result, thisArg: This, arg: Arg): Result;
}

/**
 * Node 20 and 22 (without `--experimental-async-context-frame`) keep each AsyncLocalStorage's
 * store as a symbol-keyed property, described `kResourceStore`, of the current async resource;
 * every `AsyncLocalStorage` instance has that symbol as its own `kResourceStore` property. Node
 * 24 keeps stores in an AsyncContextFrame instead: there a capture is an `AsyncResource` (which
 * only records the current frame there; not measured: CI and this repo run Node 20).
 */
const STORES_ON_RESOURCES =
  typeof (new AsyncLocalStorage() as unknown as { kResourceStore?: unknown }).kResourceStore === 'symbol';

/**
 * The symbol under which async_hooks writes a promise's async id. Node writes it on every new
 * promise only while some async_hooks `init` hook is on, and every enabled AsyncLocalStorage turns
 * one on (its store propagation is that hook). An `AsyncResource` always carries the symbol, which
 * is how it is found without reaching into Node's internals.
 */
const ASYNC_ID = Object.getOwnPropertySymbols(new AsyncResource('ValveProbe')).find(
  (s) => s.description === 'async_id_symbol',
);

/**
 * The key that makes the probe's first question a property read a hot caller can write out
 * itself: `Promise.resolve()[NO_HOOKS_PROBE] === undefined` means no AsyncLocalStorage is enabled
 * in the process, so {@link captureContext} would return {@link NO_STORE} and
 * {@link storeVisible} false. `undefined` where that does not hold (Node 24's AsyncContextFrame,
 * where storages need no hook): call them then. A pool's queued `add()` and its queued start write
 * it out: in a fresh process those calls run interpreted for the first tens of thousands of tasks
 * of a burst (issue 14's cold burst; measured in the pool's README).
 */
export const NO_HOOKS_PROBE: symbol | undefined = STORES_ON_RESOURCES ? ASYNC_ID : undefined;

/*
 * The probe, written out where it is used (a call less per queued unit, which a fresh process
 * pays until V8 optimizes the path: issue 14's cold burst): a fresh promise,
 * `Promise.resolve()`. With no async_hooks `init` hook on (no AsyncLocalStorage enabled in the
 * process, so no store is visible anywhere) it carries no async id: about 7 ns and nothing else to
 * do. With one on, Node's store propagation has written on it, under its symbol, the current
 * store of **every enabled** AsyncLocalStorage (undefined where the current context has none): it
 * is an exact snapshot of what the caller sees, made by Node itself.
 */

/**
 * The `kResourceStore` symbols of the enabled AsyncLocalStorages, as the last listing of a probe
 * found them (in the order Node enables them). Replaced, never grown: a storage that was disabled
 * drops out at the next listing, so the per-task work follows the storages in use, not every one
 * the process ever made. A snapshot keeps the array it was taken with; while nothing is enabled or
 * disabled every snapshot shares this one.
 */
let enabled: readonly symbol[] = [];
const NONE: readonly symbol[] = Object.freeze([]);

/** The `kResourceStore` symbols on a fresh probe: every enabled storage's. Updates {@link enabled}. */
function listStores(probe: object): readonly symbol[] {
  const symbols = Object.getOwnPropertySymbols(probe);
  const current = enabled;
  let k = 0;
  let same = true;
  for (let i = 0; i < symbols.length; i++) {
    const s = symbols[i]!;
    if (s.description !== 'kResourceStore') continue;
    if (current[k] !== s) same = false;
    k++;
  }
  if (same && k === current.length) return current;
  const next: symbol[] = [];
  for (let i = 0; i < symbols.length; i++) if (symbols[i]!.description === 'kResourceStore') next.push(symbols[i]!);
  // A storage that dropped out (disabled) is cleared on the shared resource, so that it cannot
  // show an old unit's store there if it is enabled again before the next listing.
  if (SHARED !== undefined) {
    const shared = SHARED as unknown as Record<symbol, unknown>;
    for (let i = 0; i < current.length; i++) if (!next.includes(current[i]!)) shared[current[i]!] = undefined;
  }
  enabled = next;
  return next;
}

/** A storage first seen being set inside queued work (`enterWith` on {@link SHARED}). */
function learnStore(s: symbol): void {
  if (!enabled.includes(s)) enabled = [...enabled, s];
}

/**
 * The one resource every queued unit runs in on Node 20/22, with its caller's stores set on it for
 * the call. Not the resource of whoever starts the unit: a store the unit sets with `enterWith`
 * then stays here instead of on that caller's context, and a storage the starter uses that the
 * unit's caller did not see has no value here. Its own stores are cleared when it is made, and a
 * proxy behind it learns a storage that first appears by being set on it (so the next unit clears
 * it). Entering one shared resource costs a few tens of ns; a fresh `AsyncResource` per unit cost
 * +1.2 µs per task in the pool's pattern (`bench/before-after/context-cost.mjs`).
 */
const SHARED: AsyncResource | undefined = STORES_ON_RESOURCES ? makeShared() : undefined;
const RUN_IN_SCOPE = AsyncResource.prototype.runInAsyncScope;

function makeShared(): AsyncResource {
  const resource = new AsyncResource('ValveQueued');
  const own = resource as unknown as Record<symbol, unknown>;
  for (const s of Object.getOwnPropertySymbols(resource)) if (s.description === 'kResourceStore') own[s] = undefined;
  const proto = Object.getPrototypeOf(resource) as object;
  Object.setPrototypeOf(
    resource,
    new Proxy(proto, {
      // Only a property the resource does not have yet gets here (ordinary [[Set]] walks to the
      // prototype): define it on the resource, and learn it if it is a storage's.
      set(_target, key, value, receiver) {
        if (typeof key === 'symbol' && key.description === 'kResourceStore') learnStore(key);
        return Reflect.defineProperty(receiver as object, key, {
          value,
          writable: true,
          enumerable: true,
          configurable: true,
        });
      },
    }),
  );
  return resource;
}

/** `values[i]` belongs to `syms[i]`; `s` missing from `syms` had no store. */
function storeFor(syms: readonly symbol[], values: readonly unknown[], s: symbol): unknown {
  const i = syms.indexOf(s);
  return i < 0 ? undefined : values[i];
}

/**
 * Runs `fn` in {@link SHARED} with each enabled storage's store set to the snapshot's (`syms` /
 * `values`; none for a storage the snapshot does not name), then puts the previous ones back (a
 * unit started inside another unit's synchronous part). Promises `fn` creates copy these stores,
 * so its continuations resume in them, as with `AsyncLocalStorage#run`.
 */
function runWithStores<This, Arg, Result>(
  syms: readonly symbol[],
  values: readonly unknown[],
  fn: (this: This, arg: Arg) => Result,
  thisArg: This,
  arg: Arg,
): Result {
  const shared = SHARED as AsyncResource;
  const r = shared as unknown as Record<symbol, unknown>;
  const on = enabled;
  const n = on.length;
  if (n === 1) {
    // The common case (one AsyncLocalStorage in the process, e.g. a tracer's): no array.
    const s = on[0]!;
    const saved = r[s];
    r[s] = syms === on ? values[0] : storeFor(syms, values, s);
    try {
      return RUN_IN_SCOPE.call(shared, fn as (this: unknown, a: Arg) => Result, thisArg, arg) as Result;
    } finally {
      r[s] = saved;
    }
  }
  const saved = new Array<unknown>(n);
  for (let i = 0; i < n; i++) {
    const s = on[i]!;
    saved[i] = r[s];
    r[s] = syms === on ? values[i] : storeFor(syms, values, s);
  }
  try {
    return RUN_IN_SCOPE.call(shared, fn as (this: unknown, a: Arg) => Result, thisArg, arg) as Result;
  } finally {
    for (let i = 0; i < n; i++) r[on[i]!] = saved[i];
  }
}

const NO_VALUES: readonly unknown[] = Object.freeze([]);

/** The stores a caller saw when its work was queued (see {@link captureContext}). */
class StoreSnapshot implements CallerContext {
  constructor(
    readonly syms: readonly symbol[],
    readonly values: readonly unknown[],
  ) {}

  runInAsyncScope<This, Arg, Result>(fn: (this: This, arg: Arg) => Result, thisArg: This, arg: Arg): Result {
    return runWithStores(this.syms, this.values, fn, thisArg, arg);
  }
}

/**
 * A caller that saw no store while some AsyncLocalStorage was on: its work runs with every store
 * cleared (in {@link SHARED}, so a store of the starter's that no capture has seen stays out too).
 */
const EMPTY: CallerContext = new StoreSnapshot(NONE, NO_VALUES);

/**
 * Whether the current async context shows some AsyncLocalStorage a defined store: the enabled
 * storages' symbols on the current resource first (a few ns), then the probe (no hook on: no store
 * anywhere), then the probe's stores (one listing, about 190 ns; it also updates the enabled set).
 * A valve that starts the work of a {@link NO_STORE} caller may call it directly when this is
 * false, which is what `NO_STORE.runInAsyncScope` does, without its extra call (the pool's queued
 * hand-over). Node 20/22 only: on Node 24 (AsyncContextFrame) it sees no store (always false),
 * and `captureContext` never returns `NO_STORE` there (each capture is an `AsyncResource`).
 */
export function storeVisible(): boolean {
  // Nothing enabled yet: straight to the probe (in a process without AsyncLocalStorage this is
  // all it costs; `executionAsyncResource()` is not even called, since calling it makes Node track
  // resources for JS from then on).
  if (enabled.length !== 0) {
    const resource = executionAsyncResource() as Record<symbol, unknown>;
    for (let i = 0; i < enabled.length; i++) if (resource[enabled[i]!] !== undefined) return true;
  }
  const probe = Promise.resolve() as unknown as Record<symbol, unknown>;
  if (ASYNC_ID !== undefined && probe[ASYNC_ID] === undefined) return false;
  const syms = listStores(probe);
  for (let i = 0; i < syms.length; i++) if (probe[syms[i]!] !== undefined) return true;
  return false;
}

/**
 * The context of a caller captured while no AsyncLocalStorage was on. Its work runs as called
 * when the context it is started from shows no store either (the common case, and every case in
 * a process that uses no AsyncLocalStorage), and otherwise with every store cleared, so that it
 * never sees the store of whichever caller's work happened to start it.
 */
export const NO_STORE: CallerContext = Object.freeze({
  runInAsyncScope<This, Arg, Result>(fn: (this: This, arg: Arg) => Result, thisArg: This, arg: Arg): Result {
    if (!storeVisible()) return fn.call(thisArg, arg);
    return runWithStores(NONE, NO_VALUES, fn, thisArg, arg);
  },
});

/**
 * The caller's async context, for work that runs later from someone else's call stack (a queued
 * task started by the task that freed its slot): issue 14 defect 1, where a queued task ran in
 * another request's AsyncLocalStorage context.
 *
 * - No AsyncLocalStorage on in the process (the probe carries no async id): the shared
 *   {@link NO_STORE}, no allocation (a pool then queues the bare task).
 * - Otherwise the probe's symbols are listed (about 190 ns, most of a capture's cost): every
 *   enabled storage's store as the caller sees it. None defined: a shared store-free context; some
 *   defined: a snapshot of their values (shared with the previous capture when it holds the same
 *   single store). Starting the work runs it in one shared resource with those stores set on it,
 *   and puts the previous ones back. Measured on Node 20 in a pool's queued `add()`: see
 *   `bench/before-after/context-cost.mjs` (an `AsyncResource` per task cost +1.2 µs).
 *
 * `probe`: a `Promise.resolve()` the caller made just before, in the same synchronous code (one
 * that read {@link NO_HOOKS_PROBE} on it first passes it on rather than have a second made).
 *
 * What is carried is AsyncLocalStorage stores (what OpenTelemetry, loggers and Node's own APIs
 * use). Raw `async_hooks` users that track context by async id (cls-hooked) see the shared
 * resource's async id.
 */
export function captureContext(probe?: Promise<void>): CallerContext {
  if (!STORES_ON_RESOURCES) return new AsyncResource('ValveQueued') as unknown as CallerContext;
  return captureFrom((probe ?? Promise.resolve()) as unknown as Record<symbol, unknown>);
}

/** `captureContext` on Node 20/22, from a probe made in the caller's context. */
function captureFrom(probe: Record<symbol, unknown>): CallerContext {
  if (ASYNC_ID !== undefined && probe[ASYNC_ID] === undefined) return NO_STORE;
  const syms = listStores(probe);
  const n = syms.length;
  if (n === 1) {
    // Work queued from one context (a request adding many tasks) shares one snapshot.
    const value = probe[syms[0]!];
    if (value === undefined) return EMPTY;
    if (last !== undefined && last.syms === syms && last.values[0] === value) return last;
    return (last = new StoreSnapshot(syms, [value]));
  }
  if (last !== undefined && last.syms === syms) {
    let same = true;
    for (let i = 0; i < n && same; i++) same = probe[syms[i]!] === last.values[i];
    if (same) return last;
  }
  let values: unknown[] | undefined;
  for (let i = 0; i < n; i++) {
    const value = probe[syms[i]!];
    if (value === undefined) continue;
    if (values === undefined) {
      values = [];
      for (let j = 0; j < n; j++) values.push(undefined);
    }
    values[i] = value;
  }
  return values === undefined ? EMPTY : (last = new StoreSnapshot(syms, values));
}

/**
 * The last snapshot made (immutable, so it can be handed out again). It keeps its stores reachable
 * until the next capture of other stores: bounded (one snapshot). Forgetting it at
 * the end of the tick was tried and measured: with a `queueMicrotask` here the binding cost +580
 * to +640 ns per queued task instead of +280 to +290, callers without a store too, though they
 * never reach that line (why V8 compiles the capture worse then was not investigated).
 */
let last: StoreSnapshot | undefined;
