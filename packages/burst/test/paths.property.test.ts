// One reference path plus one fast path (issue 14): `fetch(key)` without options or keyOf takes
// the fast path written out in `fetch`; `fetch(key, {})` takes `fetchCall`, the reference path.
// Two valves driven by the same random operations, one through each path, must agree after every
// step: the same fetcher runs, the same outcome for every caller, the same stats and map state.
import { deferred, flush, track } from '@valve/testkit';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { BurstValve } from '../src/index.js';

type Op =
  | { t: 'fetch'; key: number | undefined }
  | { t: 'settle'; run: number; ok: boolean }
  | { t: 'forget'; key: number }
  | { t: 'sync-throw'; key: number };

const op: fc.Arbitrary<Op> = fc.oneof(
  {
    weight: 4,
    arbitrary: fc.record({ t: fc.constant('fetch' as const), key: fc.option(fc.nat(3), { nil: undefined }) }),
  },
  { weight: 3, arbitrary: fc.record({ t: fc.constant('settle' as const), run: fc.nat(20), ok: fc.boolean() }) },
  { weight: 1, arbitrary: fc.record({ t: fc.constant('forget' as const), key: fc.nat(3) }) },
  { weight: 1, arbitrary: fc.record({ t: fc.constant('sync-throw' as const), key: fc.constant(99) }) },
);

function harness(path: 'fast' | 'reference') {
  const runs: { key: number | undefined; gate: ReturnType<typeof deferred<string>> }[] = [];
  const valve = new BurstValve<string, number>((key) => {
    if (key === 99) throw new Error('sync');
    const gate = deferred<string>();
    runs.push({ key, gate });
    return gate.promise;
  });
  const callers: ReturnType<typeof track<string>>[] = [];
  return {
    valve,
    runs,
    callers,
    fetch(key: number | undefined) {
      callers.push(track(path === 'fast' ? valve.fetch(key) : valve.fetch(key, {})));
    },
  };
}

function view(h: ReturnType<typeof harness>) {
  const { duration: _d, ...stats } = h.valve.stats();
  return {
    stats,
    size: h.valve.size,
    active: [undefined, 0, 1, 2, 3].map((k) => h.valve.isActive(k)),
    runs: h.runs.map((r) => [r.key, r.gate.settled]),
    callers: h.callers.map((c) => [c.state, c.value, c.error instanceof Error ? c.error.message : c.error]),
  };
}

describe('BurstValve: the fast path agrees with the reference path', () => {
  it('for random fetch / settle / forget sequences', async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(op, { maxLength: 40, size: 'max' }), async (ops) => {
        const fast = harness('fast');
        const ref = harness('reference');
        for (const o of ops) {
          for (const h of [fast, ref]) {
            if (o.t === 'fetch') h.fetch(o.key);
            else if (o.t === 'sync-throw') h.fetch(o.key);
            else if (o.t === 'forget') h.valve.forget(o.key);
            else {
              const run = h.runs[o.run];
              if (run !== undefined && !run.gate.settled) {
                if (o.ok) run.gate.resolve(`v${o.run}`);
                else run.gate.reject(new Error(`e${o.run}`));
              }
            }
          }
          await flush();
          expect(view(fast)).toEqual(view(ref));
        }
        for (const h of [fast, ref]) for (const r of h.runs) if (!r.gate.settled) r.gate.resolve('end');
        await flush();
        expect(view(fast)).toEqual(view(ref));
        const s = fast.valve.stats();
        expect(s.admitted).toBe(s.running + s.completed + s.failed);
        expect(s.running).toBe(0);
        expect(fast.callers.every((c) => c.settleCount === 1)).toBe(true);
      }),
      { numRuns: 150 },
    );
  });
});
