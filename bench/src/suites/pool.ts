/**
 * @valve/pool against p-limit, p-queue, fastq (callback and promise APIs),
 * @supercharge/promise-pool, @elite-libs/promise-pool (the seed) and two hand-written floors:
 * a counter with an array queue (fire-and-forget) and the same handing out one promise per task.
 *
 * Every contender runs the same tasks: a shared task function that resolves at once
 * (`Promise.resolve()`) or on the next `setImmediate`. A `run()` does all `ops` tasks and waits
 * for all of them. Fire-and-forget contenders wait on their own completion signal (drain, onIdle);
 * promise-per-task contenders on `Promise.all` of the promises they returned.
 */
import { PromisePool as SuperchargePool } from '@supercharge/promise-pool';
import { PromisePool as ElitePool } from '@elite-libs/promise-pool';
import { PromisePool } from '@valve/pool';
import fastq from 'fastq';
import pLimit from 'p-limit';
import PQueue from 'p-queue';
import { type Case, type Contender, defineSuite } from '../harness.js';

type AsyncTask = () => Promise<void>;

const immediate: AsyncTask = () => Promise.resolve();
const onSetImmediate: AsyncTask = () => new Promise<void>((resolve) => setImmediate(resolve));

/** Floor 1: a counter and an array queue (read by index, reset when empty); no results. */
function fireAndForgetFloor(concurrency: number, total: number): (task: AsyncTask) => void {
  let active = 0;
  let done = 0;
  let queue: AsyncTask[] = [];
  let head = 0;
  let finish: () => void = () => {};
  const next = (): void => {
    active--;
    done++;
    if (head < queue.length) {
      active++;
      const t = queue[head]!;
      queue[head++] = undefined as unknown as AsyncTask;
      t().then(next);
    } else if (head > 0) {
      queue = [];
      head = 0;
    }
    if (done === total) finish();
  };
  const add = (task: AsyncTask): void => {
    if (active < concurrency) {
      active++;
      task().then(next);
    } else queue.push(task);
  };
  (add as unknown as { whenDone: Promise<void> }).whenDone = new Promise<void>((r) => {
    finish = r;
  });
  return add;
}

/** Floor 2: the same, handing out one promise per task. */
function promiseFloor(concurrency: number): (task: AsyncTask) => Promise<void> {
  let active = 0;
  let queue: (() => void)[] = [];
  let head = 0;
  const next = (): void => {
    active--;
    if (head < queue.length) {
      active++;
      const start = queue[head]!;
      queue[head++] = undefined as unknown as () => void;
      start();
    } else if (head > 0) {
      queue = [];
      head = 0;
    }
  };
  return (task) =>
    new Promise<void>((resolve, reject) => {
      const start = (): void => {
        task().then(
          (v) => {
            resolve(v);
            next();
          },
          (e) => {
            reject(e);
            next();
          },
        );
      };
      if (active < concurrency) {
        active++;
        start();
      } else queue.push(start);
    });
}

function fireAndForgetCase(ops: number, c: number, kind: string, task: AsyncTask): Case {
  const contenders: Contender[] = [
    {
      name: '@valve/pool add()',
      run: async () => {
        const pool = new PromisePool({ maxWorkers: c });
        for (let i = 0; i < ops; i++) pool.add(task);
        await pool.drain();
      },
    },
    {
      name: 'floor: counter + array',
      run: async () => {
        const add = fireAndForgetFloor(c, ops);
        for (let i = 0; i < ops; i++) add(task);
        await (add as unknown as { whenDone: Promise<void> }).whenDone;
      },
    },
    {
      name: 'fastq (callback)',
      run: async () => {
        const q = fastq((t: AsyncTask, cb: (err: Error | null) => void) => {
          t().then(() => cb(null), cb);
        }, c);
        const drained = new Promise<void>((r) => {
          q.drain = r;
        });
        for (let i = 0; i < ops; i++) q.push(task);
        await drained;
      },
    },
  ];
  // @supercharge/promise-pool scans its active tasks per start: at concurrency 1024 with
  // setImmediate tasks it took more than 30 s for 10^5 tasks, so it runs at 1 and 16 only.
  if (c <= 16) {
    contenders.push({
      name: '@supercharge/promise-pool',
      run: async () => {
        const items = new Array<AsyncTask>(ops).fill(task);
        await SuperchargePool.withConcurrency(c)
          .for(items)
          .process((t) => t());
      },
    });
  }
  return { title: `add, fire-and-forget: ${ops} tasks, concurrency ${c}, ${kind}`, ops, contenders };
}

function promiseCase(ops: number, c: number, kind: string, task: AsyncTask): Case {
  const all = async (make: () => (t: AsyncTask) => Promise<unknown>) => {
    const run = make();
    const ps = new Array<Promise<unknown>>(ops);
    for (let i = 0; i < ops; i++) ps[i] = run(task);
    await Promise.all(ps);
  };
  const contenders: Contender[] = [
    {
      name: '@valve/pool run()',
      run: () =>
        all(() => {
          const pool = new PromisePool({ maxWorkers: c });
          return (t) => pool.run(t);
        }),
    },
    { name: 'floor: promise per task', run: () => all(() => promiseFloor(c)) },
    {
      name: 'p-limit',
      run: () =>
        all(() => {
          const limit = pLimit(c);
          return (t) => limit(t);
        }),
    },
    {
      name: 'fastq.promise',
      run: () =>
        all(() => {
          const q = fastq.promise((t: AsyncTask) => t(), c);
          return (t) => q.push(t);
        }),
    },
    {
      name: 'p-queue',
      run: () =>
        all(() => {
          const q = new PQueue({ concurrency: c });
          return (t) => q.add(t);
        }),
    },
  ];
  return { title: `run, promise per task: ${ops} tasks, concurrency ${c}, ${kind}`, ops, contenders };
}

/** The seed is O(n) per add (it filters its whole task list), so it gets its own, smaller case. */
function seedCase(ops: number): Case {
  return {
    title: `add + drain vs the seed: ${ops} tasks, concurrency 16, immediate`,
    ops,
    contenders: [
      {
        name: '@valve/pool add()',
        run: async () => {
          const pool = new PromisePool({ maxWorkers: 16 });
          for (let i = 0; i < ops; i++) pool.add(immediate);
          await pool.drain();
        },
      },
      {
        name: '@elite-libs/promise-pool',
        run: async () => {
          const pool = new ElitePool({ maxWorkers: 16 });
          for (let i = 0; i < ops; i++) pool.add(immediate);
          await pool.drain();
        },
      },
    ],
  };
}

/**
 * Heap per queued task: one blocking task holds the only slot while `n` more wait. The blocker
 * is a fresh never-settling promise per fill, so nothing keeps a filled queue alive afterwards
 * (a shared one would hold every contender's queue through its reactions).
 */
function heapCase(n: number): Case {
  const gc = (globalThis as { gc?: () => void }).gc;
  const measure = (fill: (blocker: AsyncTask) => unknown): number => {
    gc?.();
    const before = process.memoryUsage().heapUsed;
    const never = new Promise<void>(() => {});
    const held = fill(() => never);
    gc?.();
    const after = process.memoryUsage().heapUsed;
    // Reading `held` after the second gc keeps the queue alive while it is measured.
    if (held === undefined) throw new Error('fill() must return what holds the queued tasks');
    return (after - before) / n;
  };
  const fillPromises = (blocker: AsyncTask, run: (t: AsyncTask) => Promise<unknown>) => {
    run(blocker);
    const ps = new Array<Promise<unknown>>(n);
    for (let i = 0; i < n; i++) ps[i] = run(immediate);
    return ps;
  };
  const contender = (name: string, fill: (blocker: AsyncTask) => unknown): Contender => ({
    name,
    run: () => measure(fill),
  });
  return {
    title: `heap per queued task: ${n} queued behind one blocked slot (includes the caller's array of promises for promise APIs)`,
    kind: 'value',
    unit: 'bytes/task',
    contenders: [
      contender('@valve/pool add()', (blocker) => {
        const pool = new PromisePool({ maxWorkers: 1 });
        pool.add(blocker);
        for (let i = 0; i < n; i++) pool.add(immediate);
        return pool;
      }),
      contender('@valve/pool run()', (blocker) => {
        const pool = new PromisePool({ maxWorkers: 1 });
        return fillPromises(blocker, (t) => pool.run(t));
      }),
      contender('floor: counter + array', (blocker) => {
        const add = fireAndForgetFloor(1, n + 1);
        add(blocker);
        for (let i = 0; i < n; i++) add(immediate);
        return add;
      }),
      contender('fastq (callback)', (blocker) => {
        const q = fastq((t: AsyncTask, cb: (err: Error | null) => void) => {
          t().then(() => cb(null), cb);
        }, 1);
        const cb = () => {};
        q.push(blocker, cb);
        for (let i = 0; i < n; i++) q.push(immediate, cb);
        return q;
      }),
      contender('floor: promise per task', (blocker) => fillPromises(blocker, promiseFloor(1))),
      contender('fastq.promise', (blocker) => {
        const q = fastq.promise((t: AsyncTask) => t(), 1);
        return fillPromises(blocker, (t) => q.push(t));
      }),
      contender('p-limit', (blocker) => {
        const limit = pLimit(1);
        return fillPromises(blocker, (t) => limit(t));
      }),
      contender('p-queue', (blocker) => {
        const q = new PQueue({ concurrency: 1 });
        return fillPromises(blocker, (t) => q.add(t));
      }),
    ],
    rounds: 3,
  };
}

export default defineSuite({
  name: 'pool',
  description: 'promise pools: tasks/s at concurrency 1, 16, 1024 and heap per queued task (ns/op: lower is better)',
  cases: (ctx) => {
    const ops = ctx.scale(1e6);
    const cases: Case[] = [];
    for (const c of [1, 16, 1024]) {
      for (const [kind, task] of [
        ['immediate', immediate],
        ['setImmediate', onSetImmediate],
      ] as const) {
        cases.push(fireAndForgetCase(ops, c, kind, task));
        cases.push(promiseCase(ops, c, kind, task));
      }
    }
    cases.push(seedCase(ctx.smoke ? 100 : 5000));
    // 10^6 queued even in --quick (one fill per round is cheap); a thousand in --smoke.
    cases.push(heapCase(ctx.smoke ? 1000 : 1e6));
    return cases;
  },
});
