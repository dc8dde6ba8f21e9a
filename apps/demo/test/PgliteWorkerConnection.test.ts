/**
 * The embedded PGlite in its worker thread, for real (no mock of PGlite or of the worker): query,
 * error propagation, close, and a crash of the worker with queries unanswered.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PgliteWorkerConnection, PgliteWorkerError } from '../src/db/PgliteWorkerConnection.js';

const crashingWorker = new URL('./fixtures/crashingPgliteWorker.js', import.meta.url);

/** Message ports holding the process open (a ref'd Worker shows as one). */
const openPorts = () => process.getActiveResourcesInfo().filter((r) => r === 'MessagePort').length;

describe('PgliteWorkerConnection (real PGlite in a worker thread)', () => {
  let connection: PgliteWorkerConnection;
  let portsBefore: number;

  beforeAll(async () => {
    portsBefore = openPorts();
    connection = new PgliteWorkerConnection();
    await connection.start();
  });

  afterAll(async () => {
    await connection?.close();
  });

  it('runs parameterized queries and returns their rows', async () => {
    expect(await connection.query('SELECT $1::int + 1 AS n, $2::text AS s', [41, "it's"])).toEqual([
      { n: 42, s: "it's" },
    ]);
  });

  it('answers concurrent queries each with its own rows', async () => {
    const answers = await Promise.all(
      Array.from({ length: 50 }, (_, i) => connection.query('SELECT $1::int AS i', [i])),
    );
    expect(answers.map((rows) => rows[0].i)).toEqual(Array.from({ length: 50 }, (_, i) => i));
  });

  it("rejects with the database's error, message and code kept, and keeps working", async () => {
    await expect(connection.query('SELECT * FROM no_such_table')).rejects.toMatchObject({
      message: 'relation "no_such_table" does not exist',
      code: '42P01',
      severity: 'ERROR',
    });
    expect(await connection.query('SELECT 1 AS one')).toEqual([{ one: 1 }]);
  });

  it('does not hold the process open while idle', async () => {
    await connection.query('SELECT 1');
    expect(openPorts()).toBe(portsBefore);
  });
});

describe('PgliteWorkerConnection.close()', () => {
  it('lets queries already sent finish, then rejects new ones, and the worker has ended', async () => {
    const portsBefore = openPorts();
    const connection = new PgliteWorkerConnection();
    await connection.start();
    const sent = connection.query('SELECT 7 AS n');
    const closed = connection.close();
    expect(connection.close()).toBe(closed);
    await expect(connection.query('SELECT 1')).rejects.toThrow(PgliteWorkerError);
    expect(await sent).toEqual([{ n: 7 }]);
    await closed;
    await expect(connection.query('SELECT 1')).rejects.toThrow(/closed/);
    expect(openPorts()).toBe(portsBefore);
  });
});

describe('PgliteWorkerConnection: the worker crashes', () => {
  it('rejects every unanswered query with an error naming the exit, and every later query at once', async () => {
    const portsBefore = openPorts();
    const connection = new PgliteWorkerConnection({ workerUrl: crashingWorker });
    await connection.start();
    expect(await connection.query('SELECT 1 AS one')).toEqual([{ one: 1 }]);
    // Sent together: the worker dies on the first, so none of them is ever answered.
    const unanswered = [connection.query('-- crash'), connection.query('SELECT 2'), connection.query('SELECT 3')];
    const results = await Promise.allSettled(unanswered);
    for (const result of results) {
      expect(result.status).toBe('rejected');
      const reason = (result as PromiseRejectedResult).reason;
      expect(reason).toBeInstanceOf(PgliteWorkerError);
      expect(reason.message).toMatch(/exited unexpectedly \(exit code 3\) with 3 queries unanswered/);
    }
    await expect(connection.query('SELECT 4')).rejects.toThrow(/exited unexpectedly/);
    await connection.close();
    expect(openPorts()).toBe(portsBefore);
  });

  // Review finding: `events.once(worker, 'exit')` rejected on the 'error' event a throwing worker
  // emits first, so the queries never settled and the rejection went unhandled (the process died).
  it('an uncaught throw in the worker rejects the waiting queries with its message', async () => {
    const portsBefore = openPorts();
    const connection = new PgliteWorkerConnection({ workerUrl: crashingWorker });
    await connection.start();
    const unanswered = [connection.query('-- throw'), connection.query('SELECT 2')];
    for (const result of await Promise.allSettled(unanswered)) {
      expect(result.status).toBe('rejected');
      expect((result as PromiseRejectedResult).reason.message).toMatch(
        /exited unexpectedly \(exit code 1: boom in the worker\) with 2 queries unanswered/,
      );
    }
    await expect(connection.query('SELECT 3')).rejects.toThrow(/boom in the worker/);
    // Already reported to every query: closing the dead connection resolves.
    await connection.close();
    expect(openPorts()).toBe(portsBefore);
  });

  it('a worker that dies while closing makes close() reject', async () => {
    const connection = new PgliteWorkerConnection({ workerUrl: crashingWorker });
    await connection.start();
    expect(await connection.query('SELECT 5 AS n -- exit-on-close')).toEqual([{ n: 5 }]);
    await expect(connection.close()).rejects.toThrow(/exited unexpectedly \(exit code 4\)/);
  });

  it('a PGlite that cannot start rejects start() and leaves nothing unhandled', async () => {
    const portsBefore = openPorts();
    const connection = new PgliteWorkerConnection({ dataDir: '/proc/valve-no-such-dir/data' });
    await expect(connection.start()).rejects.toThrow(/PGlite failed to start/);
    await expect(connection.query('SELECT 1')).rejects.toThrow(PgliteWorkerError);
    await connection.close();
    expect(openPorts()).toBe(portsBefore);
  });
});

describe('PgliteWorkerConnection.close() keeps the process alive until it is done', () => {
  // Review finding: the last answer before a pending close unref'd the worker, so a process with
  // nothing else to do could exit before PGlite had closed and close() had settled.
  it("the worker stays ref'd from close() until the thread has ended", async () => {
    const portsBefore = openPorts();
    const connection = new PgliteWorkerConnection();
    await connection.start();
    const sent = connection.query('SELECT 8 AS n');
    const closed = connection.close();
    expect(await sent).toEqual([{ n: 8 }]);
    expect(openPorts()).toBeGreaterThan(portsBefore);
    await closed;
    expect(openPorts()).toBe(portsBefore);
  });
});
