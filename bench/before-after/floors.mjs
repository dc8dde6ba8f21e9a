// The floors the before/after scripts compare the pool with (shared by run.mjs and cold.mjs).

/** Fire-and-forget floor: a counter and an array queue read by index (bench/src/suites/pool.ts). */
export function floorAdd(concurrency, total) {
  let active = 0,
    done = 0,
    head = 0,
    queue = [],
    finish;
  const whenDone = new Promise((r) => (finish = r));
  const next = () => {
    active--;
    done++;
    if (head < queue.length) {
      active++;
      const t = queue[head];
      queue[head++] = undefined;
      t().then(next);
    } else if (head > 0) {
      queue = [];
      head = 0;
    }
    if (done === total) finish();
  };
  return {
    add: (t) => {
      if (active < concurrency) {
        active++;
        t().then(next);
      } else queue.push(t);
    },
    whenDone,
  };
}
