/**
 * Every example in README.md, as a test (like Go's ExampleGroup). When you change one, change
 * the other. External services are stubs that record what they were asked to do.
 */
import { EventEmitter } from 'node:events';
import { AimdLimit, isValveError, ManualClock } from '@valve/core';
import { deferred, flush } from '@valve/testkit';
import { describe, expect, it } from 'vitest';
import PromisePool, { PromisePool as NamedPool } from '../src/index.js';

const saved: string[] = [];
const saveToS3 = async (data: string) => void saved.push(`s3:${data}`);
const logMetrics = async (data: string) => void saved.push(`metrics:${data}`);
const expensiveBackgroundWork = async (data: string) => void saved.push(`work:${data}`);

describe('README examples', () => {
  it('quick start', async () => {
    saved.length = 0;
    // --- README: Quick start
    const pool = new PromisePool({ maxWorkers: 8 });

    pool.add(
      () => saveToS3('a'),
      () => logMetrics('a'),
    ); // fire and forget
    const user = await pool.run(async () => ({ id: 1 }), { priority: 10 }); // a result
    const summary = await pool.drain(); // { completed, failed, errors, unfinished, durationMs }
    // ---
    expect(user).toEqual({ id: 1 });
    expect(summary).toMatchObject({ completed: 3, failed: 0 });
    expect(saved.sort()).toEqual(['metrics:a', 's3:a']);
  });

  it('factory pattern', () => {
    // --- README: Factory
    function taskPoolFactory() {
      return new PromisePool({ maxWorkers: 6 });
    }
    // ---
    expect(taskPoolFactory().limit).toBe(6);
    expect(NamedPool).toBe(PromisePool);
  });

  it('singleton pattern + Lambda handler', async () => {
    saved.length = 0;
    // --- README: Singleton + Lambda
    const taskPool = new PromisePool({ maxWorkers: 6, runtimeLimitMs: 25_000 });

    const handler = async (event: { body: string }) => {
      taskPool.add(() => logMetrics(event.body));
      taskPool.add(() => saveToS3(event.body));
      taskPool.add(() => expensiveBackgroundWork(event.body));
      const summary = await taskPool.drain(); // rejects with PoolTimeoutError past runtimeLimitMs
      return { statusCode: summary.failed > 0 ? 500 : 200, body: JSON.stringify({ message: 'Success' }) };
    };
    // ---
    expect(await handler({ body: 'x' })).toEqual({ statusCode: 200, body: '{"message":"Success"}' });
    expect(saved.sort()).toEqual(['metrics:x', 's3:x', 'work:x']);
  });

  it('middy middleware', async () => {
    saved.length = 0;
    const taskPool = new PromisePool({ maxWorkers: 6 });
    // --- README: middy
    const taskPoolMiddleware = () => ({
      before: (request: { context: Record<string, unknown> }) => {
        Object.assign(request.context, { taskPool });
      },
      after: async (request: { context: { taskPool?: PromisePool } }) => {
        await request.context.taskPool?.drain();
      },
    });
    // ---
    // What middy does around a handler:
    const mw = taskPoolMiddleware();
    const request = { context: {} as { taskPool?: PromisePool } };
    mw.before(request);
    const gate = deferred();
    request.context.taskPool!.add(async () => {
      await gate.promise;
      await saveToS3('m');
    });
    let afterDone = false;
    const after = mw.after(request).then(() => {
      afterDone = true;
    });
    await flush();
    expect(afterDone).toBe(false);
    gate.resolve();
    await after;
    expect(saved).toEqual(['s3:m']);
  });

  it('Express middleware (tested with fake req/res objects)', async () => {
    saved.length = 0;
    const taskPoolSingleton = new PromisePool({ maxWorkers: 6 });
    const reported: unknown[] = [];
    const reportError = (e: unknown) => reported.push(e);
    type Req = { taskPool?: PromisePool; body?: string };
    type Res = EventEmitter;
    type Next = (error?: unknown) => void;
    // --- README: Express
    const taskPoolMiddleware = {
      setup: (req: Req, res: Res, next: Next) => {
        req.taskPool = taskPoolSingleton;
        // Drain once the response is sent: the user never waits for background work.
        res.once('finish', () => {
          taskPoolSingleton.drain().catch(reportError);
        });
        next();
      },
    };
    const postUser = (req: Req, res: Res & { json(body: unknown): void }) => {
      const data = String(req.body);
      req.taskPool!.add(
        () => logMetrics(data),
        () => saveToS3(data),
        () => expensiveBackgroundWork(data),
      );
      res.json({ ok: true });
    };
    // app.use(taskPoolMiddleware.setup); app.post('/users', postUser);
    // ---
    const res = new EventEmitter() as EventEmitter & { sent?: unknown; json(body: unknown): void };
    res.json = (body) => {
      res.sent = body;
      res.emit('finish');
    };
    const req: Req = { body: 'u1' };
    let nextCalls = 0;
    taskPoolMiddleware.setup(req, res, () => nextCalls++);
    expect(nextCalls).toBe(1);
    postUser(req, res);
    expect(res.sent).toEqual({ ok: true });
    await taskPoolSingleton.onIdle();
    expect(saved.sort()).toEqual(['metrics:u1', 's3:u1', 'work:u1']);
    expect(reported).toEqual([]);
  });

  it('rate limits and Retry-After', async () => {
    const clock = new ManualClock();
    const calls: number[] = [];
    let throttled = true;
    const fetchPage = async (page: number) => {
      calls.push(clock.now());
      if (throttled && page === 2) {
        throttled = false;
        return { status: 429, retryAfterS: 2, page };
      }
      return { status: 200, retryAfterS: 0, page };
    };
    // --- README: rate limit
    const api = new PromisePool({ maxWorkers: 4, rate: 10, hz: 1000, tokenLimit: 10, clock }); // 10 starts/s

    async function getPage(page: number): Promise<number> {
      const res = await api.run(() => fetchPage(page));
      if (res.status === 429) {
        api.pauseFor(res.retryAfterS * 1000); // nothing starts until the server is ready
        return getPage(page);
      }
      return res.page;
    }
    // ---
    const pages = Promise.all([1, 2, 3].map(getPage));
    await clock.advanceAsync(2000);
    expect(await pages).toEqual([1, 2, 3]);
    expect(calls).toEqual([0, 0, 0, 2000]);
  });

  it('producers wait with onSizeLessThan', async () => {
    const pool = new PromisePool({ maxWorkers: 2 });
    const rows = Array.from({ length: 50 }, (_, i) => i);
    const seen: number[] = [];
    let maxWaiting = 0;
    const insert = async (row: number) => {
      maxWaiting = Math.max(maxWaiting, pool.size);
      seen.push(row);
    };
    // --- README: back pressure
    for (const row of rows) {
      await pool.onSizeLessThan(10); // never more than 10 waiting in memory
      pool.add(() => insert(row));
    }
    await pool.done();
    // ---
    expect(seen).toHaveLength(50);
    expect(maxWaiting).toBeLessThan(10);
  });

  it('map', async () => {
    const fetchUser = async (id: number) => ({ id });
    // --- README: map
    const users = await PromisePool.map([1, 2, 3], (id) => fetchUser(id), { maxWorkers: 2 });
    // ---
    expect(users).toEqual([{ id: 1 }, { id: 2 }, { id: 3 }]);
  });

  it('adaptive concurrency', async () => {
    const clock = new ManualClock();
    // --- README: adaptive
    const limit = new AimdLimit({ initialLimit: 4, minLimit: 1, maxLimit: 64 });
    const pool = new PromisePool({ maxWorkers: limit, clock }); // grows while tasks succeed, shrinks on failures
    // ---
    for (let i = 0; i < 40; i++) pool.add(async () => {});
    await pool.drain();
    const grown = pool.limit;
    expect(grown).toBeGreaterThan(4);
    for (let i = 0; i < 10; i++) pool.add(() => Promise.reject(new Error('overloaded')));
    await pool.drain();
    expect(pool.limit).toBeLessThan(grown);
  });

  it('errors are typed', async () => {
    const pool = new PromisePool();
    await pool.done();
    // --- README: errors
    try {
      pool.add(async () => {});
    } catch (error) {
      if (isValveError(error, 'ERR_VALVE_CLOSED')) {
        /* the pool was finalized with done() */
      }
    }
    // ---
    expect(() => pool.add(async () => {})).toThrow(expect.objectContaining({ code: 'ERR_VALVE_CLOSED' }));
  });
  it('bounded queue: refuse, or make the producer wait', async () => {
    const sent: string[] = [];
    const sendEmail = async (u: string) => void sent.push(u);
    const reply503 = () => 'busy';
    const pool = new PromisePool({ maxWorkers: 4, maxQueued: 100 });
    const handler = async (user: string) => {
      // --- README: bounded queue (refuse)
      try {
        await pool.run(() => sendEmail(user));
      } catch (error) {
        if (isValveError(error, 'ERR_VALVE_QUEUE_FULL')) return reply503();
        throw error;
      }
      // ---
      return 'sent';
    };
    await expect(handler('ann')).resolves.toBe('sent');
    const inserted: number[] = [];
    const insert = async (row: number) => void inserted.push(row);
    async function* readRows() {
      for (let i = 0; i < 300; i++) yield i;
    }
    const rows = readRows();
    const signal = new AbortController().signal;
    // --- README: bounded queue (wait)
    for await (const row of rows) {
      await pool.addWhenRoom(() => insert(row), { signal });
    }
    // ---
    await pool.drain();
    expect(inserted).toHaveLength(300);
    expect(pool.stats().rejected).toBe(0);
    const full = new PromisePool({ maxWorkers: 1, maxQueued: 1 });
    const gate = deferred();
    full.add(
      () => gate.promise,
      () => gate.promise,
    );
    const fullPoolHandler = async () => {
      try {
        await full.run(() => sendEmail('bob'));
      } catch (error) {
        if (isValveError(error, 'ERR_VALVE_QUEUE_FULL')) return reply503();
        throw error;
      }
      return 'sent';
    };
    await expect(fullPoolHandler()).resolves.toBe('busy');
    gate.resolve();
    await full.drain();
  });

  it('streaming map over an async iterable', async () => {
    async function* readIds() {
      for (let i = 1; i <= 20; i++) yield i;
    }
    const fetchUser = async (id: number) => ({ id });
    const written: number[] = [];
    const write = async (user: { id: number }) => void written.push(user.id);
    // --- README: mapIterable
    for await (const user of PromisePool.mapIterable(readIds(), (id) => fetchUser(id), { concurrency: 8 })) {
      await write(user); // a slow consumer slows the source down
    }
    // ---
    expect(written).toEqual(Array.from({ length: 20 }, (_, i) => i + 1));
  });

  it('changing concurrency at run time', async () => {
    const gate = deferred();
    // --- README: concurrency
    const pool = new PromisePool({ maxWorkers: 2 });
    // ---
    for (let i = 0; i < 12; i++) pool.add(() => gate.promise);
    pool.concurrency = 10; // starts up to 8 more queued tasks now
    expect(pool.active).toBe(10);
    pool.concurrency = 1; // running tasks finish; new ones start once fewer than 1 run
    expect(pool.active).toBe(10);
    gate.resolve();
    await pool.drain();
  });
});
