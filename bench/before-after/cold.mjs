// The cold burst of issue 14, one fresh process per measurement: 10^5 `add()`ed immediate tasks
// queued at once, the fire-and-forget floor first in the same process, then the pool.
//
//   node bench/before-after/cold.mjs [rounds]          # runs the rounds, builds interleaved
//   node bench/before-after/cold.mjs --one <dir> <c>   # one measurement (what each child runs)
//
// Builds as in builds.mjs (VALVE_BASES="name=dir;..." and this checkout as `after`). Unlike
// `run.mjs --cold`, every concurrency gets its own fresh process, so no case warms the next.
// Prints floor / ours per build and concurrency: the median and the quartiles, ns per task, and
// the ratio to the first build's floor / ours in the same round (median and quartiles).
import { execFileSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { HERE } from './builds.mjs';
import { floorAdd } from './floors.mjs';

const N = 100_000;
const CONCURRENCIES = [1, 16, 1024];

if (process.argv[2] === '--one') {
  const [dir, c] = [process.argv[3], Number(process.argv[4])];
  const { PromisePool } = await import(`${dir}/packages/pool/dist/index.js`);
  const immediate = () => Promise.resolve();
  const floorRun = floorAdd(c, N);
  let t = performance.now();
  for (let i = 0; i < N; i++) floorRun.add(immediate);
  await floorRun.whenDone;
  const floor = ((performance.now() - t) * 1e6) / N;
  const pool = new PromisePool({ maxWorkers: c });
  t = performance.now();
  for (let i = 0; i < N; i++) pool.add(immediate);
  await pool.drain();
  const ours = ((performance.now() - t) * 1e6) / N;
  process.stdout.write(JSON.stringify({ floor, ours }));
  process.exit(0);
}

const rounds = Number(process.argv[2] ?? 15);
const bases = (process.env.VALVE_BASES ?? `before=${process.env.VALVE_BASE ?? '/work/wt/base'}`)
  .split(';')
  .filter(Boolean)
  .map((entry) => entry.split('='));
const builds = [...bases, ['after', HERE.replace(/\/$/, '')]];
const self = fileURLToPath(import.meta.url);
const results = new Map();
for (let r = 0; r < rounds; r++) {
  for (const [name, dir] of builds) {
    for (const c of CONCURRENCIES) {
      const out = JSON.parse(execFileSync(process.execPath, [self, '--one', dir, String(c)], { encoding: 'utf8' }));
      const key = `${name} c=${c}`;
      if (!results.has(key)) results.set(key, []);
      results.get(key).push(out);
    }
  }
}
const q = (xs, p) => [...xs].sort((a, b) => a - b)[Math.floor(p * (xs.length - 1) + 0.5)];
const load = (await import('node:os'))
  .loadavg()
  .map((x) => x.toFixed(2))
  .join(' ');
console.log(`cold bursts of ${N} add()s, ${rounds} fresh processes per build and concurrency; load ${load}`);
const first = builds[0][0];
for (const c of CONCURRENCIES) {
  const firstRatios = results.get(`${first} c=${c}`).map((x) => x.floor / x.ours);
  for (const [name] of builds) {
    const xs = results.get(`${name} c=${c}`);
    const ratios = xs.map((x) => x.floor / x.ours);
    // The same round's processes ran back to back: this build's ratio over the first build's,
    // round by round, cancels most of the machine's drift between rounds.
    const paired = ratios.map((r, i) => r / firstRatios[i]);
    console.log(
      `c=${String(c).padEnd(5)} ${name.padEnd(10)} floor/ours ${q(ratios, 0.5).toFixed(2)} (${q(ratios, 0.25).toFixed(2)}-${q(ratios, 0.75).toFixed(2)})  ours ${q(
        xs.map((x) => x.ours),
        0.5,
      ).toFixed(0)} ns  floor ${q(
        xs.map((x) => x.floor),
        0.5,
      ).toFixed(
        0,
      )} ns  vs ${first} ${q(paired, 0.5).toFixed(2)} (${q(paired, 0.25).toFixed(2)}-${q(paired, 0.75).toFixed(2)})`,
    );
  }
}
