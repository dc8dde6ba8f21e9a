/**
 * Control requests of the load test (the demo's /metrics, /events/stats, a route probe): small
 * requests sent between measured runs. On a busy 2-core machine one of them can be slow (the
 * demo's event loop still working off an overload run's backlog), so each attempt is bounded and
 * a failed or slow attempt is retried a few times with a growing pause; only when every attempt
 * failed does the caller see an error ({@link ControlRequestError}), which the run records in
 * that database block's results instead of aborting the whole run.
 *
 * Time comes from a {@link Clock} (the system clock by default; a ManualClock in the tests), and
 * `fetch` can be injected, so the retry policy is tested without a network or real waits.
 */
import { type Clock, systemClock } from '@valve/core';

export interface ControlOptions {
  /** Bound on one attempt, reading the answer's body included (ms). */
  timeoutMs: number;
  /** Attempts in all, the first included. @default 3 */
  attempts?: number;
  /** Pause before the second attempt (ms), doubled before each later one. @default 1000 */
  backoffMs?: number;
  clock?: Clock;
  fetch?: typeof fetch;
  /** Called before each retry with the attempt that failed (1-based) and its error (for the log). */
  onRetry?: (attempt: number, error: unknown) => void;
}

/** Every attempt of a control request failed. */
export class ControlRequestError extends Error {
  constructor(
    readonly url: string,
    /** One message per failed attempt, in order. */
    readonly failures: readonly string[],
  ) {
    super(`${url}: ${failures.length} attempt(s) failed (${failures.join('; ')})`);
    this.name = 'ControlRequestError';
  }
}

const messageOf = (error: unknown) => (error instanceof Error ? `${error.name}: ${error.message}` : String(error));

/**
 * Sends `init` to `url` and hands the answer to `read`; a rejected fetch, a `read` that throws
 * (e.g. on an unexpected status or a body that is not JSON) or an attempt longer than `timeoutMs`
 * counts as a failed attempt. Resolves with the first successful `read`; rejects with a
 * {@link ControlRequestError} listing every attempt's failure once `attempts` have failed.
 */
export async function controlRequest<T>(
  url: string,
  init: RequestInit,
  read: (res: Response) => Promise<T>,
  options: ControlOptions,
): Promise<T> {
  const clock = options.clock ?? systemClock;
  const fetchImpl = options.fetch ?? fetch;
  const attempts = Math.max(1, options.attempts ?? 3);
  const failures: string[] = [];
  let pause = options.backoffMs ?? 1000;
  for (let attempt = 1; ; attempt++) {
    const abort = new AbortController();
    // ref(): the run may have nothing else keeping the process alive while it waits.
    const timer = clock
      .setTimeout(
        () => abort.abort(new DOMException(`no answer within ${options.timeoutMs} ms`, 'TimeoutError')),
        options.timeoutMs,
      )
      .ref();
    try {
      const res = await fetchImpl(url, { ...init, signal: abort.signal });
      return await read(res);
    } catch (error) {
      failures.push(messageOf(abort.signal.aborted ? abort.signal.reason : error));
      if (attempt >= attempts) throw new ControlRequestError(url, failures);
      options.onRetry?.(attempt, error);
    } finally {
      timer.clear();
    }
    await new Promise<void>((resolve) => {
      clock.setTimeout(resolve, pause).ref();
    });
    pause *= 2;
  }
}

/** `read` for JSON answers: a non-2xx status is a failed attempt. */
export async function okJson<T>(res: Response): Promise<T> {
  if (!res.ok) throw new Error(`HTTP ${res.status}`);
  return (await res.json()) as T;
}

/** `read` for text answers: a non-2xx status is a failed attempt. */
export async function okText(res: Response): Promise<string> {
  if (!res.ok) throw new Error(`HTTP ${res.status}`);
  return res.text();
}
