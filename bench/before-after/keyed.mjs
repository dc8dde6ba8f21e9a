// KeyedValve before/after in ONE process (issue 17's keyed speed): earlier builds and this
// checkout's dist, interleaved round by round (the order rotating each round) so all see the same
// machine load, at 10^5 live keys (the key table far outgrows the cache) and at 10^3 (it stays
// in the cache: what is left is the valve's own code), next to the plain SafetyValve, the floor
// (Map.get(key), one field written, then the plain valve) and rate-limiter-flexible's in-memory
// limiter. The bench `keyed` suite's case (a) work: sequential `await`, keys visited in a stride.
// Builds as in safety.mjs: VALVE_BASES="name=dir;name=dir" (default before=$VALVE_BASE or
// /work/wt/base). Run it under /work/wt/bench-lock.sh: `node --expose-gc bench/before-after/keyed.mjs`
// (ROUNDS, N, KEYS="100000,1000", CLOCK=cpu).
// Prints, per table size (run one after the other), medians (ns per call; wall clock, CPU time in
// brackets) and each
// contender's cost over the plain valve and over the floor.
import { createRequire } from 'node:module';
import { loadavg } from 'node:os';
import { HERE, loadBuilds } from './builds.mjs';

const { RateLimiterMemory } = createRequire(`${HERE}bench/package.json`)('rate-limiter-flexible');
const builds = await loadBuilds((dir) => import(`${dir}/packages/safety/dist/index.js`));
const names = Object.keys(builds);
const after = builds.after;

const job = async () => 1;
const n = Number(process.env.N ?? 20_000);
const rounds = Number(process.env.ROUNDS ?? 11);
const sizes = (process.env.KEYS ?? '100000,1000').split(',').map(Number);
const STRIDE = 7919;
const keys = Array.from({ length: Math.max(...sizes) }, (_, i) => `tenant-${i}`);
const perKey = { hz: 1000, rate: 1_000_000, tokenLimit: 1_000_000 };

const cycling = (live, call) => {
  let k = 0;
  return async () => {
    for (let i = 0; i < n; i++) {
      k = (k + STRIDE) % live;
      await call(keys[k]);
    }
  };
};
const fill = async (live, call) => {
  for (let i = 0; i < live; i++) await call(keys[i]);
};

const wallResults = {};
const cpuResults = {};
// Wall clock by default (unlike safety.mjs): this process's CPU time also counts V8's GC threads,
// which after each round's gc() walk heaps of 10^5-key tables.
const cpuClock = process.env.CLOCK === 'cpu';
const results = cpuClock ? cpuResults : wallResults;
const other = cpuClock ? wallResults : cpuResults;
const median = (xs) => [...xs].sort((a, b) => a - b)[xs.length >> 1];
const d = (x) => `${x >= 0 ? '+' : ''}${x.toFixed(0)}`;

/** Every contender's valve or table, filled with the first `live` keys. */
async function makeContenders(live) {
  const contenders = {};
  const plain = new after.SafetyValve({ size: 30, concurrency: 32 });
  contenders['plain SafetyValve run()'] = cycling(live, () => plain.run(job));
  const states = new Map();
  for (let i = 0; i < live; i++) {
    states.set(keys[i], { seen: 0 });
    await job(); // spread the objects over the heap as a table filled by traffic would be
  }
  contenders['floor: Map.get + plain run()'] = cycling(live, (k) => {
    states.get(k).seen++;
    return plain.run(job);
  });
  const flexible = new RateLimiterMemory({ points: 1_000_000_000, duration: 60 });
  await fill(live, (k) => flexible.consume(k));
  contenders['rate-limiter-flexible + job'] = cycling(live, (k) => flexible.consume(k).then(job));
  for (const b of names) {
    const { KeyedValve } = builds[b];
    const variants = {
      'cap only': {},
      bucket: { perKey },
      'bucket + share': { perKey: { ...perKey, concurrency: 4 } },
    };
    for (const [variant, options] of Object.entries(variants)) {
      const v = new KeyedValve({ size: 30, concurrency: 32, maxKeys: 200_000, ...options });
      await fill(live, (k) => v.run(k, job));
      contenders[`keyed ${variant} | ${b}`] = cycling(live, (k) => v.run(k, job));
    }
  }
  return contenders;
}

// One size at a time (the other size's tables dropped first: a heap holding 10^5-key tables
// slows every call after a gc(), 10^3 ones included).
console.log(
  `n=${n}, rounds=${rounds}, median ns per call (${cpuClock ? 'CPU time' : 'wall clock'}; the other clock in brackets)`,
);
for (const live of sizes) {
  const contenders = await makeContenders(live);
  const all = Object.keys(contenders);
  const load0 = loadavg()[0];
  // One warm-up round (not counted), then `rounds`; the order rotates each round.
  for (let r = -1; r < rounds; r++) {
    for (let k = 0; k < all.length; k++) {
      const name = all[(k + Math.max(0, r)) % all.length];
      globalThis.gc?.();
      const c = process.cpuUsage();
      const t = performance.now();
      await contenders[name]();
      const wall = performance.now() - t;
      const cpu = process.cpuUsage(c);
      if (r < 0) continue;
      ((wallResults[live] ??= {})[name] ??= []).push((wall * 1e6) / n);
      ((cpuResults[live] ??= {})[name] ??= []).push(((cpu.user + cpu.system) * 1e3) / n);
    }
  }
  const m = Object.fromEntries(all.map((k) => [k, median(results[live][k])]));
  const plain = m['plain SafetyValve run()'];
  const floor = m['floor: Map.get + plain run()'];
  console.log(
    `\n${live} live keys (load ${load0.toFixed(2)} -> ${loadavg()[0].toFixed(2)})      ns/call   over plain  over floor`,
  );
  for (const k of all) {
    console.log(
      `  ${k.padEnd(40)} ${m[k].toFixed(0).padStart(6)} (${median(other[live][k]).toFixed(0)})  ${d(m[k] - plain).padStart(7)}  ${d(m[k] - floor).padStart(7)}`,
    );
  }
  for (const b of names.slice(0, -1)) {
    const ratio = (v) => (m[`keyed ${v} | after`] / m[`keyed ${v} | ${b}`]).toFixed(3);
    console.log(
      `  after/${b}: cap only ${ratio('cap only')}, bucket ${ratio('bucket')}, bucket + share ${ratio('bucket + share')}`,
    );
  }
  console.log(
    `  rate-limiter-flexible / keyed bucket (after): ${(m['rate-limiter-flexible + job'] / m['keyed bucket | after']).toFixed(2)}x`,
  );
  globalThis.gc?.();
}
