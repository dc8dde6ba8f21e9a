import { AsyncLocalStorage, AsyncResource, executionAsyncResource } from 'node:async_hooks';

/**
 * Runs a function inside an async context captured earlier. An `AsyncResource` is one; so is
 * {@link NO_STORE}. One argument only: the valves pass one, and a fixed arity keeps the call cheap.
 */
export interface CallerContext {
  runInAsyncScope<This, Arg, Result>(fn: (this: This, arg: Arg) => Result, thisArg: This, arg: Arg): Result;
}

/**
 * Node 20 and 22 (without `--experimental-async-context-frame`) keep each AsyncLocalStorage's
 * store as a symbol-keyed property, described `kResourceStore`, of the current async resource;
 * every `AsyncLocalStorage` instance has that symbol as its own `kResourceStore` property. Node
 * 24 keeps stores in an AsyncContextFrame instead: there this module captures every time.
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
 * The no-store probe (in `storeVisible`, and written out in `captureContext`, which runs once per
 * queued task: in a fresh process every call level costs until V8 optimizes the path, issue 14's
 * cold burst): `Promise.resolve()[ASYNC_ID] === undefined` is true only when no
 * AsyncLocalStorage is enabled in the process, so no store is visible anywhere. One fresh promise
 * (about 7 ns with no hooks on; it dies young): the cheapest exact probe found. Reading the hook
 * state once per tick and caching it would miss an `AsyncLocalStorage` first enabled between two
 * calls in the same tick. Only when some hook is on are the current resource's symbols listed.
 */

/** Whether `resource` holds a defined store of some AsyncLocalStorage (about 30 ns: it lists symbols). */
function carriesStore(resource: object): boolean {
  const symbols = Object.getOwnPropertySymbols(resource);
  for (let i = 0; i < symbols.length; i++) {
    const s = symbols[i]!;
    if (s.description === 'kResourceStore' && (resource as Record<symbol, unknown>)[s] !== undefined) return true;
  }
  return false;
}

/**
 * A fresh resource that shows no store: async_hooks copies the current stores into a new resource,
 * so they are cleared on it the way `AsyncLocalStorage#run` restores a store.
 */
function storeFreeResource(): AsyncResource {
  const resource = new AsyncResource('ValveQueued');
  const symbols = Object.getOwnPropertySymbols(resource);
  for (let i = 0; i < symbols.length; i++) {
    const s = symbols[i]!;
    if (s.description === 'kResourceStore') (resource as unknown as Record<symbol, unknown>)[s] = undefined;
  }
  return resource;
}

/**
 * Whether the current async context shows some AsyncLocalStorage a defined store: the no-store
 * probe, then (only while some AsyncLocalStorage is enabled) the symbol listing. A valve that
 * starts the work of a {@link NO_STORE} caller may call it directly when this is false, which is
 * what `NO_STORE.runInAsyncScope` does, without its extra call (the pool's queued hand-over).
 */
export function storeVisible(): boolean {
  return (
    (ASYNC_ID === undefined || (Promise.resolve() as unknown as Record<symbol, unknown>)[ASYNC_ID] !== undefined) &&
    carriesStore(executionAsyncResource())
  );
}

/**
 * The context of a caller that had no AsyncLocalStorage store. Its work runs as called when the
 * context it is started from shows no store either (the common case, and every case in a process
 * that uses no AsyncLocalStorage), and otherwise inside a fresh store-free resource, so that it
 * never sees the store of whichever caller's work happened to start it.
 */
export const NO_STORE: CallerContext = Object.freeze({
  runInAsyncScope<This, Arg, Result>(fn: (this: This, arg: Arg) => Result, thisArg: This, arg: Arg): Result {
    if (!storeVisible()) return fn.call(thisArg, arg);
    return storeFreeResource().runInAsyncScope(fn, thisArg, arg);
  },
});

/**
 * The caller's async context, for work that runs later from someone else's call stack (a queued
 * task started by the task that freed its slot): issue 14 defect 1, where a queued task ran in
 * another request's AsyncLocalStorage context.
 *
 * A caller whose context shows no store gets the shared {@link NO_STORE} (no allocation: a pool
 * can then queue the bare task); any other caller gets a fresh `AsyncResource`. A whole
 * AsyncResource per queued task, kept until the task starts, was measured to cost more than the
 * rest of a queued `add()` (GC of 10^5 retained objects); the no-store probe costs a fresh
 * promise and, only while some AsyncLocalStorage is on, one symbol listing.
 *
 * What is carried is AsyncLocalStorage stores (what OpenTelemetry, loggers and Node's own APIs
 * use). Raw `async_hooks` users that track context by async id (cls-hooked) get, for a caller
 * without a store, the async ids of the context the work starts from.
 */
export function captureContext(): CallerContext {
  if (
    STORES_ON_RESOURCES &&
    ((ASYNC_ID !== undefined && (Promise.resolve() as unknown as Record<symbol, unknown>)[ASYNC_ID] === undefined) ||
      !carriesStore(executionAsyncResource()))
  ) {
    return NO_STORE;
  }
  return new AsyncResource('ValveQueued') as unknown as CallerContext;
}
