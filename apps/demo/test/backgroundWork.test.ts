/**
 * Review finding 1 (issue 6): background work could grow without bound. Two tasks were added to
 * the shared PromisePool per request unconditionally, and each audit task waited for audit
 * buffer space, so a stalled audit sink held the workers while the queue grew, and shutdown's
 * `pool.done()` took as long as the backlog. Now the audit record is `offer()`ed (a full buffer
 * drops it, counted through onDrop) and a request's work is skipped (counted) while more than
 * `maxQueued` tasks wait. The middleware is driven with stand-in req/res objects, so every step
 * is synchronous and the counts are exact.
 */
import { EventEmitter } from 'node:events';
import { BackpressureController } from '@valve/backpressure';
import { MetricsRegistry } from '@valve/core';
import { PromisePool } from '@valve/pool';
import { deferred } from '@valve/testkit';
import type { NextFunction, Request, Response } from 'express';
import { afterEach, describe, expect, it } from 'vitest';
import { type BackgroundRefusal, backgroundWork } from '../src/backgroundWork.js';
import type { AuditRecord } from '../src/db/index.js';
import { HttpMetrics } from '../src/httpMetrics.js';

const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0)) await c();
});

/** An audit controller whose sink never finishes until `release()`: the database fell behind. */
function stalledAudit(bufferSize: number) {
  const gate = deferred();
  let dropped = 0;
  let flushes = 0;
  const audit = new BackpressureController<AuditRecord>(
    async () => {
      flushes++;
      await gate.promise;
    },
    {
      name: 'audit',
      maxBufferSize: bufferSize,
      batchSize: bufferSize,
      strategy: 'block',
      maxBlockTimeMs: 0,
      flushConcurrency: 1,
      onDeadLetter: () => {},
      onDrop: (items) => {
        dropped += items.length;
      },
    },
  );
  audit.start();
  return {
    audit,
    dropped: () => dropped,
    flushes: () => flushes,
    release: () => gate.resolve(),
  };
}

function setup(pool: PromisePool, audit: BackpressureController<AuditRecord>) {
  const registry = new MetricsRegistry();
  const refusals: BackgroundRefusal[] = [];
  const middleware = backgroundWork({
    pool,
    audit,
    httpMetrics: new HttpMetrics(registry),
    onRefused: (reason) => refusals.push(reason),
  });
  /** One answered request: the middleware runs, then the response finishes. */
  const request = () => {
    const res = Object.assign(new EventEmitter(), { locals: {}, statusCode: 200 });
    const req = { method: 'GET', baseUrl: '', route: { path: '/customers/:id' } };
    middleware(req as unknown as Request, res as unknown as Response, (() => {}) as NextFunction);
    res.emit('finish');
  };
  const requestsCounted = () => {
    const m = /^valve_demo_http_requests_total\{[^}]*\} (\d+)$/m.exec(registry.toPrometheus());
    return m === null ? 0 : Number(m[1]);
  };
  return { request, refusals, requestsCounted };
}

describe('background work with a stalled audit sink', () => {
  it("keeps the pool queue at most the pool's maxQueued and counts every skipped request", async () => {
    const sink = stalledAudit(5);
    // A paused pool is the worst case: nothing it takes runs until shutdown.
    const pool = new PromisePool({ name: 'background', maxWorkers: 1, maxQueued: 10 });
    pool.pause();
    const { request, refusals, requestsCounted } = setup(pool, sink.audit);
    cleanups.push(async () => {
      sink.release();
      pool.resume();
      await pool.done();
      await sink.audit.stop({ drain: true });
    });

    for (let i = 0; i < 1000; i++) request();

    // 5 requests are taken (2 tasks each fill the 10 places), the rest refused by the pool.
    expect(pool.stats().queued).toBe(10);
    expect(pool.stats().rejectedByReason.queue_full).toBe(2 * 995); // both tasks of each refused request
    expect(refusals).toHaveLength(995);
    expect(new Set(refusals)).toEqual(new Set(['queue_full']));
    // A skipped request still has its metrics sample recorded inline.
    expect(requestsCounted()).toBe(995);
  });

  it('drops audit records on a full buffer instead of holding pool workers', async () => {
    const sink = stalledAudit(5);
    const pool = new PromisePool({ name: 'background', maxWorkers: 1 });
    const { request, refusals, requestsCounted } = setup(pool, sink.audit);
    cleanups.push(async () => {
      sink.release();
      await pool.done();
      await sink.audit.stop({ drain: true });
    });

    for (let i = 0; i < 200; i++) {
      request();
      // Let the pool run what it took: each audit task ends at once, flushed or dropped.
      await pool.drain();
    }

    expect(pool.stats()).toMatchObject({ queued: 0, active: 0, failed: 0 });
    expect(refusals).toEqual([]);
    expect(requestsCounted()).toBe(200);
    // At most one batch in the stalled flush and one buffer full are held; the rest dropped.
    const held = sink.audit.stats().bufferSize + sink.audit.stats().inFlight;
    expect(held).toBeLessThanOrEqual(10);
    expect(sink.dropped() + held).toBe(200);
    expect(sink.flushes()).toBeGreaterThanOrEqual(1);
  });

  it('counts a request answered after the pool closed as refused (closed)', async () => {
    const sink = stalledAudit(5);
    const pool = new PromisePool({ name: 'background', maxWorkers: 1 });
    const { request, refusals } = setup(pool, sink.audit);
    sink.release();
    await pool.done();
    request();
    expect(refusals).toEqual(['closed']);
    await sink.audit.stop({ drain: true });
  });
});
