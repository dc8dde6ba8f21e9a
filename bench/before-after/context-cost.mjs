// What binding a queued task to its caller's async context costs (issue 14: at most +0.5 µs per
// queued task), for each build in one process, interleaved round by round.
//
// The case is the pool's weakest for it: `add()` at maxWorkers 1, so every task but the first
// waits and is bound. Each is measured twice, against the fire-and-forget floor measured in the
// same conditions: inside `AsyncLocalStorage#run` (the caller has a store: the task must see it),
// and with AsyncLocalStorage enabled but no store (what a service with a tracer pays outside a
// span). An enabled AsyncLocalStorage slows every promise in the process (the floor's too), so
// the figure that is the binding's own is the pool's extra over the floor in the same
// conditions, minus that extra in a process with no AsyncLocalStorage at all (printed too).
//
// Run: `node --expose-gc bench/before-after/context-cost.mjs` (builds as in builds.mjs:
// VALVE_BASES="name=dir;..."; the no-ALS baseline runs in a child process, since
// AsyncLocalStorage cannot be switched off again once enabled).
import { AsyncLocalStorage } from 'node:async_hooks';
import { execFileSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { loadBuilds } from './builds.mjs';
import { floorAdd } from './floors.mjs';

const builds = await loadBuilds(async (dir) => await import(`${dir}/packages/pool/dist/index.js`));
const names = Object.keys(builds);
const n = Number(process.env.N ?? 20_000);
const rounds = Number(process.env.ROUNDS ?? 21);
const immediate = () => Promise.resolve();
const median = (xs) => [...xs].sort((a, b) => a - b)[xs.length >> 1];

async function time(fn) {
  globalThis.gc?.();
  const t = performance.now();
  await fn();
  return ((performance.now() - t) * 1e6) / n;
}
const poolCase = (pool) => async () => {
  const p = new pool.PromisePool({ maxWorkers: 1 });
  for (let i = 0; i < n; i++) p.add(immediate);
  await p.drain();
};
const floorCase = async () => {
  const f = floorAdd(1, n);
  for (let i = 0; i < n; i++) f.add(immediate);
  await f.whenDone;
};

const results = {};
const push = (k, v) => (results[k] ??= []).push(v);

if (process.argv.includes('--no-als')) {
  // The child: no AsyncLocalStorage anywhere; prints medians as JSON.
  for (let r = 0; r < rounds; r++) {
    push('floor', await time(floorCase));
    for (const name of r % 2 ? names : [...names].reverse()) push(name, await time(poolCase(builds[name])));
  }
  const out = {};
  for (const [k, v] of Object.entries(results)) out[k] = median(v);
  process.stdout.write(JSON.stringify(out));
  process.exit(0);
}

const noAls = JSON.parse(
  execFileSync(process.execPath, ['--expose-gc', fileURLToPath(import.meta.url), '--no-als'], {
    encoding: 'utf8',
    env: process.env,
  }),
);
const als = new AsyncLocalStorage();
for (let r = 0; r < rounds; r++) {
  push('floor store', await als.run({ id: r }, () => time(floorCase)));
  push('floor', await time(floorCase));
  for (const name of r % 2 ? names : [...names].reverse()) {
    push(`${name} store`, await als.run({ id: r }, () => time(poolCase(builds[name]))));
    push(name, await time(poolCase(builds[name])));
  }
}
const m = (k) => median(results[k]);
const load = (await import('node:os'))
  .loadavg()
  .map((x) => x.toFixed(2))
  .join(' ');
console.log(`node ${process.version}, load ${load}, n=${n}, rounds=${rounds}, median ns per add() at maxWorkers 1`);
console.log(
  `floor: no ALS ${noAls.floor.toFixed(0)}, ALS enabled ${m('floor').toFixed(0)}, inside a store ${m('floor store').toFixed(0)}`,
);
for (const name of names) {
  const base = noAls[name] - noAls.floor;
  const inStore = m(`${name} store`) - m('floor store');
  const enabled = m(name) - m('floor');
  console.log(
    `${name.padEnd(10)} over the floor: no ALS +${base.toFixed(0)}, ALS enabled +${enabled.toFixed(0)}, inside a store +${inStore.toFixed(0)}` +
      ` -> binding inside a store +${(inStore - base).toFixed(0)} ns, enabled without a store +${(enabled - base).toFixed(0)} ns`,
  );
}
