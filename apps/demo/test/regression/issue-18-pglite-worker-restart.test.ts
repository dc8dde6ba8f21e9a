/**
 * Issue 18 item 4: a dead PGlite worker left a zombie. Every later request failed, /healthz kept
 * the process in rotation, the accepted events and audit records were dead-lettered, and nothing
 * restarted the worker. Real PGlite in a real worker (the test fixture wraps the real script and
 * can end the thread on demand); the restart back-off runs on a ManualClock.
 */
import { ManualClock } from '@valve/core';
import { afterEach, describe, expect, it } from 'vitest';
import { startDemo } from '../../src/app.js';
import { PgliteDatabase, type PgliteHealth, type PgliteOptions, type PgliteState } from '../../src/db/pglite.js';
import { getJson, postJson, testConfig } from '../helpers.js';

const crashingWorker = new URL('../fixtures/crashingPgliteWorker.js', import.meta.url);
const openPorts = () => process.getActiveResourcesInfo().filter((r) => r === 'MessagePort').length;

/** A PgliteDatabase on the crashing fixture whose state changes can be awaited. */
function supervised(options: Pick<PgliteOptions, 'restart'> = {}) {
  const clock = new ManualClock();
  const states: PgliteHealth[] = [];
  const listeners = new Set<() => void>();
  const db = new PgliteDatabase({
    workerUrl: crashingWorker,
    clock,
    ...options,
    onStateChange: (h) => {
      states.push(h);
      for (const l of listeners) l();
    },
  });
  /** Resolves when the database reaches `state` (event-driven: its state listener). */
  const reached = (state: PgliteState) =>
    new Promise<void>((resolve) => {
      const check = () => {
        if (db.health().state === state) {
          listeners.delete(check);
          resolve();
        }
      };
      listeners.add(check);
      check();
    });
  const crash = () => (db as unknown as { query: (sql: string) => Promise<unknown> }).query('-- crash');
  return { db, clock, states, reached, crash };
}

let toClose: { close(): Promise<void> }[] = [];
afterEach(async () => {
  await Promise.allSettled(toClose.map((c) => c.close()));
  toClose = [];
});

describe('PgliteDatabase restarts a worker that died (issue 18 item 4)', () => {
  // Each test starts PGlite two to four times (4 s each when idle, 20 s and more on a loaded
  // 2-core machine): bounded generously, every wait inside is event-driven.
  it('in-flight queries reject with ERR_PGLITE_WORKER_EXITED, reads fail fast while down, the restart waits its back-off on the clock, writes wait for it', {
    timeout: 240_000,
  }, async () => {
    const { db, clock, reached, crash } = supervised({ restart: { initialDelayMs: 250, maxDelayMs: 1000 } });
    toClose.push(db);
    await db.init(20);
    expect(db.health()).toMatchObject({ state: 'up', exits: 0, restarts: 0 });
    await db.insertEvents([{ type: 'before', payload: 1, receivedAt: 1 }]);

    await expect(crash()).rejects.toMatchObject({ name: 'PgliteWorkerError', code: 'ERR_PGLITE_WORKER_EXITED' });
    expect(db.health()).toMatchObject({ state: 'restarting', exits: 1, attempt: 1, nextAttemptInMs: 250 });
    // A read does not hang while the worker is down: it rejects at once with a typed error.
    await expect(db.getCustomer(1)).rejects.toMatchObject({ code: 'ERR_PGLITE_UNAVAILABLE' });
    // A write (an acknowledged event) waits for the restart instead of failing.
    const write = db.insertEvents([{ type: 'during', payload: 2, receivedAt: 2 }]);

    await clock.advanceAsync(249);
    expect(db.health()).toMatchObject({ state: 'restarting', restarts: 0, nextAttemptInMs: 1 });
    await clock.advanceAsync(1);
    expect(db.health().nextAttemptInMs).toBeUndefined(); // the attempt is under way
    await reached('up');
    expect(db.health()).toMatchObject({ state: 'up', exits: 1, restarts: 1, attempt: 0 });
    await write;
    // In memory the new worker is a new database: re-created and re-seeded, and the event that
    // waited is stored (the one stored before the crash is gone with the old worker).
    expect(await db.getCustomer(20)).toMatchObject({ id: 20 });
    expect(await db.countEvents()).toBe(1);
  });

  it('the back-off doubles per crash in a row, and after maxAttempts the database reports failed and waiting writes reject', {
    timeout: 240_000,
  }, async () => {
    const { db, clock, reached, crash, states } = supervised({
      restart: { initialDelayMs: 100, maxDelayMs: 150, maxAttempts: 2, writeWaitMs: 60_000 },
    });
    toClose.push(db);
    await db.init(5);
    await crash().catch(() => {});
    expect(db.health()).toMatchObject({ state: 'restarting', nextAttemptInMs: 100 });
    await clock.advanceAsync(100);
    await reached('up');
    // Crashed again right after the restart (well within stableAfterMs): the delay doubles,
    // capped at maxDelayMs.
    await crash().catch(() => {});
    expect(db.health()).toMatchObject({ state: 'restarting', attempt: 2, nextAttemptInMs: 150 });
    await clock.advanceAsync(150);
    await reached('up');
    const waiting = db.insertAudit([{ method: 'GET', route: '/x', status: 200, durationMs: 1, at: 1 }]);
    const beforeCrash = db.health().exits;
    await crash().catch(() => {});
    expect(db.health()).toMatchObject({ state: 'failed', exits: beforeCrash + 1, restarts: 2 });
    expect(states.map((s) => s.state)).toEqual(['up', 'restarting', 'up', 'restarting', 'up', 'failed']);
    await expect(db.getCustomer(1)).rejects.toMatchObject({ code: 'ERR_PGLITE_UNAVAILABLE' });
    await expect(db.insertEvents([{ type: 'x', payload: 1, receivedAt: 1 }])).rejects.toMatchObject({
      code: 'ERR_PGLITE_UNAVAILABLE',
      message: expect.stringMatching(/gave up after 2 failed restart/),
    });
    // The write sent before the third crash was answered by the worker before it died, or
    // rejected with the exit: either way it settled.
    await Promise.allSettled([waiting]);
  });

  it('prepareShutdown() during the back-off restarts at once, so the shutdown drain is not held by the back-off', {
    timeout: 240_000,
  }, async () => {
    const { db, reached, crash } = supervised({ restart: { initialDelayMs: 600_000, maxDelayMs: 600_000 } });
    toClose.push(db);
    await db.init(5);
    await crash().catch(() => {});
    const waiting = db.insertEvents([{ type: 'drained', payload: 1, receivedAt: 1 }]);
    db.prepareShutdown(); // the clock is never advanced
    await reached('up');
    await waiting;
    expect(await db.countEvents()).toBe(1);
    // A crash during shutdown gives up at once instead of waiting out a back-off.
    await crash().catch(() => {});
    expect(db.health().state).toBe('failed');
  });

  it('close() during the back-off cancels the restart, rejects waiting writes and leaves no handle', {
    timeout: 240_000,
  }, async () => {
    const portsBefore = openPorts();
    const { db, clock, crash } = supervised({ restart: { initialDelayMs: 60_000, maxDelayMs: 60_000 } });
    await db.init(5);
    await crash().catch(() => {});
    const waiting = db.insertEvents([{ type: 'x', payload: 1, receivedAt: 1 }]);
    await db.close();
    await expect(waiting).rejects.toMatchObject({ code: 'ERR_PGLITE_WORKER_CLOSED' });
    expect(db.health().state).toBe('closed');
    await clock.advanceAsync(60_000);
    expect(db.health().state).toBe('closed');
    expect(openPorts()).toBe(portsBefore);
  });
});

describe('the demo with a dead PGlite worker (issue 18 item 4)', () => {
  it('answers 503 on /healthz and the database routes while the worker is down, restarts it, counts it in /metrics, and stores the events accepted meanwhile', {
    timeout: 180_000,
  }, async () => {
    const lines: string[] = [];
    let upAgainResolve!: () => void;
    const upAgain = new Promise<void>((resolve) => {
      upAgainResolve = resolve;
    });
    const logTo = (line: string) => {
      lines.push(line);
      if (line.includes('the worker is up again')) upAgainResolve();
    };
    const demo = await startDemo(
      testConfig({
        SEED_CUSTOMERS: '50',
        PGLITE_WORKER_SCRIPT: new URL(crashingWorker).pathname,
        // A real clock in the demo: a short back-off so the restart follows at once.
        PGLITE_RESTART_DELAY_MS: '0',
      }),
      { log: (line) => logTo(line) },
    );
    toClose.push(demo);
    expect((await getJson(`${demo.url}/healthz`)).status).toBe(200);

    const crashed = await postJson(
      `${demo.url}/direct/events`,
      JSON.stringify([{ type: 'valve:crash-worker', payload: 1 }]),
    );
    expect(crashed.status).toBe(503);
    expect(crashed.body.error.code).toBe('database_unavailable');
    const health = await getJson(`${demo.url}/healthz`);
    expect(health.status).toBe(503);
    expect(health.body).toMatchObject({ status: 'unavailable', worker: { state: 'restarting', exits: 1 } });
    const read = await getJson(`${demo.url}/customers/7`);
    expect(read.status).toBe(503);
    expect(read.headers.get('retry-after')).toBe('1');
    const accepted = await postJson(`${demo.url}/events`, JSON.stringify([{ type: 'during', payload: 1 }]));
    expect(accepted.status).toBe(202);

    await upAgain;
    expect((await getJson(`${demo.url}/healthz`)).body).toMatchObject({
      status: 'ok',
      worker: { state: 'up', restarts: 1 },
    });
    expect((await getJson(`${demo.url}/customers/7`)).status).toBe(200);
    const metrics = await (await fetch(`${demo.url}/metrics`)).text();
    expect(metrics).toContain(
      '# TYPE valve_demo_pglite_worker_restarts_total counter\nvalve_demo_pglite_worker_restarts_total 1\n',
    );
    expect(metrics).toContain(
      '# TYPE valve_demo_pglite_worker_exits_total counter\nvalve_demo_pglite_worker_exits_total 1\n',
    );
    expect(metrics).toContain('# TYPE valve_demo_pglite_up_workers gauge\nvalve_demo_pglite_up_workers 1\n');
    expect(metrics).toContain('valve_demo_pglite_worker_restart_delay_seconds 0\n');

    await demo.close();
    // The event accepted while the worker was down was inserted after the restart (drained at
    // close), not dead-lettered.
    expect(demo.valves.events.stats()).toMatchObject({ deadLettered: 0 });
    expect(lines.filter((l) => l.includes('could not be inserted'))).toEqual([]);
  });
});
