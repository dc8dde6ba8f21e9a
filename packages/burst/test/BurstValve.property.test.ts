// Model-based property test (STYLE 8): random interleavings of fetch / abort / forget / settle
// against a plain model. Each caller settles exactly once, with the outcome of the call it
// joined (or its own abort reason), and a key never has two fetcher runs that both own it.
import { deferred, flush, track } from '@valve/testkit';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { BurstValve } from '../src/index.js';

type Cmd =
  | { t: 'fetch'; key: number; withSignal: boolean }
  | { t: 'abort'; caller: number }
  | { t: 'forget'; key: number }
  | { t: 'settle'; run: number; ok: boolean };

const cmd: fc.Arbitrary<Cmd> = fc.oneof(
  fc.record({ t: fc.constant('fetch' as const), key: fc.nat(2), withSignal: fc.boolean() }),
  fc.record({ t: fc.constant('abort' as const), caller: fc.nat(30) }),
  fc.record({ t: fc.constant('forget' as const), key: fc.nat(2) }),
  fc.record({ t: fc.constant('settle' as const), run: fc.nat(15), ok: fc.boolean() }),
);

interface ModelRun {
  key: number;
  settled: boolean;
  live: number;
}
interface ModelCaller {
  run: number;
  controller: AbortController | undefined;
  expected: { ok: boolean; value: unknown } | undefined;
  tracked: ReturnType<typeof track<string>>;
}

describe('BurstValve property: settles exactly once with the joined call', () => {
  it('holds for random interleavings', async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(cmd, { maxLength: 40, size: 'max' }), async (cmds) => {
        const real: { key: number; gate: ReturnType<typeof deferred<string>> }[] = [];
        const valve = new BurstValve<string, number>((key) => {
          const gate = deferred<string>();
          real.push({ key: key!, gate });
          return gate.promise;
        });
        const runs: ModelRun[] = [];
        const active = new Map<number, number>();
        const callers: ModelCaller[] = [];
        const errorOf = (run: number) => ({ run });

        const settle = (i: number, ok: boolean) => {
          const run = runs[i]!;
          if (run.settled) return;
          run.settled = true;
          if (ok) real[i]!.gate.resolve(`v${i}`);
          else real[i]!.gate.reject(errorOf(i));
          for (const c of callers) {
            if (c.run === i && c.expected === undefined) c.expected = { ok, value: ok ? `v${i}` : errorOf(i) };
          }
          if (active.get(run.key) === i) active.delete(run.key);
        };

        for (const c of cmds) {
          if (c.t === 'fetch') {
            const controller = c.withSignal ? new AbortController() : undefined;
            let run = active.get(c.key);
            if (run === undefined) {
              run = runs.length;
              runs.push({ key: c.key, settled: false, live: 0 });
              active.set(c.key, run);
            }
            runs[run]!.live++;
            const p = controller ? valve.fetch(c.key, { signal: controller.signal }) : valve.fetch(c.key);
            callers.push({ run, controller, expected: undefined, tracked: track(p) });
            // The fetcher ran exactly when the model says a new call starts.
            expect(real.length).toBe(runs.length);
            expect(real[run]!.key).toBe(c.key);
          } else if (c.t === 'abort') {
            const caller = callers[c.caller];
            if (caller?.controller === undefined || caller.controller.signal.aborted) continue;
            const reason = `abort ${c.caller}`;
            caller.controller.abort(reason);
            if (caller.expected === undefined) {
              caller.expected = { ok: false, value: reason };
              const run = runs[caller.run]!;
              // Every caller gave up: the call is abandoned and frees its key.
              if (--run.live === 0 && active.get(run.key) === caller.run) active.delete(run.key);
            }
          } else if (c.t === 'forget') {
            valve.forget(c.key);
            active.delete(c.key);
          } else if (c.run < runs.length) {
            settle(c.run, c.ok);
          }
          await flush();
        }
        for (let i = 0; i < runs.length; i++) settle(i, true);
        await flush();

        for (const c of callers) {
          expect(c.tracked.settleCount).toBe(1);
          if (c.expected!.ok) expect(c.tracked.value).toBe(c.expected!.value);
          else expect(c.tracked.error).toEqual(c.expected!.value);
        }
        expect(valve.size).toBe(0);
        expect(valve.inFlight).toBe(0);
      }),
      { numRuns: 300 },
    );
  });
});
