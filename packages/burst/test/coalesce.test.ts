// coalesce(fn, options): a function wrapper with fn's signature (issue 19, Burst item 4; the
// habit of p-memoize users). Behaviours checked against p-memoize's public suite, in our words.
import { ManualClock } from '@valve/core';
import { deferred, flush } from '@valve/testkit';
import { describe, expect, expectTypeOf, it } from 'vitest';
import { type BurstValve, coalesce, defaultKeyOf } from '../src/index.js';

describe('coalesce(fn)', () => {
  it('concurrent calls with equal arguments share one call; the next burst calls again', async () => {
    const calls: unknown[][] = [];
    const gate = deferred();
    const add = coalesce(async (a: number, b: number) => {
      calls.push([a, b]);
      await gate.promise;
      return a + b;
    });
    const results = Promise.all([add(1, 2), add(1, 2), add(2, 1)]);
    gate.resolve();
    expect(await results).toEqual([3, 3, 3]);
    expect(calls).toEqual([
      [1, 2],
      [2, 1],
    ]);
    expect(await add(1, 2)).toBe(3);
    expect(calls.length).toBe(3); // nothing lingers by default: only concurrent calls share
    expect(add.valve.stats()).toMatchObject({ coalesced: 1, runs: 3 });
  });

  it('infers parameters and return type from fn', () => {
    const find = coalesce(async (id: string, opts?: { deep: boolean }) => ({ id, deep: opts?.deep ?? false }));
    expectTypeOf(find).parameters.toEqualTypeOf<[id: string, opts?: { deep: boolean }]>();
    expectTypeOf(find).returns.toEqualTypeOf<Promise<{ id: string; deep: boolean }>>();
    const sync = coalesce((n: number) => n * 2);
    expectTypeOf(sync).returns.toEqualTypeOf<Promise<number>>();
    expectTypeOf(sync.valve).toEqualTypeOf<BurstValve<number, [n: number]>>();
    // @ts-expect-error a string is not a number
    void (() => sync('x'));
  });

  it('keeps the function name; calls fn without this', async () => {
    let seenThis: unknown = 'unset';
    async function lookUp(this: unknown, n: number) {
      seenThis = this;
      return n;
    }
    const wrapped = coalesce(lookUp);
    expect(wrapped.name).toBe('lookUp');
    await wrapped.call({ not: 'passed' }, 1);
    expect(seenThis).toBeUndefined();
  });

  it('a throw or rejection reaches every caller of the shared call, and is not kept', async () => {
    let n = 0;
    const fail = coalesce(
      (_k: string) => {
        n++;
        throw new Error(`failure ${n}`);
      },
      { lingerMs: 100 },
    );
    const [a, b] = await Promise.allSettled([fail('x'), fail('x')]);
    expect(a).toEqual({ status: 'rejected', reason: new Error('failure 1') });
    expect(b).toEqual({ status: 'rejected', reason: new Error('failure 1') });
    await expect(fail('x')).rejects.toThrow('failure 2');
  });

  it('takes BurstValve options: lingerMs keeps the value, clear() through .valve', async () => {
    const clock = new ManualClock();
    let n = 0;
    const next = coalesce(async (_scope: string, _id: number) => ++n, { lingerMs: 50, clock });
    expect(await next('a', 1)).toBe(1);
    expect(await next('a', 1)).toBe(1);
    expect(next.valve.clear(['a', 1])).toBe(true);
    expect(await next('a', 1)).toBe(2);
    await clock.advanceAsync(50);
    expect(await next('a', 1)).toBe(3);
  });

  it('options.keyOf takes the arguments spread; objects coalesce by what it returns', async () => {
    let runs = 0;
    const byId = coalesce(
      async (q: { id: number; trace: string }) => {
        runs++;
        return q.id;
      },
      { keyOf: (q) => q.id },
    );
    await Promise.all([byId({ id: 1, trace: 'a' }), byId({ id: 1, trace: 'b' })]);
    expect(runs).toBe(1);
  });

  it('refuses bad arguments and batch mode options', () => {
    expect(() => coalesce(5 as never)).toThrow(new TypeError('fn must be a function, got 5'));
    expect(() => coalesce(async () => 1, { keyOf: 1 as never })).toThrow(
      new TypeError('options.keyOf must be a function, got 1'),
    );
    expect(() => coalesce(async () => 1, { maxBatchSize: 2 } as never)).toThrow(
      new TypeError('options.maxBatchSize is a batch mode option; coalesce() has no batch mode'),
    );
    expect(() => coalesce(async () => 1, { lingerMs: -1 })).toThrow(
      new RangeError('lingerMs must be a finite number >= 0, got -1'),
    );
    expect(() => coalesce(async () => 1, { fetch: async () => 2 } as never)).toThrow(TypeError);
  });
});

describe('defaultKeyOf', () => {
  it('no arguments share one slot; one argument is its own key (SameValueZero, objects by reference)', async () => {
    expect(defaultKeyOf([])).toBe(defaultKeyOf([]));
    const o = {};
    expect(defaultKeyOf([o])).toBe(o);
    let runs = 0;
    const f = coalesce(async (_x?: unknown) => ++runs);
    const sym = Symbol('s');
    await Promise.all([f(), f(), f(0), f(-0), f(sym), f(sym), f({}), f({}), f(Number.NaN), f(Number.NaN)]);
    expect(runs).toBe(6);
  });

  it('several primitive arguments: a type-tagged key, so (1, "1") and ("1", 1) differ', () => {
    const keys = [
      [1, '1'],
      ['1', 1],
      ['a|b', 'c'],
      ['a', 'b|c'],
      [true, null],
      ['t', undefined],
      [1n, 2],
      [0, 1],
    ].map(defaultKeyOf);
    expect(new Set(keys).size).toBe(keys.length);
    expect(defaultKeyOf([-0, 'x'])).toBe(defaultKeyOf([0, 'x']));
    expect(defaultKeyOf([1, 2])).not.toBe(defaultKeyOf([1, 2, undefined]));
  });

  it('an object among several arguments rejects that call with a TypeError naming keyOf', async () => {
    const f = coalesce(async (a: number, b: object) => [a, b]);
    await expect(f(1, {})).rejects.toThrow(
      new TypeError(
        'coalesce: argument 1 is an object; with several arguments the default keyOf takes only strings, numbers, booleans, bigints, null and undefined: give options.keyOf',
      ),
    );
    await flush();
    expect(f.valve.stats().runs).toBe(0);
  });
});
