// What binding a queued task to its caller's async context costs (issue 14: at most +0.5 µs per
// queued task). The pool's queued path keeps, per waiting task, a record holding the task and a
// `new AsyncResource()`, and starts it with `runInAsyncScope`; the alternative it replaced is a
// record without the resource, started with a plain call. Both are measured in the pool's pattern
// (10^5 records queued, then run in order), interleaved, with and without an AsyncLocalStorage
// store active (an enabled store makes every new resource copy it). Prints the median extra ns
// per task. Run: `node --expose-gc bench/before-after/context-cost.mjs`.
import { AsyncLocalStorage, AsyncResource } from 'node:async_hooks';

const n = Number(process.env.N ?? 100_000);
const rounds = Number(process.env.ROUNDS ?? 15);
let sink = 0;
const task = (ctx) => {
  sink += ctx === undefined ? 1 : 2;
};
const CTX = {};
class Plain {
  constructor(fn) {
    this.fn = fn;
  }
}
class Bound {
  constructor(fn, context) {
    this.fn = fn;
    this.context = context;
  }
}
const variants = {
  plain: () => {
    const q = new Array(n);
    for (let i = 0; i < n; i++) q[i] = new Plain(task);
    for (let i = 0; i < n; i++) q[i].fn(CTX);
  },
  bound: () => {
    const q = new Array(n);
    for (let i = 0; i < n; i++) q[i] = new Bound(task, new AsyncResource('ValveQueued'));
    for (let i = 0; i < n; i++) q[i].context.runInAsyncScope(q[i].fn, undefined, CTX);
  },
};
function time(fn) {
  globalThis.gc?.();
  const t = performance.now();
  fn();
  return ((performance.now() - t) * 1e6) / n;
}
const median = (xs) => [...xs].sort((a, b) => a - b)[xs.length >> 1];
const als = new AsyncLocalStorage();
const out = {};
for (const [label, wrap] of [
  ['no store', (f) => f()],
  ['inside als.run', (f) => als.run({ id: 1 }, f)],
]) {
  const res = { plain: [], bound: [] };
  for (let r = 0; r < rounds; r++) for (const k of ['plain', 'bound']) res[k].push(wrap(() => time(variants[k])));
  out[label] = { plain: median(res.plain), bound: median(res.bound) };
}
const load = (await import('node:os'))
  .loadavg()
  .map((x) => x.toFixed(2))
  .join(' ');
console.log(`node ${process.version}, load ${load}, n=${n}, rounds=${rounds}, median ns per task`);
for (const [label, { plain, bound }] of Object.entries(out)) {
  console.log(
    `${label.padEnd(16)} plain ${plain.toFixed(0)}  bound ${bound.toFixed(0)}  binding +${(bound - plain).toFixed(0)} ns`,
  );
}
if (sink < 0) console.log(sink);
