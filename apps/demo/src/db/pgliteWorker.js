// @ts-check
/**
 * The embedded PGlite, run in a `worker_threads` Worker (started by PgliteWorkerConnection).
 *
 * Why a worker: PGlite is PostgreSQL compiled to WASM, and a query's work runs synchronously on
 * whichever thread calls it. On the server's own event loop, a query was never "in flight" while
 * another request was parsed, so a BurstValve had nothing to coalesce and a SafetyValve never saw
 * a queue (the backlog sat in the kernel's socket queues). Here the queries run on their own
 * thread: to the server they take real time off its event loop, as a database server's do.
 *
 * Plain JavaScript (type-checked by `// @ts-check`) so that the same relative URL works from the
 * TypeScript sources under vitest and from `dist/` after the build, which copies this file.
 *
 * Protocol (structured clone over the worker's port):
 *   worker -> main, once:  {type: 'ready'} | {type: 'failed', error}
 *   main -> worker:        {type: 'query', id, sql, params}  ->  {type: 'result', id, rows} | {type: 'result', id, error}
 *   main -> worker:        {type: 'close'}  ->  every query already received settles, PGlite closes,
 *                          {type: 'closed'}, the port closes and the thread ends by itself.
 * `error` is a plain object: the message, name and PostgreSQL's fields (code, severity, detail, …).
 * A message of any other shape is a bug in the caller: it is thrown, uncaught, and ends the worker.
 */
import { inspect } from 'node:util';
import { parentPort, workerData } from 'node:worker_threads';
import { PGlite } from '@electric-sql/pglite';

/** PostgreSQL error fields kept across the thread boundary (strings only). */
const FIELDS = ['code', 'severity', 'detail', 'hint', 'position', 'where', 'schema', 'table', 'column', 'constraint'];

/**
 * @param {unknown} error
 * @returns {Record<string, string>}
 */
function serializeError(error) {
  if (!(error instanceof Error)) {
    // Emscripten's file-system errors (a bad data directory) are plain objects, not Errors:
    // String() would say "[object Object]", so keep their errno/code and show the rest.
    const fields = /** @type {Record<string, unknown>} */ (typeof error === 'object' && error !== null ? error : {});
    /** @type {Record<string, string>} */
    const out = { name: 'Error', message: typeof error === 'string' ? error : inspect(error, { depth: 2 }) };
    if (fields.code !== undefined) out.code = String(fields.code);
    if (fields.errno !== undefined) out.errno = String(fields.errno);
    return out;
  }
  /** @type {Record<string, string>} */
  const out = { name: error.name, message: error.message };
  const fields = /** @type {Record<string, unknown>} */ (/** @type {unknown} */ (error));
  for (const field of FIELDS) if (typeof fields[field] === 'string') out[field] = fields[field];
  return out;
}

const port = parentPort;
if (port === null) throw new Error('pgliteWorker.js runs only as a worker_threads Worker');
const dataDir = /** @type {{ dataDir?: string } | undefined} */ (workerData)?.dataDir;

/** @type {PGlite} */
let db;
try {
  db = await PGlite.create(dataDir);
} catch (error) {
  port.postMessage({ type: 'failed', error: serializeError(error) });
  port.close();
  throw error;
}

/** Queries received and not yet answered; `close` waits for them. Written only by the handler below. */
const inFlight = new Set();

port.on('message', (message) => {
  if (message?.type === 'query' && Number.isInteger(message.id) && typeof message.sql === 'string') {
    const { id, sql, params } = message;
    const done = db.query(sql, params).then(
      (result) => port.postMessage({ type: 'result', id, rows: result.rows }),
      (error) => port.postMessage({ type: 'result', id, error: serializeError(error) }),
    );
    inFlight.add(done);
    done.finally(() => inFlight.delete(done));
    return;
  }
  if (message?.type === 'close') {
    Promise.allSettled([...inFlight])
      .then(() => db.close())
      .then(
        () => port.postMessage({ type: 'closed' }),
        (error) => port.postMessage({ type: 'closed', error: serializeError(error) }),
      )
      .finally(() => port.close());
    return;
  }
  throw new TypeError(`pgliteWorker: unexpected message ${JSON.stringify(message)?.slice(0, 200)}`);
});
port.postMessage({ type: 'ready' });
