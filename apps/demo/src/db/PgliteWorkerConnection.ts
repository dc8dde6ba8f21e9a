/**
 * The main-thread side of the embedded PGlite: a `worker_threads` Worker runs PGlite
 * (`pgliteWorker.js`, which documents the message protocol) and this class turns its messages
 * back into promises, one per query, matched by id.
 *
 * Invariants:
 *   - every query settles exactly once: with its rows, with the database's error (message, code
 *     and PostgreSQL's other fields kept), or, when the worker ends before answering (a crash, an
 *     uncaught throw, `close()` racing it), with a `PgliteWorkerError` naming how it ended;
 *   - after the worker has ended, or once `close()` began, a query rejects at once;
 *   - `close()` resolves after a clean close (the worker said 'closed' and exited with 0) and
 *     rejects when the worker ends otherwise while it closes; on a worker that had already
 *     crashed (reported to every query) it resolves;
 *   - the worker keeps the process alive only while a query, the start or the close waits on it
 *     (it is `unref()`ed when idle, never once `close()` began), so an idle or closed database
 *     never holds an exit, and a pending close is never cut short by one.
 */
import { Worker } from 'node:worker_threads';

/**
 * Why a query or start-up got no answer from the worker, matched by `code` (stable):
 *   - `ERR_PGLITE_WORKER_EXITED`: the worker ended unexpectedly (a crash, an uncaught throw),
 *     before answering or before this query was sent;
 *   - `ERR_PGLITE_WORKER_CLOSED`: `close()` began before this query;
 *   - `ERR_PGLITE_START_FAILED`: PGlite could not start;
 *   - `ERR_PGLITE_UNAVAILABLE`: (PgliteDatabase) the worker is being restarted, or restarts gave up.
 */
export type PgliteWorkerErrorCode =
  | 'ERR_PGLITE_WORKER_EXITED'
  | 'ERR_PGLITE_WORKER_CLOSED'
  | 'ERR_PGLITE_START_FAILED'
  | 'ERR_PGLITE_UNAVAILABLE';

/** A query or start-up that the worker could not answer: it ended first, or was never started. */
export class PgliteWorkerError extends Error {
  override readonly name = 'PgliteWorkerError';
  constructor(
    readonly code: PgliteWorkerErrorCode,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}

/**
 * True for the errors that mean "the embedded database is not there right now" (the worker died,
 * is restarting, or restarts gave up): the HTTP layer answers them with 503, not 500. By name and
 * code, not `instanceof`, like core's `isValveError`.
 */
export function isPgliteUnavailable(error: unknown): error is PgliteWorkerError {
  const e = error as { name?: unknown; code?: unknown } | null | undefined;
  return (
    e?.name === 'PgliteWorkerError' && (e.code === 'ERR_PGLITE_WORKER_EXITED' || e.code === 'ERR_PGLITE_UNAVAILABLE')
  );
}

/** A PostgreSQL error from the worker, rebuilt in this thread with its fields. */
export interface PgliteQueryError extends Error {
  code?: string;
  severity?: string;
  detail?: string;
  hint?: string;
}

type Row = Record<string, unknown>;
type SerializedError = Record<string, string>;

interface Pending {
  resolve: (rows: Row[]) => void;
  reject: (error: Error) => void;
}

type FromWorker =
  | { type: 'ready' }
  | { type: 'failed'; error: SerializedError }
  | { type: 'result'; id: number; rows?: Row[]; error?: SerializedError }
  | { type: 'closed'; error?: SerializedError };

export interface PgliteWorkerOptions {
  /** A directory for PGlite's data; in memory when undefined. */
  dataDir?: string;
  /**
   * The worker script. @default `pgliteWorker.js` next to this module (tests pass a wrapper of it
   * that can crash on demand).
   */
  workerUrl?: URL;
}

function rebuildError(e: SerializedError): PgliteQueryError {
  const error: PgliteQueryError = new Error(e.message);
  for (const [key, value] of Object.entries(e)) {
    if (key !== 'message') (error as unknown as Record<string, string>)[key] = value;
  }
  return error;
}

export class PgliteWorkerConnection {
  private readonly worker: Worker;
  /** Queries sent and not yet answered, by id. Written by `query` (add) and the message handler (delete). */
  private readonly pending = new Map<number, Pending>();
  private nextId = 1;
  /** Set once the worker has ended (or close() began): every later query rejects with it. */
  private ended: PgliteWorkerError | undefined;
  /** The worker's last 'error' event, the cause of an unexpected exit. */
  private crash: Error | undefined;
  /** The worker answered `close` (it closed PGlite and is ending by itself). */
  private closedMessage = false;
  /**
   * Set when the worker ended other than cleanly while `close()` was under way: `close()` rejects
   * with it. (A crash before `close()` was already reported to every query; closing the dead
   * connection afterwards just resolves.)
   */
  private closeError: PgliteWorkerError | undefined;
  private readonly ready: Promise<void>;
  /** Resolves when the thread has ended; never rejects (see the constructor). */
  private readonly exited: Promise<PgliteWorkerError | undefined>;
  /**
   * Resolves once the thread has ended: with the error that every query got when it ended
   * unexpectedly while nobody closed it (a supervisor restarts it then), with undefined when it
   * ended during or after `close()`. Never rejects.
   */
  readonly exit: Promise<PgliteWorkerError | undefined>;
  private closing: Promise<void> | undefined;

  constructor(options: PgliteWorkerOptions = {}) {
    this.worker = new Worker(options.workerUrl ?? new URL('./pgliteWorker.js', import.meta.url), {
      workerData: { dataDir: options.dataDir },
    });
    let readyResolve!: () => void;
    let readyReject!: (e: Error) => void;
    this.ready = new Promise<void>((resolve, reject) => {
      readyResolve = resolve;
      readyReject = reject;
    });
    // init() awaits `ready`; without an early catch, a failed start nobody awaited yet would be an
    // unhandled rejection.
    this.ready.catch(() => {});
    this.worker.on('message', (message: FromWorker) => {
      switch (message.type) {
        case 'ready':
          readyResolve();
          break;
        case 'failed':
          readyReject(
            new PgliteWorkerError('ERR_PGLITE_START_FAILED', `PGlite failed to start: ${message.error.message}`),
          );
          break;
        case 'result': {
          const waiter = this.pending.get(message.id);
          if (waiter === undefined) return;
          this.pending.delete(message.id);
          this.unrefIfIdle();
          if (message.error) waiter.reject(rebuildError(message.error));
          else waiter.resolve(message.rows ?? []);
          break;
        }
        case 'closed':
          this.closedMessage = true;
          break;
      }
    });
    this.worker.on('error', (error) => {
      this.crash = error;
    });
    // Not `events.once(worker, 'exit')`: that promise rejects on the 'error' event a crashing
    // worker emits before 'exit', so the clean-up below would never run and the rejection would
    // go unhandled (found in review: an uncaught throw in the worker took the process down).
    this.exited = new Promise<number>((resolve) => this.worker.once('exit', resolve)).then((code) => {
      const clean = this.closedMessage && code === 0;
      const how = clean
        ? `PgliteWorkerConnection: the PGlite worker closed (exit code ${code})`
        : `PgliteWorkerConnection: the PGlite worker exited unexpectedly (exit code ${code}${this.crash ? `: ${this.crash.message}` : ''})`;
      const exitedCode = 'ERR_PGLITE_WORKER_EXITED';
      if (!clean && this.closing !== undefined) {
        this.closeError = new PgliteWorkerError(exitedCode, how, { cause: this.crash });
      }
      this.ended ??= new PgliteWorkerError(exitedCode, how, { cause: this.crash });
      readyReject(new PgliteWorkerError(exitedCode, `${how} before PGlite started`, { cause: this.crash }));
      const waiting = [...this.pending.values()];
      this.pending.clear();
      for (const waiter of waiting) {
        waiter.reject(
          new PgliteWorkerError(
            exitedCode,
            `${how} with ${waiting.length} quer${waiting.length === 1 ? 'y' : 'ies'} unanswered`,
            {
              cause: this.crash,
            },
          ),
        );
      }
      return this.closing === undefined ? this.ended : undefined;
    });
    this.exit = this.exited;
  }

  /** Resolves once PGlite has started in the worker; rejects if it failed or the worker ended. */
  async start(): Promise<void> {
    await this.ready;
    this.unrefIfIdle();
  }

  /** Lets the process exit while nothing waits on the worker; never once `close()` began. */
  private unrefIfIdle(): void {
    if (this.pending.size === 0 && this.closing === undefined) this.worker.unref();
  }

  query(sql: string, params: unknown[] = []): Promise<Row[]> {
    if (this.ended) return Promise.reject(this.ended);
    const id = this.nextId++;
    return new Promise<Row[]>((resolve, reject) => {
      this.pending.set(id, { resolve, reject });
      if (this.pending.size === 1) this.worker.ref();
      try {
        this.worker.postMessage({ type: 'query', id, sql, params });
      } catch (error) {
        // A parameter the structured clone cannot copy (a function, a symbol): nothing was sent.
        this.pending.delete(id);
        this.unrefIfIdle();
        reject(error);
      }
    });
  }

  /**
   * Lets every query already sent finish, closes PGlite, and waits until the worker has ended.
   * Queries after this call reject at once. Idempotent.
   */
  close(): Promise<void> {
    this.closing ??= (async () => {
      this.ended ??= new PgliteWorkerError('ERR_PGLITE_WORKER_CLOSED', 'PgliteWorkerConnection: closed');
      this.worker.ref();
      const closed = new Promise<SerializedError | undefined>((resolve) => {
        const onMessage = (message: FromWorker) => {
          if (message.type !== 'closed') return;
          this.worker.off('message', onMessage);
          resolve(message.error);
        };
        this.worker.on('message', onMessage);
        void this.exited.then(() => resolve(undefined));
      });
      this.worker.postMessage({ type: 'close' });
      const error = await closed;
      await this.exited;
      if (error) throw rebuildError(error);
      if (this.closeError) throw this.closeError;
    })();
    return this.closing;
  }
}
