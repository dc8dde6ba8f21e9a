// Before/after in ONE process: one or more earlier builds and this checkout's dist, interleaved
// round by round so all see the same machine load. Earlier builds: VALVE_BASES="name=dir;name=dir"
// (each dir holds packages/{pool,safety}/dist built at that commit; default: before=/work/wt/base).
// Run it under /work/wt/bench-lock.sh: `node --expose-gc bench/before-after/run.mjs [--cold]`.
// `--cold` instead measures one cold burst of 10^5 add()ed tasks per fresh process (run it twice:
// BUILD=base and BUILD=after), since a cold burst in a warmed process is not cold.
import { loadBuilds } from './builds.mjs';
import { floorAdd } from './floors.mjs';

const builds = await loadBuilds(async (dir) => ({
  pool: await import(`${dir}/packages/pool/dist/index.js`),
  safety: await import(`${dir}/packages/safety/dist/index.js`),
}));
const names = Object.keys(builds);

const immediate = () => Promise.resolve();

/** Promise-per-task floor. */
function floorRun(concurrency) {
  let active = 0,
    queue = [],
    head = 0;
  const next = () => {
    active--;
    if (head < queue.length) {
      const s = queue[head];
      queue[head++] = undefined;
      s();
    } else if (head > 0) {
      queue = [];
      head = 0;
    }
  };
  return (task) => {
    if (active < concurrency) {
      active++;
      const p = task();
      p.then(next, next);
      return p;
    }
    return new Promise((resolve, reject) =>
      queue.push(() => {
        active++;
        task().then(
          (v) => {
            next();
            resolve(v);
          },
          (e) => {
            next();
            reject(e);
          },
        );
      }),
    );
  };
}

const cases = {
  'pool add() c=1': (b) => async (n) => {
    const p = new b.pool.PromisePool({ maxWorkers: 1 });
    for (let i = 0; i < n; i++) p.add(immediate);
    await p.drain();
  },
  'pool add() c=16': (b) => async (n) => {
    const p = new b.pool.PromisePool({ maxWorkers: 16 });
    for (let i = 0; i < n; i++) p.add(immediate);
    await p.drain();
  },
  'pool add() c=1024': (b) => async (n) => {
    const p = new b.pool.PromisePool({ maxWorkers: 1024 });
    for (let i = 0; i < n; i++) p.add(immediate);
    await p.drain();
  },
  'pool run() c=16': (b) => async (n) => {
    const p = new b.pool.PromisePool({ maxWorkers: 16 });
    const ps = new Array(n);
    for (let i = 0; i < n; i++) ps[i] = p.run(immediate);
    await Promise.all(ps);
  },
  // One valve per build for the whole run, as a service keeps its SafetyValve: a valve made per
  // round and closed before the next round's gc() let V8 drop the valve's hidden classes and its
  // optimized code, so each round measured a deoptimized valve (+500 ns per run() against
  // safety.mjs's +40: not the admitted cost this row is named for).
  'safety run() admitted (no queue)': (b) => async (n) => {
    const v = (b.admittedValve ??= new b.safety.SafetyValve({ concurrency: Infinity, size: 0 }));
    for (let i = 0; i < n; i++) await v.run(immediate);
  },
  'safety run() queued hand-over c=1': (b) => async (n) => {
    const v = (b.queuedValve ??= new b.safety.SafetyValve({ concurrency: 1, size: n }));
    const ps = new Array(n);
    for (let i = 0; i < n; i++) ps[i] = v.run(immediate);
    await Promise.all(ps);
  },
};
const floors = {
  'floor add() c=1': () => async (n) => {
    const f = floorAdd(1, n);
    for (let i = 0; i < n; i++) f.add(immediate);
    await f.whenDone;
  },
  'floor add() c=16': () => async (n) => {
    const f = floorAdd(16, n);
    for (let i = 0; i < n; i++) f.add(immediate);
    await f.whenDone;
  },
  'floor add() c=1024': () => async (n) => {
    const f = floorAdd(1024, n);
    for (let i = 0; i < n; i++) f.add(immediate);
    await f.whenDone;
  },
  'floor run() c=16': () => async (n) => {
    const r = floorRun(16);
    const ps = new Array(n);
    for (let i = 0; i < n; i++) ps[i] = r(immediate);
    await Promise.all(ps);
  },
  'direct await fn() (safety floor)': () => async (n) => {
    for (let i = 0; i < n; i++) await immediate();
  },
};

async function time(fn, n) {
  globalThis.gc?.();
  const t = performance.now();
  await fn(n);
  return ((performance.now() - t) * 1e6) / n; // ns per op
}
const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  return s[s.length >> 1];
};

if (process.argv.includes('--cold')) {
  const which = process.env.BUILD ?? 'after';
  const n = 100_000;
  const b = builds[which];
  const out = {};
  for (const c of [1, 16, 1024]) {
    // Each concurrency in turn, each measured once cold-ish (first use of that shape in this process).
    const f = floorAdd(c, n);
    let t = performance.now();
    for (let i = 0; i < n; i++) f.add(immediate);
    await f.whenDone;
    out[`floor c=${c}`] = ((performance.now() - t) * 1e6) / n;
    const p = new b.pool.PromisePool({ maxWorkers: c });
    t = performance.now();
    for (let i = 0; i < n; i++) p.add(immediate);
    await p.drain();
    out[`${which} c=${c}`] = ((performance.now() - t) * 1e6) / n;
  }
  console.log(JSON.stringify(out));
  process.exit(0);
}

const n = Number(process.env.N ?? 20_000);
const rounds = Number(process.env.ROUNDS ?? 15);
const results = {};
const add = (k, v) => (results[k] ??= []).push(v);
for (let r = 0; r < rounds; r++) {
  for (const [name, mk] of Object.entries(floors)) add(name, await time(mk(), n));
  for (const [name, mk] of Object.entries(cases)) {
    for (const which of names) add(`${name} | ${which}`, await time(mk(builds[which]), n));
  }
}
// The async-context binding's cost is measured by context-cost.mjs: an enabled AsyncLocalStorage
// slows every promise in the process, so it needs its own process and floor.
console.log(
  `load ${(await import('node:os'))
    .loadavg()
    .map((x) => x.toFixed(2))
    .join(' ')}, n=${n}, rounds=${rounds}, median ns/op`,
);
for (const [k, v] of Object.entries(results)) console.log(`${k.padEnd(48)} ${median(v).toFixed(0).padStart(7)}`);
// The issue-14 targets as ratios, per build: add() as a fraction of the fire-and-forget floor
// (>= 0.5x), run() over the promise-per-task floor (<= 1.3x), safety's added ns per admitted run().
const m = (k) => median(results[k]);
console.log('\ntargets (per build):');
for (const which of names) {
  const parts = [1, 16, 1024].map(
    (c) => `add c=${c} ${(m(`floor add() c=${c}`) / m(`pool add() c=${c} | ${which}`)).toFixed(2)}x`,
  );
  parts.push(`run c=16 ${(m(`pool run() c=16 | ${which}`) / m('floor run() c=16')).toFixed(2)}x floor`);
  parts.push(
    `safety admitted +${(m(`safety run() admitted (no queue) | ${which}`) - m('direct await fn() (safety floor)')).toFixed(0)} ns`,
  );
  console.log(`  ${which.padEnd(10)} ${parts.join(', ')}`);
}
