// Core's captureContext / NO_STORE (issue 14 defect 1, and the cheap path for callers without a
// store). Each process-wide case (no AsyncLocalStorage enabled yet) runs in a fresh child process,
// since this test process may already have one enabled.
import { AsyncLocalStorage } from 'node:async_hooks';
import { execFileSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { captureContext, NO_STORE } from '../../src/index.js';

const store = new AsyncLocalStorage<{ id: number }>();
const DIST = fileURLToPath(new URL('../../dist/index.js', import.meta.url));
const inFreshProcess = (body: string): unknown =>
  JSON.parse(
    execFileSync(
      process.execPath,
      [
        '--input-type=module',
        '-e',
        `import { AsyncLocalStorage } from 'node:async_hooks';
         import { captureContext, NO_STORE, storeVisible } from ${JSON.stringify(DIST)};
         const out = await (async () => { ${body} })();
         process.stdout.write(JSON.stringify(out));`,
      ],
      { encoding: 'utf8' },
    ),
  );

describe('captureContext', () => {
  it('captures the caller store: work run in it later sees that store, also after an await', async () => {
    const contexts = [1, 2].map((id) => store.run({ id }, () => captureContext()));
    expect(contexts[0]).not.toBe(NO_STORE);
    const seen = await store.run({ id: 3 }, () =>
      Promise.all(
        contexts.map((c) =>
          c.runInAsyncScope(
            async (n: number) => {
              await Promise.resolve();
              return [n, store.getStore()?.id];
            },
            undefined,
            0,
          ),
        ),
      ),
    );
    expect(seen).toEqual([
      [0, 1],
      [0, 2],
    ]);
  });

  it('gives a caller whose context shows no store the shared NO_STORE, one with a store its own context', () => {
    // In a fresh process: the test runner may hold a store of its own in this one.
    expect(
      inFreshProcess(`
        const als = new AsyncLocalStorage();
        als.run({ id: 1 }, () => undefined); // enabled, nothing set out here
        return [captureContext() === NO_STORE, als.run({ id: 1 }, () => captureContext()) === NO_STORE];`),
    ).toEqual([true, false]);
  });

  it('NO_STORE runs work started from a context with a store without that store, also after an await', async () => {
    const seen = await store.run({ id: 5 }, () =>
      NO_STORE.runInAsyncScope(
        async (arg: string) => {
          const before = store.getStore();
          await Promise.resolve();
          return [arg, before, store.getStore()];
        },
        undefined,
        'a',
      ),
    );
    expect(seen).toEqual(['a', undefined, undefined]);
    // ...and the caller's own store is untouched afterwards.
    const after = store.run({ id: 6 }, () => {
      NO_STORE.runInAsyncScope(() => 0, undefined, 0);
      return store.getStore()?.id;
    });
    expect(after).toBe(6);
  });

  it('NO_STORE passes thisArg and the argument, and returns what the work returns', () => {
    const self = { k: 2 };
    expect(
      NO_STORE.runInAsyncScope(
        function (this: typeof self, n: number) {
          return this.k * n;
        },
        self,
        21,
      ),
    ).toBe(42);
  });

  it('in a process with no AsyncLocalStorage enabled: NO_STORE, and the work runs as called', () => {
    expect(
      inFreshProcess(`
        const c = captureContext();
        return [c === NO_STORE, NO_STORE.runInAsyncScope((x) => x + 1, undefined, 1)];`),
    ).toEqual([true, 2]);
  });

  it('an AsyncLocalStorage first enabled later in the same tick is seen at once', () => {
    expect(
      inFreshProcess(`
        const als = new AsyncLocalStorage();
        const before = captureContext();
        const inside = als.run({ id: 1 }, () => captureContext());
        const seen = await als.run({ id: 2 }, () => inside.runInAsyncScope(() => als.getStore()?.id, undefined, 0));
        return [before === NO_STORE, inside === NO_STORE, seen];`),
    ).toEqual([true, false, 1]);
  });

  it('work captured before any AsyncLocalStorage existed, started inside a store later, sees no store', () => {
    expect(
      inFreshProcess(`
        const c = captureContext();
        const als = new AsyncLocalStorage();
        return await als.run({ id: 1 }, () =>
          c.runInAsyncScope(async () => { const a = als.getStore(); await null; return [c === NO_STORE, a ?? 'none', als.getStore() ?? 'none']; }, undefined, 0));`),
    ).toEqual([true, 'none', 'none']);
  });

  it('storeVisible(): false with no AsyncLocalStorage at all, true inside a store (also after an await), false outside it again', () => {
    expect(
      inFreshProcess(`
        const none = storeVisible();
        const als = new AsyncLocalStorage();
        const outsideEnabled = storeVisible();
        const inside = await als.run({ id: 1 }, async () => { const a = storeVisible(); await null; return [a, storeVisible()]; });
        const cleared = als.run(undefined, () => storeVisible());
        return [none, outsideEnabled, inside, cleared, storeVisible()];`),
    ).toEqual([false, false, [true, true], false, false]);
  });
});
