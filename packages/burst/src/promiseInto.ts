// `new Promise(capture)` hands out its resolvers through these two slots, read right after: a
// promise with external resolvers without allocating an executor closure per promise
// (Promise.withResolvers is not in Node 20).
// biome-ignore lint/suspicious/noExplicitAny: the slot holds the resolver of any promise type.
let capturedResolve: (value: any) => void = noop;
let capturedReject: (error: unknown) => void = noop;
// biome-ignore lint/suspicious/noExplicitAny: see capturedResolve.
function capture(resolve: (value: any) => void, reject: (error: unknown) => void): void {
  capturedResolve = resolve;
  capturedReject = reject;
}
function noop(): void {}

/** Something settled from outside: a call with a deadline or in a batch, or a caller's waiter. */
export interface Settleable<T> {
  resolve: ((value: T) => void) | undefined;
  reject: ((error: unknown) => void) | undefined;
}

/** A new promise whose resolvers are stored in `target`. */
export function promiseInto<T>(target: Settleable<T>): Promise<T> {
  const promise = new Promise<T>(capture);
  target.resolve = capturedResolve;
  target.reject = capturedReject;
  return promise;
}
