// Model-based property tests (STYLE 8) for what depends on time and on batch mode: the valve's
// `timeoutMs`, per-caller `timeoutMs`, lingering with `maxKeys`, and crowds of callers sharing
// one signal (which exercises the removal of given-up waiters). Each caller settles exactly
// once with the outcome the model predicts, and the internal structures stay bounded: the map
// matches the model, a call's waiter list holds at most twice its live waiters plus a slack, and
// the linger ring at most twice the lingering keys plus a slack (review of issue 9).
import { isValveError, ManualClock } from '@valve/core';
import { deferred, flush, track } from '@valve/testkit';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { BurstValve, ERR_BURST_NO_RESULT } from '../src/index.js';

/** The valve's private structures the bounds are about (read-only, for assertions). */
interface Internals {
  map: Map<unknown, { waiters: { done: boolean }[] | undefined }>;
  fresh: { size: number } | undefined;
}
function internals(valve: BurstValve<unknown, unknown>): Internals {
  return valve as unknown as Internals;
}

function expectBounded(valve: BurstValve<unknown, unknown>): void {
  const { map, fresh } = internals(valve);
  for (const call of map.values()) {
    const waiters = call.waiters ?? [];
    const live = waiters.filter((w) => !w.done).length;
    expect(waiters.length).toBeLessThanOrEqual(2 * live + 16);
  }
  if (fresh !== undefined) expect(fresh.size).toBeLessThanOrEqual(2 * valve.stats().lingering + 65);
}

const TIMEOUT = Symbol('a TimeoutError');

type Cmd =
  | { t: 'fetch'; key: number; signal: boolean; ownTimeout: boolean }
  | { t: 'crowd'; key: number }
  | { t: 'abort'; caller: number }
  | { t: 'forget'; key: number }
  | { t: 'settle'; run: number; ok: boolean }
  | { t: 'advance'; ms: number };

const cmd: fc.Arbitrary<Cmd> = fc.oneof(
  {
    weight: 4,
    arbitrary: fc.record({
      t: fc.constant('fetch' as const),
      key: fc.nat(2),
      signal: fc.boolean(),
      ownTimeout: fc.boolean(),
    }),
  },
  { weight: 1, arbitrary: fc.record({ t: fc.constant('crowd' as const), key: fc.nat(2) }) },
  { weight: 2, arbitrary: fc.record({ t: fc.constant('abort' as const), caller: fc.nat(60) }) },
  { weight: 1, arbitrary: fc.record({ t: fc.constant('forget' as const), key: fc.nat(2) }) },
  { weight: 3, arbitrary: fc.record({ t: fc.constant('settle' as const), run: fc.nat(12), ok: fc.boolean() }) },
  { weight: 2, arbitrary: fc.record({ t: fc.constant('advance' as const), ms: fc.nat(6) }) },
);

const config = fc.record({
  lingerMs: fc.constantFrom(0, 5),
  timeoutMs: fc.constantFrom(Number.POSITIVE_INFINITY, 7),
  maxKeys: fc.constantFrom(1, 2, Number.POSITIVE_INFINITY),
});

const OWN_TIMEOUT = 3;
const CROWD = 20;

interface ModelRun {
  key: number;
  pending: boolean;
  started: number;
  /** Callers that joined while it was pending and have not given up. */
  live: number;
  /** Callers that joined while pending with neither a signal nor an own timeout. */
  plain: number;
}
interface ModelCaller {
  run: number;
  controller: AbortController | undefined;
  deadline: number;
  expected: { ok: boolean; value: unknown } | undefined;
  tracked: ReturnType<typeof track<string>>;
}
type Slot = { run: number; lingerUntil: number | undefined };

describe('BurstValve property: timeouts, lingering and crowds', () => {
  it('each caller settles exactly once as the model says; internal sizes stay bounded', async () => {
    await fc.assert(
      fc.asyncProperty(config, fc.array(cmd, { minLength: 10, maxLength: 60, size: 'max' }), async (cfg, cmds) => {
        const clock = new ManualClock();
        const real: { key: number; gate: ReturnType<typeof deferred<string>> }[] = [];
        const valve = new BurstValve<string, number>({
          fetch: (key) => {
            const gate = deferred<string>();
            real.push({ key, gate });
            return gate.promise;
          },
          clock,
          lingerMs: cfg.lingerMs,
          timeoutMs: cfg.timeoutMs,
          maxKeys: cfg.maxKeys,
        });
        let now = 0;
        const runs: ModelRun[] = [];
        const slots = new Map<number, Slot>();
        /** Lingering runs in the order they started lingering (maxKeys evicts the first). */
        let lingering: number[] = [];
        const callers: ModelCaller[] = [];
        const errorOf = (run: number) => ({ run });

        const freeSlot = (run: number) => {
          const key = runs[run]!.key;
          if (slots.get(key)?.run === run) slots.delete(key);
          lingering = lingering.filter((r) => r !== run);
        };
        const endRun = (i: number, ok: boolean, value: unknown) => {
          const run = runs[i]!;
          run.pending = false;
          for (const c of callers) {
            if (c.run === i && c.expected === undefined) c.expected = { ok, value };
          }
          const slot = slots.get(run.key);
          if (slot?.run !== i) return;
          if (ok && cfg.lingerMs > 0) {
            slot.lingerUntil = now + cfg.lingerMs;
            lingering.push(i);
            if (lingering.length > cfg.maxKeys) freeSlot(lingering[0]!);
          } else {
            slots.delete(run.key);
          }
        };
        const giveUp = (c: ModelCaller, value: unknown) => {
          c.expected = { ok: false, value };
          const run = runs[c.run]!;
          // Every caller gave up: the call is abandoned and frees its key.
          if (--run.live === 0) {
            run.pending = false;
            freeSlot(c.run);
          }
        };
        const join = (key: number, controller: AbortController | undefined, ownTimeout: boolean) => {
          let slot = slots.get(key);
          if (slot === undefined) {
            slot = { run: runs.length, lingerUntil: undefined };
            runs.push({ key, pending: true, started: now, live: 0, plain: 0 });
            slots.set(key, slot);
          }
          const run = runs[slot.run]!;
          const p = valve.fetch(key, {
            ...(controller === undefined ? {} : { signal: controller.signal }),
            ...(ownTimeout ? { timeoutMs: OWN_TIMEOUT } : {}),
          });
          const caller: ModelCaller = {
            run: slot.run,
            controller,
            deadline: Number.POSITIVE_INFINITY,
            expected: undefined,
            tracked: track(p),
          };
          if (run.pending) {
            run.live++;
            if (controller === undefined && !ownTimeout) run.plain++;
            if (ownTimeout) caller.deadline = now + OWN_TIMEOUT;
          } else {
            caller.expected = { ok: true, value: `v${slot.run}` };
          }
          callers.push(caller);
          expect(real.length).toBe(runs.length);
          expect(real[slot.run]!.key).toBe(key);
        };
        /** Applies every timer due by `to`, in time order (ties: any order gives the same model). */
        const advanceModel = (to: number) => {
          for (;;) {
            let at = Number.POSITIVE_INFINITY;
            for (const r of runs) if (r.pending) at = Math.min(at, r.started + cfg.timeoutMs);
            for (const c of callers) if (c.expected === undefined) at = Math.min(at, c.deadline);
            for (const s of slots.values()) if (s.lingerUntil !== undefined) at = Math.min(at, s.lingerUntil);
            if (at > to) break;
            now = at;
            for (const c of callers) {
              if (c.expected === undefined && c.deadline <= now) giveUp(c, TIMEOUT);
            }
            runs.forEach((r, i) => {
              if (r.pending && r.started + cfg.timeoutMs <= now) endRun(i, false, TIMEOUT);
            });
            for (const [key, s] of slots) {
              if (s.lingerUntil !== undefined && s.lingerUntil <= now) {
                slots.delete(key);
                lingering = lingering.filter((r) => r !== s.run);
              }
            }
          }
          now = to;
        };

        for (const c of cmds) {
          if (c.t === 'fetch') {
            join(c.key, c.signal ? new AbortController() : undefined, c.ownTimeout);
          } else if (c.t === 'crowd') {
            const controller = new AbortController();
            for (let i = 0; i < CROWD; i++) join(c.key, controller, false);
          } else if (c.t === 'abort') {
            // Indices are taken modulo what exists, so most commands hit something.
            const controller = callers[c.caller % Math.max(1, callers.length)]?.controller;
            if (controller === undefined || controller.signal.aborted) continue;
            const reason = `abort ${c.caller}`;
            controller.abort(reason);
            for (const caller of callers) {
              if (caller.controller === controller && caller.expected === undefined) giveUp(caller, reason);
            }
          } else if (c.t === 'forget') {
            valve.forget(c.key);
            const slot = slots.get(c.key);
            if (slot !== undefined) freeSlot(slot.run);
          } else if (c.t === 'settle') {
            if (runs.length === 0) continue;
            const i = c.run % runs.length;
            const gate = real[i]!.gate;
            if (c.ok) gate.resolve(`v${i}`);
            else gate.reject(errorOf(i));
            if (runs[i]!.pending) endRun(i, c.ok, c.ok ? `v${i}` : errorOf(i));
          } else {
            advanceModel(now + c.ms);
            await clock.advanceAsync(c.ms);
          }
          await flush();
          expect(valve.size).toBe(slots.size);
          expect(valve.stats().lingering).toBe(lingering.length);
          expect(lingering.length).toBeLessThanOrEqual(cfg.maxKeys);
          expectBounded(valve as BurstValve<unknown, unknown>);
        }
        for (let i = 0; i < runs.length; i++) {
          real[i]!.gate.resolve(`v${i}`);
          if (runs[i]!.pending) endRun(i, true, `v${i}`);
        }
        await flush();
        await clock.advanceAsync(100);

        for (const c of callers) {
          expect(c.tracked.settleCount).toBe(1);
          const expected = c.expected!;
          if (expected.ok) expect(c.tracked.value).toBe(expected.value);
          else if (expected.value === TIMEOUT) expect(isValveError(c.tracked.error, 'ERR_VALVE_TIMEOUT')).toBe(true);
          else expect(c.tracked.error).toEqual(expected.value);
        }
        expect(valve.size).toBe(0);
        expect(valve.inFlight).toBe(0);
        expect(valve.stats().lingering).toBe(0);
        expect(clock.pendingTimers).toBe(0);
      }),
      { numRuns: 300 },
    );
  });
});

type BatchCmd =
  | { t: 'fetch'; key: number; signal: boolean }
  | { t: 'abort'; caller: number }
  | { t: 'forget'; key: number }
  | { t: 'settle'; batch: number; how: 'array' | 'map' | 'early' | 'throw' | 'short' }
  | { t: 'advance'; ms: number };

const batchCmd: fc.Arbitrary<BatchCmd> = fc.oneof(
  { weight: 4, arbitrary: fc.record({ t: fc.constant('fetch' as const), key: fc.nat(4), signal: fc.boolean() }) },
  { weight: 1, arbitrary: fc.record({ t: fc.constant('abort' as const), caller: fc.nat(30) }) },
  { weight: 1, arbitrary: fc.record({ t: fc.constant('forget' as const), key: fc.nat(4) }) },
  {
    weight: 3,
    arbitrary: fc.record({
      t: fc.constant('settle' as const),
      batch: fc.nat(8),
      how: fc.constantFrom('array' as const, 'map' as const, 'early' as const, 'throw' as const, 'short' as const),
    }),
  },
  { weight: 1, arbitrary: fc.record({ t: fc.constant('advance' as const), ms: fc.nat(6) }) },
);

describe('BurstValve property: batch mode', () => {
  it('each caller settles exactly once, with its key value or an explained error; nothing is left', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.record({ timeoutMs: fc.constantFrom(Number.POSITIVE_INFINITY, 5), maxBatchSize: fc.constantFrom(2, 100) }),
        fc.array(batchCmd, { minLength: 5, maxLength: 40, size: 'max' }),
        async (cfg, cmds) => {
          const clock = new ManualClock();
          const batches: {
            keys: number[];
            early: (key: number, v: string | Error) => void;
            gate: ReturnType<typeof deferred<string[] | Map<number, string> | undefined>>;
          }[] = [];
          const valve = new BurstValve<string, number>({
            batch: (keys, early) => {
              const gate = deferred<string[] | Map<number, string> | undefined>();
              batches.push({ keys, early, gate });
              return gate.promise;
            },
            clock,
            timeoutMs: cfg.timeoutMs,
            maxBatchSize: cfg.maxBatchSize,
          });
          const callers: { key: number; reason: string | undefined; tracked: ReturnType<typeof track<string>> }[] = [];
          const controllers: (AbortController | undefined)[] = [];
          const thrown = new Error('batch failed');
          const settle = (b: (typeof batches)[number], how: Extract<BatchCmd, { t: 'settle' }>['how']) => {
            if (how === 'array') b.gate.resolve(b.keys.map((k) => `v${k}`));
            else if (how === 'map') b.gate.resolve(new Map(b.keys.slice(1).map((k) => [k, `v${k}`])));
            else if (how === 'short') b.gate.resolve(b.keys.slice(1).map((k) => `v${k}`));
            else if (how === 'throw') b.gate.reject(thrown);
            else {
              for (const k of b.keys) b.early(k, `v${k}`);
              b.gate.resolve(undefined);
            }
          };
          for (const c of cmds) {
            if (c.t === 'fetch') {
              const ac = c.signal ? new AbortController() : undefined;
              controllers.push(ac);
              const p = ac ? valve.fetch(c.key, { signal: ac.signal }) : valve.fetch(c.key);
              callers.push({ key: c.key, reason: undefined, tracked: track(p) });
            } else if (c.t === 'abort') {
              const i = c.caller % Math.max(1, callers.length);
              const ac = controllers[i];
              if (ac === undefined || ac.signal.aborted) continue;
              callers[i]!.reason = `abort ${i}`;
              ac.abort(`abort ${i}`);
            } else if (c.t === 'forget') {
              valve.forget(c.key);
            } else if (c.t === 'settle') {
              const b = batches[c.batch % Math.max(1, batches.length)];
              if (b === undefined || b.gate.settled) continue;
              settle(b, c.how);
            } else {
              await clock.advanceAsync(c.ms);
            }
            await flush();
            expect(valve.size).toBeLessThanOrEqual(valve.inFlight);
            for (const b of batches) expect(b.keys.length).toBeLessThanOrEqual(cfg.maxBatchSize);
            expectBounded(valve as BurstValve<unknown, unknown>);
          }
          await flush();
          for (const b of batches) if (!b.gate.settled) settle(b, 'array');
          await flush();

          for (const c of callers) {
            expect(c.tracked.settleCount).toBe(1);
            if (c.tracked.state === 'resolved') {
              expect(c.tracked.value).toBe(`v${c.key}`);
              continue;
            }
            const e = c.tracked.error;
            const explained =
              e === thrown ||
              (c.reason !== undefined && e === c.reason) ||
              isValveError(e, 'ERR_VALVE_TIMEOUT') ||
              isValveError(e, ERR_BURST_NO_RESULT);
            expect(explained).toBe(true);
          }
          expect(valve.size).toBe(0);
          expect(valve.inFlight).toBe(0);
          expect(clock.pendingTimers).toBe(0);
        },
      ),
      { numRuns: 300 },
    );
  });
});
