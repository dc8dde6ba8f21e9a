// SafetyValve (and KeyedValve) before/after in ONE process: earlier builds and this checkout's
// dist, interleaved round by round (the order rotating each round) so all see the same machine
// load, next to a direct `await fn()` and cockatiel's bulkhead. Earlier builds as in run.mjs:
// VALVE_BASES="name=dir;name=dir" (each dir holds packages/safety/dist built at that commit).
// Run it under /work/wt/bench-lock.sh: `node --expose-gc bench/before-after/safety.mjs`
// (ONLY=regex, ROUNDS, N, Q, FRESH=1, CLOCK=wall: see below).
// Prints medians (ns per call) and, per build, the added cost over the direct call and the
// ratio to cockatiel, which is what compares across runs on a loaded machine.
import { createRequire } from 'node:module';
import { loadavg } from 'node:os';
import { HERE, loadBuilds } from './builds.mjs';

const { bulkhead } = createRequire(`${HERE}bench/package.json`)('cockatiel');
const builds = await loadBuilds((dir) => import(`${dir}/packages/safety/dist/index.js`));
const names = Object.keys(builds);

const job = () => Promise.resolve(1);
const n = Number(process.env.N ?? 100_000);
const q = Number(process.env.Q ?? 20_000);
const rounds = Number(process.env.ROUNDS ?? 15);

/** Sequential awaited calls, as the bench suite's case (a). */
const sequential = (call) => async () => {
  for (let i = 0; i < n; i++) await call();
};

const contenders = { 'direct await fn()': () => sequential(job) };
contenders['cockatiel bulkhead(32, 30)'] = () => {
  const bh = bulkhead(32, 30);
  return sequential(() => bh.execute(job));
};
for (const b of names) {
  const s = builds[b];
  contenders[`run() admitted | ${b}`] = () => {
    const v = new s.SafetyValve({ name: 'bench', size: 30, concurrency: 32 });
    return sequential(() => v.run(job));
  };
  contenders[`run() + token bucket | ${b}`] = () => {
    const v = new s.SafetyValve({ hz: 1000, rate: 1e9, tokenLimit: 1e9, size: 30, concurrency: 32 });
    return sequential(() => v.run(job));
  };
  contenders[`run() with leaseMs | ${b}`] = () => {
    const v = new s.SafetyValve({ size: 30, concurrency: 32, leaseMs: 60_000 });
    return sequential(() => v.run(job));
  };
  contenders[`KeyedValve run(key) cap only | ${b}`] = () => {
    const v = new s.KeyedValve({ concurrency: 32, size: 30 });
    return sequential(() => v.run('k', job));
  };
  contenders[`KeyedValve run(key) + share | ${b}`] = () => {
    const v = new s.KeyedValve({ concurrency: 32, size: 30, perKey: { concurrency: 8 } });
    return sequential(() => v.run('k', job));
  };
  // Per job of Q queued behind one slot (queueing, hand-over, settling); ops = Q. Once on one
  // valve kept for every round, once on a fresh valve per round (the first hand-overs of a valve).
  contenders[`queued c=1, one valve | ${b}`] = () => {
    const v = new s.SafetyValve({ concurrency: 1, size: q });
    return async () => {
      const ps = new Array(q);
      for (let i = 0; i < q; i++) ps[i] = v.run(job);
      await Promise.all(ps);
    };
  };
  contenders[`queued c=1, per job | ${b}`] = () => async () => {
    const v = new s.SafetyValve({ concurrency: 1, size: q });
    const ps = new Array(q);
    for (let i = 0; i < q; i++) ps[i] = v.run(job);
    await Promise.all(ps);
  };
}

// ONLY=regex keeps the matching contenders (the direct call and cockatiel always run).
if (process.env.ONLY) {
  const only = new RegExp(process.env.ONLY);
  for (const k of Object.keys(contenders)) if (k.includes('|') && !only.test(k)) delete contenders[k];
}
const ops = (name) => (name.startsWith('queued') ? q : n);
// Wall clock and this process's CPU time (user + system): on a loaded machine the CPU time is
// less disturbed by other processes (time spent descheduled does not count).
const wallResults = {};
const cpuResults = {};
const results = process.env.CLOCK === 'wall' ? wallResults : cpuResults;
const keys = Object.keys(contenders);
// Each valve is made once and reused by every round, as in the bench suite's case (a) and in a
// service (a valve lives as long as the process). FRESH=1 makes a new one per round instead; then
// V8 drops the optimized code that checked the valve's objects' layouts whenever the GC before a
// round frees the last of them (CONTRIBUTING.md, holdShapes), and the rounds measure re-warming.
const fresh = process.env.FRESH === '1';
const made = fresh ? {} : Object.fromEntries(keys.map((k) => [k, contenders[k]()]));
const median = (xs) => [...xs].sort((a, b) => a - b)[xs.length >> 1];
const load0 = loadavg()[0];
for (let r = 0; r < rounds; r++) {
  // Rotate the order each round so no contender always runs first (or right after a GC-heavy one).
  for (let k = 0; k < keys.length; k++) {
    const name = keys[(k + r) % keys.length];
    const fn = fresh ? contenders[name]() : made[name];
    globalThis.gc?.();
    const c = process.cpuUsage();
    const t = performance.now();
    await fn();
    const wall = performance.now() - t;
    const cpu = process.cpuUsage(c);
    (wallResults[name] ??= []).push((wall * 1e6) / ops(name));
    (cpuResults[name] ??= []).push(((cpu.user + cpu.system) * 1e3) / ops(name));
  }
}
const m = Object.fromEntries(keys.map((k) => [k, median(results[k])]));
console.log(
  `load ${load0.toFixed(2)} -> ${loadavg()[0].toFixed(2)}, n=${n}, q=${q}, rounds=${rounds}, median ns per call (${process.env.CLOCK === 'wall' ? 'wall clock' : 'CPU time'}; wall clock in brackets)`,
);
for (const k of keys) {
  const other = median((process.env.CLOCK === 'wall' ? cpuResults : wallResults)[k]);
  console.log(`${k.padEnd(44)} ${m[k].toFixed(1).padStart(9)} (${other.toFixed(1)})`);
}
const direct = m['direct await fn()'];
const cockatiel = m['cockatiel bulkhead(32, 30)'];
console.log(`\ncockatiel: +${(cockatiel - direct).toFixed(1)} ns over direct`);
for (const b of names) {
  const run = m[`run() admitted | ${b}`];
  if (run === undefined) continue;
  console.log(
    `${b.padEnd(8)} run() +${(run - direct).toFixed(1)} ns over direct, ${(run / direct).toFixed(2)}x direct, ` +
      `${(run / cockatiel).toFixed(2)}x cockatiel; keyed cap-only ${(m[`KeyedValve run(key) cap only | ${b}`] / run).toFixed(2)}x run()`,
  );
}
for (const b of names.slice(0, -1)) {
  const ratio = (k) => (m[`${k} | after`] / m[`${k} | ${b}`]).toFixed(3);
  console.log(
    `after/${b}: run() ${ratio('run() admitted')}, + bucket ${ratio('run() + token bucket')}, leaseMs ${ratio('run() with leaseMs')}, ` +
      `keyed ${ratio('KeyedValve run(key) cap only')}, keyed+share ${ratio('KeyedValve run(key) + share')}, queued ${ratio('queued c=1, one valve')} (fresh valve ${ratio('queued c=1, per job')})`,
  );
}
