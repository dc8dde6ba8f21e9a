// @valve/burst before/after in ONE process: earlier builds and this checkout's dist, interleaved
// round by round (order rotating) so all see the same machine load, each case next to its floor
// from bench/src/suites/burst.ts. Earlier builds: VALVE_BASES="name=dir;name=dir" (each dir holds
// packages/burst/dist built at that commit; default: before=/work/wt/burst-perf-base).
// Run under /work/wt/bench-lock.sh: `node --expose-gc bench/before-after/burst.mjs`.
// Env: N_HOT (default 10^5, the suite's --quick size), N_DISTINCT (10^5), N_SIGNAL (2*10^4),
// ROUNDS (15), CASES (hot,distinct,signal). gc() runs before every timed run, as in the harness:
// it is what throws away optimized code whose hidden classes died ("weak objects" deopts).
// Reports medians of CPU ns/op (process.cpuUsage: user+sys, less sensitive to other processes)
// and wall ns/op, and each build's ratio to the floor of the same rounds.
import { fileURLToPath } from 'node:url';

const HERE = fileURLToPath(new URL('../../', import.meta.url)).replace(/\/$/, '');
const bases = (process.env.VALVE_BASES ?? 'before=/work/wt/burst-perf-base')
  .split(';')
  .filter(Boolean)
  .map((entry) => entry.split('='));
const builds = {};
for (const [name, dir] of [...bases, ['after', HERE]]) {
  builds[name] = await import(`${dir}/packages/burst/dist/index.js`);
}

/** The suite's fetcher: resolves with its key on the next macrotask. */
function nextMacrotask(key) {
  return new Promise((resolve) => setImmediate(resolve, key));
}
/** The suite's floor: the smallest correct singleflight (no abort, no timeout, no stats). */
function naiveSingleflight(fetcher) {
  const inFlight = new Map();
  return (key) => {
    let p = inFlight.get(key);
    if (p !== undefined) return p;
    p = fetcher(key).finally(() => inFlight.delete(key));
    inFlight.set(key, p);
    return p;
  };
}
/** The suite's signal floor: naive + one promise + one listener per caller. */
function naiveWithSignal(fetch) {
  return (key, signal) =>
    new Promise((resolve, reject) => {
      signal.addEventListener('abort', () => reject(signal.reason), { once: true });
      fetch(key).then(resolve, reject);
    });
}
async function waves(fetch, total, width, keyOf) {
  const wave = new Array(width);
  let i = 0;
  while (i < total) {
    const n = Math.min(width, total - i);
    for (let j = 0; j < n; j++) wave[j] = fetch(keyOf(i++));
    wave.length = n;
    await Promise.all(wave);
  }
}
async function signalWaves(fetch, total) {
  const wave = new Array(100);
  for (let i = 0; i < total; i += 100) {
    for (let j = 0; j < 100; j++) wave[j] = fetch(1, new AbortController().signal);
    await Promise.all(wave);
  }
}
let nextKey = 1;
const distinctKey = () => nextKey++;
const hotKey = () => 1;
const N = {
  hot: Number(process.env.N_HOT ?? 100_000),
  distinct: Number(process.env.N_DISTINCT ?? 100_000),
  signal: Number(process.env.N_SIGNAL ?? 20_000),
};
const run = {
  hot: (make) => waves(make(), N.hot, 100, hotKey),
  distinct: (make) => waves(make(), N.distinct, 1000, distinctKey),
  signal: (make) => signalWaves(make(), N.signal),
};
const floors = {
  hot: () => naiveSingleflight(nextMacrotask),
  distinct: () => naiveSingleflight(nextMacrotask),
  signal: () => naiveWithSignal(naiveSingleflight(nextMacrotask)),
};
const ours = (b, c) => () => {
  const v = new b.BurstValve(nextMacrotask);
  return c === 'signal' ? (k, signal) => v.fetch(k, { signal }) : (k) => v.fetch(k);
};

const rounds = Number(process.env.ROUNDS ?? 15);
const warmup = Number(process.env.WARMUP ?? 2);
const cases = (process.env.CASES ?? 'hot,distinct,signal').split(',');
const cpu = {};
const wall = {};
const push = (o, k, v) => (o[k] ??= []).push(v);
const loadBefore = (await import('node:os')).loadavg()[0];
for (const c of cases) {
  const contenders = [['floor', floors[c]], ...Object.entries(builds).map(([name, b]) => [name, ours(b, c)])];
  for (let r = -warmup; r < rounds; r++) {
    for (let k = 0; k < contenders.length; k++) {
      const [name, make] = contenders[(k + Math.max(0, r)) % contenders.length];
      globalThis.gc();
      const u = process.cpuUsage();
      const t = process.hrtime.bigint();
      await run[c](make);
      const w = Number(process.hrtime.bigint() - t) / N[c];
      const d = process.cpuUsage(u);
      if (r >= 0) {
        push(cpu, `${c} | ${name}`, ((d.user + d.system) * 1000) / N[c]);
        push(wall, `${c} | ${name}`, w);
      }
    }
  }
}
const median = (xs) => [...xs].sort((a, b) => a - b)[xs.length >> 1];
const loadAfter = (await import('node:os')).loadavg()[0];
console.log(
  `node ${process.version}, load average ${loadBefore.toFixed(2)} -> ${loadAfter.toFixed(2)}, rounds=${rounds}, N=${JSON.stringify(N)}`,
);
console.log(
  `${'case | contender'.padEnd(24)} ${'CPU ns/op'.padStart(10)} ${'wall ns/op'.padStart(10)}  ratio to floor (CPU, wall)`,
);
for (const k of Object.keys(cpu)) {
  const c = k.split(' | ')[0];
  const rc = median(cpu[k]) / median(cpu[`${c} | floor`]);
  const rw = median(wall[k]) / median(wall[`${c} | floor`]);
  console.log(
    `${k.padEnd(24)} ${median(cpu[k]).toFixed(0).padStart(10)} ${median(wall[k]).toFixed(0).padStart(10)}  ${rc.toFixed(2)}x, ${rw.toFixed(2)}x`,
  );
}
