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
 * The `kResourceStore` symbols seen so far, one per AsyncLocalStorage (bounded by the number of
 * instances the process creates). A snapshot's values are indexed like this list; a symbol added
 * after a snapshot was taken reads as "no store" for it, which is right: that storage was not
 * enabled when the snapshot was taken, so its caller saw none.
 */
const knownStores: symbol[] = [];

/** Adds the `kResourceStore` symbols among `holder`'s own ones to {@link knownStores}. */
function learnStores(holder: object): void {
  const symbols = Object.getOwnPropertySymbols(holder);
  for (let i = 0; i < symbols.length; i++) {
    const s = symbols[i]!;
    if (s.description === 'kResourceStore' && !knownStores.includes(s)) knownStores.push(s);
  }
}

/** Whether `resource` shows a defined store under a known symbol (a few ns). */
function knownStoreOn(resource: object): boolean {
  for (let i = 0; i < knownStores.length; i++) {
    if ((resource as Record<symbol, unknown>)[knownStores[i]!] !== undefined) return true;
  }
  return false;
}

/**
 * Runs `fn` with the current resource's stores set to `values` (indexed like `knownStores`;
 * missing ones undefined), then puts them back: what `AsyncLocalStorage#run` does for one store,
 * for all of them. Promises `fn` creates copy these stores, so its continuations resume in them.
 * No `AsyncResource` per unit: entering a fresh resource per queued task cost +400-800 ns per
 * task on Node 20 in the pool's pattern (the resource alone, or a shared one entered, cost ~0-50
 * ns each: the pair is what costs), where setting the properties costs a few ns.
 */
function runWithStores<This, Arg, Result>(
  first: unknown,
  values: readonly unknown[] | undefined,
  fn: (this: This, arg: Arg) => Result,
  thisArg: This,
  arg: Arg,
): Result {
  const resource = executionAsyncResource() as Record<symbol, unknown>;
  const n = knownStores.length;
  if (n === 1) {
    // The common case (one AsyncLocalStorage in the process, e.g. a tracer's): no array.
    const s = knownStores[0]!;
    const saved = resource[s];
    resource[s] = first;
    try {
      return fn.call(thisArg, arg);
    } finally {
      resource[s] = saved;
    }
  }
  const saved = new Array<unknown>(n);
  for (let i = 0; i < n; i++) {
    const s = knownStores[i]!;
    saved[i] = resource[s];
    resource[s] = values === undefined ? (i === 0 ? first : undefined) : values[i];
  }
  try {
    return fn.call(thisArg, arg);
  } finally {
    for (let i = 0; i < n; i++) resource[knownStores[i]!] = saved[i];
  }
}

/**
 * The stores a caller saw when its work was queued (see {@link captureContext}): `first` is the
 * store under `knownStores[0]`, `values` all of them (indexed like `knownStores`) or undefined when
 * only the first was defined, so the one-storage process allocates this object only.
 */
class StoreSnapshot implements CallerContext {
  constructor(
    readonly first: unknown,
    readonly values: readonly unknown[] | undefined,
  ) {}

  runInAsyncScope<This, Arg, Result>(fn: (this: This, arg: Arg) => Result, thisArg: This, arg: Arg): Result {
    return runWithStores(this.first, this.values, fn, thisArg, arg);
  }
}

/**
 * A caller that saw no store while some AsyncLocalStorage was on: its work runs as called unless
 * the context it starts from shows a known store, then with every known store cleared. Complete,
 * because the capture listed every enabled storage's symbol into `knownStores`.
 */
const EMPTY: CallerContext = Object.freeze({
  runInAsyncScope<This, Arg, Result>(fn: (this: This, arg: Arg) => Result, thisArg: This, arg: Arg): Result {
    if (!knownStoreOn(executionAsyncResource())) return fn.call(thisArg, arg);
    return runWithStores(undefined, undefined, fn, thisArg, arg);
  },
});

/**
 * Whether the current async context shows some AsyncLocalStorage a defined store: the known
 * symbols first (a few ns), then the probe (no hook on: no store anywhere), then a listing of the
 * current resource's symbols (about 160 ns; it also learns symbols not seen yet). A valve that
 * starts the work of a {@link NO_STORE} caller may call it directly when this is false, which is
 * what `NO_STORE.runInAsyncScope` does, without its extra call (the pool's queued hand-over).
 */
export function storeVisible(): boolean {
  // No storage seen yet: straight to the probe (in a process without AsyncLocalStorage this is
  // all it costs; `executionAsyncResource()` is not even called, since calling it makes Node track
  // resources for JS from then on).
  if (knownStores.length !== 0 && knownStoreOn(executionAsyncResource())) return true;
  if (ASYNC_ID !== undefined && (Promise.resolve() as unknown as Record<symbol, unknown>)[ASYNC_ID] === undefined) {
    return false;
  }
  const resource = executionAsyncResource();
  learnStores(resource);
  return knownStoreOn(resource);
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
    return runWithStores(undefined, undefined, fn, thisArg, arg);
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
 *   single store). Starting the work sets those stores on the current resource for the call and
 *   puts the old ones back, as `AsyncLocalStorage#run` does. Measured on Node 20 in a pool's
 *   queued `add()`: +0.2-0.3 µs per task, where an `AsyncResource` per task cost +1.2 µs.
 *
 * What is carried is AsyncLocalStorage stores (what OpenTelemetry, loggers and Node's own APIs
 * use). Raw `async_hooks` users that track context by async id (cls-hooked) see the async ids of
 * the context the work starts from. Two edges, both about a storage no capture has seen yet
 * (first used after the last capture by any valve), whose symbol the start cannot know to set:
 * entered with `enterWith` inside a queued task's synchronous part, its store stays on the context
 * the valve goes on in, where work started next can see it; and work queued before it was used,
 * started synchronously inside its `run` (say `pool.resume()` there), sees its store. Each lasts
 * until the next capture lists the storage. `run` inside the work is not affected.
 */
export function captureContext(): CallerContext {
  if (!STORES_ON_RESOURCES) return new AsyncResource('ValveQueued') as unknown as CallerContext;
  const holder = Promise.resolve() as unknown as Record<symbol, unknown>;
  if (ASYNC_ID !== undefined && holder[ASYNC_ID] === undefined) return NO_STORE;
  learnStores(holder);
  const n = knownStores.length;
  const first = n === 0 ? undefined : holder[knownStores[0]!];
  let values: unknown[] | undefined;
  for (let i = 1; i < n; i++) {
    const value = holder[knownStores[i]!];
    if (value === undefined) continue;
    if (values === undefined) {
      values = [];
      for (let j = 0; j < n; j++) values.push(j === 0 ? first : undefined);
    }
    values[i] = value;
  }
  if (values === undefined) {
    if (first === undefined) return EMPTY;
    // Work queued from one context (a request adding many tasks) shares one snapshot.
    if (last !== undefined && last.values === undefined && last.first === first) return last;
    return (last = new StoreSnapshot(first, undefined));
  }
  return new StoreSnapshot(first, values);
}

/**
 * The last one-store snapshot made (immutable, so it can be handed out again). It keeps that one
 * store reachable until the next capture of another store: bounded (one object). Forgetting it at
 * the end of the tick was tried and measured: with a `queueMicrotask` here the binding cost +580
 * to +640 ns per queued task instead of +280 to +290, callers without a store too, though they
 * never reach that line (why V8 compiles the capture worse then was not investigated).
 */
let last: StoreSnapshot | undefined;
