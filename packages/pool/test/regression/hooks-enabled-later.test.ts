// Bare tasks (queued by `add()` while no AsyncLocalStorage existed, so with no context record)
// started later from inside a store: they must not see it. The pool reads core's NO_HOOKS_PROBE
// itself on these paths (a shortcut for processes that never enable a storage), so this runs in
// fresh processes, where the storage really is enabled only after the tasks were queued.
import { inFreshProcess as inFresh } from '@valve/testkit';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const DIST = fileURLToPath(new URL('../../dist/index.js', import.meta.url));
const inFreshProcess = (body: string): unknown =>
  inFresh(
    `import { AsyncLocalStorage } from 'node:async_hooks';
     import { PromisePool } from ${JSON.stringify(DIST)};`,
    body,
  );

describe('bare tasks queued before any AsyncLocalStorage was enabled', () => {
  it('started by resume() inside a store, they see no store (at the start and after an await)', () => {
    expect(
      inFreshProcess(`
        const pool = new PromisePool({ maxWorkers: 1 });
        pool.pause();
        const seen = [];
        let als;
        const task = async () => { seen.push(als.getStore()?.id ?? 'none'); await null; seen.push(als.getStore()?.id ?? 'none'); };
        pool.add(task, task);
        als = new AsyncLocalStorage();
        als.run({ id: 1 }, () => pool.resume());
        await pool.drain();
        return seen;`),
    ).toEqual(['none', 'none', 'none', 'none']);
  });

  it('started by raising the limit inside a store, and by the tasks finishing, they see no store', () => {
    expect(
      inFreshProcess(`
        const pool = new PromisePool({ maxWorkers: 1 });
        let release;
        pool.add(() => new Promise((r) => { release = r; }));
        const seen = [];
        let als;
        const task = async () => { seen.push(als.getStore()?.id ?? 'none'); await null; seen.push(als.getStore()?.id ?? 'none'); };
        pool.add(task, task, task);
        als = new AsyncLocalStorage();
        als.run({ id: 2 }, () => { pool.concurrency = 2; });
        als.run({ id: 3 }, () => release());
        await pool.drain();
        return seen;`),
    ).toEqual(['none', 'none', 'none', 'none', 'none', 'none']);
  });
});
