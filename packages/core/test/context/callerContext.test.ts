// Core's captureContext / NO_STORE (issue 14 defect 1, and the cheap path for callers without a
// store). Each process-wide case (no AsyncLocalStorage enabled yet) runs in a fresh child process,
// since this test process may already have one enabled.
import { AsyncLocalStorage } from 'node:async_hooks';
import { inFreshProcess as inFresh } from '@valve/testkit';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { captureContext, NO_HOOKS_PROBE, NO_STORE } from '../../src/index.js';

const store = new AsyncLocalStorage<{ id: number }>();
/**
 * Cases about NO_STORE, storeVisible(), NO_HOOKS_PROBE and snapshot sharing: the store-snapshot
 * capture of Node 20/22, where stores live on async resources. On Node 24 (AsyncContextFrame) a
 * capture is an AsyncResource and none of these apply (the valves' context tests run there too).
 */
const onNode20And22 = it.runIf(
  typeof (new AsyncLocalStorage() as unknown as { kResourceStore?: unknown }).kResourceStore === 'symbol',
);
const DIST = fileURLToPath(new URL('../../dist/index.js', import.meta.url));
const inFreshProcess = (body: string): unknown =>
  inFresh(
    `import { AsyncLocalStorage } from 'node:async_hooks';
     import { captureContext, NO_HOOKS_PROBE, NO_STORE, storeVisible } from ${JSON.stringify(DIST)};`,
    body,
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

  onNode20And22(
    'gives a caller whose context shows no store one shared store-free context, one with a store its own context',
    () => {
      // In a fresh process: the test runner may hold a store of its own in this one.
      expect(
        inFreshProcess(`
        const als = new AsyncLocalStorage();
        als.run({ id: 1 }, () => undefined); // enabled, nothing set out here
        const [x, y] = [captureContext(), captureContext()];
        const inside = als.run({ id: 1 }, () => captureContext());
        return [x === y, inside === x, await als.run({ id: 2 }, () => x.runInAsyncScope(() => als.getStore() ?? 'none', undefined, 0))];`),
      ).toEqual([true, false, 'none']);
    },
  );

  onNode20And22(
    'NO_STORE runs work started from a context with a store without that store, also after an await',
    async () => {
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
    },
  );

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

  onNode20And22('in a process with no AsyncLocalStorage enabled: NO_STORE, and the work runs as called', () => {
    expect(
      inFreshProcess(`
        const c = captureContext();
        return [c === NO_STORE, NO_STORE.runInAsyncScope((x) => x + 1, undefined, 1)];`),
    ).toEqual([true, 2]);
  });

  onNode20And22('an AsyncLocalStorage first enabled later in the same tick is seen at once', () => {
    expect(
      inFreshProcess(`
        const als = new AsyncLocalStorage();
        const before = captureContext();
        const inside = als.run({ id: 1 }, () => captureContext());
        const seen = await als.run({ id: 2 }, () => inside.runInAsyncScope(() => als.getStore()?.id, undefined, 0));
        return [before === NO_STORE, inside === NO_STORE, seen];`),
    ).toEqual([true, false, 1]);
  });

  onNode20And22(
    'work captured before any AsyncLocalStorage existed, started inside a store later, sees no store',
    () => {
      expect(
        inFreshProcess(`
        const c = captureContext();
        const als = new AsyncLocalStorage();
        return await als.run({ id: 1 }, () =>
          c.runInAsyncScope(async () => { const a = als.getStore(); await null; return [c === NO_STORE, a ?? 'none', als.getStore() ?? 'none']; }, undefined, 0));`),
      ).toEqual([true, 'none', 'none']);
    },
  );

  it('captureContext(probe) captures from the probe it is given (made in the same synchronous code)', async () => {
    const context = store.run({ id: 9 }, () => captureContext(Promise.resolve()));
    expect(context).not.toBe(NO_STORE);
    const seen = await store.run({ id: 10 }, () => context.runInAsyncScope(() => store.getStore()?.id, undefined, 0));
    expect(seen).toBe(9);
  });

  onNode20And22(
    'NO_HOOKS_PROBE: a fresh promise has nothing under it until an AsyncLocalStorage is enabled, then it has',
    () => {
      // (On Node 20/22, where stores live on resources; Node 24's frames make it undefined.)
      expect(typeof NO_HOOKS_PROBE).toBe('symbol');
      expect(
        inFreshProcess(`
        const read = () => Promise.resolve()[NO_HOOKS_PROBE] !== undefined;
        const before = [read(), captureContext() === NO_STORE, storeVisible()];
        const als = new AsyncLocalStorage();
        const made = read();
        const inside = als.run({ id: 1 }, () => [read(), captureContext() === NO_STORE]);
        return [before, made, inside, read()];`),
      ).toEqual([[false, true, false], false, [true, false], true]);
    },
  );

  onNode20And22(
    'storeVisible(): false with no AsyncLocalStorage at all, true inside a store (also after an await), false outside it again',
    () => {
      expect(
        inFreshProcess(`
        const none = storeVisible();
        const als = new AsyncLocalStorage();
        const outsideEnabled = storeVisible();
        const inside = await als.run({ id: 1 }, async () => { const a = storeVisible(); await null; return [a, storeVisible()]; });
        const cleared = als.run(undefined, () => storeVisible());
        return [none, outsideEnabled, inside, cleared, storeVisible()];`),
      ).toEqual([false, false, [true, true], false, false]);
    },
  );
  it('carries the stores of several AsyncLocalStorages at once, and puts the starting context back', async () => {
    const other = new AsyncLocalStorage<string>();
    const captured = store.run({ id: 7 }, () => other.run('seven', () => captureContext()));
    const seen = await store.run({ id: 8 }, () =>
      other.run('eight', async () => {
        const inside = await captured.runInAsyncScope(
          async () => {
            const sync = [store.getStore()?.id, other.getStore()];
            await Promise.resolve();
            return [...sync, store.getStore()?.id, other.getStore()];
          },
          undefined,
          0,
        );
        return [inside, store.getStore()?.id, other.getStore()];
      }),
    );
    expect(seen).toEqual([[7, 'seven', 7, 'seven'], 8, 'eight']);
  });

  it('puts the starting context back when the work throws', () => {
    const captured = store.run({ id: 9 }, () => captureContext());
    const after = store.run({ id: 10 }, () => {
      expect(() =>
        captured.runInAsyncScope(
          () => {
            throw new Error('boom');
          },
          undefined,
          0,
        ),
      ).toThrow('boom');
      return store.getStore()?.id;
    });
    expect(after).toBe(10);
  });

  it('a store entered with enterWith inside the work stays inside it', async () => {
    const captured = store.run({ id: 11 }, () => captureContext());
    const seen = await store.run({ id: 12 }, async () => {
      const inner = captured.runInAsyncScope(
        async () => {
          store.enterWith({ id: 13 });
          await Promise.resolve();
          return store.getStore()?.id;
        },
        undefined,
        0,
      );
      const rightAfter = store.getStore()?.id;
      return [await inner, rightAfter, store.getStore()?.id];
    });
    expect(seen).toEqual([13, 12, 12]);
  });

  onNode20And22('work queued from one store shares one snapshot; another store gets its own', () => {
    const one = { id: 14 };
    const [a, b] = store.run(one, () => [captureContext(), captureContext()]);
    const c = store.run({ id: 15 }, () => captureContext());
    expect(a).toBe(b);
    expect(c).not.toBe(a);
    expect(c.runInAsyncScope(() => store.getStore()?.id, undefined, 0)).toBe(15);
    expect(a.runInAsyncScope(() => store.getStore()?.id, undefined, 0)).toBe(14);
  });

  it('an AsyncLocalStorage first used after the capture reads as empty in the work', () => {
    expect(
      inFreshProcess(`
        const a = new AsyncLocalStorage();
        const c = a.run(1, () => captureContext());
        const b = new AsyncLocalStorage();
        // A later capture inside b makes b known; c was taken before b existed.
        b.run('later', () => captureContext());
        return b.run('start', () => c.runInAsyncScope(() => [a.getStore(), b.getStore() ?? 'none'], undefined, 0));`),
    ).toEqual([1, 'none']);
  });
  it('with one AsyncLocalStorage in the process: carries it and puts the starting store back, also on a throw', () => {
    expect(
      inFreshProcess(`
        const a = new AsyncLocalStorage();
        const c = a.run(1, () => captureContext());
        const seen = a.run(2, () => {
          const inside = c.runInAsyncScope(() => a.getStore(), undefined, 0);
          let threw = false;
          try { c.runInAsyncScope(() => { throw new Error('x'); }, undefined, 0); } catch { threw = true; }
          return [inside, threw, a.getStore()];
        });
        return [seen, a.getStore() ?? 'none'];`),
    ).toEqual([[1, true, 2], 'none']);
  });
});
