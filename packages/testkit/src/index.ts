/**
 * Test helpers for valve's packages. Tests import this TypeScript directly (vitest compiles it),
 * so it is never built or published.
 */

export interface Deferred<T> {
  promise: Promise<T>;
  resolve: (value: T | PromiseLike<T>) => void;
  reject: (error: unknown) => void;
  settled: boolean;
}

/** A promise with its resolve and reject exposed: a gate a test opens when it chooses. */
export function deferred<T = void>(): Deferred<T> {
  let resolve!: (value: T | PromiseLike<T>) => void;
  let reject!: (error: unknown) => void;
  const d = { settled: false } as Deferred<T>;
  d.promise = new Promise<T>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  d.resolve = (v) => {
    d.settled = true;
    resolve(v);
  };
  d.reject = (e) => {
    d.settled = true;
    reject(e);
  };
  return d;
}

/** Lets every queued promise callback run (one macrotask turn). Not a sleep: no time passes. */
export function flush(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}

/** Records how a promise settled, without letting a rejection go unhandled. */
export function track<T>(promise: Promise<T>): {
  readonly state: 'pending' | 'resolved' | 'rejected';
  readonly value: T | undefined;
  readonly error: unknown;
  readonly settleCount: number;
} {
  const t = {
    state: 'pending' as 'pending' | 'resolved' | 'rejected',
    value: undefined as T | undefined,
    error: undefined as unknown,
    settleCount: 0,
  };
  promise.then(
    (v) => {
      t.state = 'resolved';
      t.value = v;
      t.settleCount++;
    },
    (e) => {
      t.state = 'rejected';
      t.error = e;
      t.settleCount++;
    },
  );
  return t;
}

/**
 * Whether a server-backed test may run: returns the URL, or undefined after printing a loud
 * skip message. With VALVE_REQUIRE_SERVICES=1 (set by .ci/run) a missing URL throws instead,
 * so CI can never silently skip.
 */
export function requireService(envName: string, what: string): string | undefined {
  const url = process.env[envName];
  if (url) return url;
  const message = `${envName} is not set: skipping the ${what} tests (set it to run them, e.g. in .ci/run)`;
  if (process.env.VALVE_REQUIRE_SERVICES === '1') throw new Error(`VALVE_REQUIRE_SERVICES=1 but ${message}`);
  console.warn(`\n!!! ${message}\n`);
  return undefined;
}

/**
 * `new Class(...args)` as plain JavaScript may write it: any arguments, one too many included
 * (the checks against ignored arguments, issue 14, are for callers TypeScript does not stop).
 */
export function newUntyped<V>(Class: new (...args: never[]) => V, ...args: unknown[]): V {
  return new (Class as unknown as new (...a: unknown[]) => V)(...args);
}

export { inFreshProcess } from './freshProcess.js';
export { warmAbortSignals } from './warmAbortSignals.js';
export { FlakyRate, LyingConcurrency } from './sources.js';
export { gateOps, runGateModel, type GateOp, type GateResult, type GateValve } from './gateModel.js';
export {
  type ContractWork,
  type RegistryLike,
  type ValveContractCase,
  type ValveLike,
  valveContract,
} from './valveContract.js';
