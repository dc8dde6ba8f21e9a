/**
 * The Valve contract (CONTRIBUTING.md, "The Valve contract"), checked once, generically: every
 * package's tests call `valveContract(...)` with a factory for its valve. Structural types only,
 * so testkit needs no dependency on @valve/core (which itself tests with testkit).
 */
import { describe, expect, it } from 'vitest';

/** What the contract needs of a valve (core's `Valve`, structurally). */
export interface ValveLike {
  readonly name: string;
  stats(): object;
  close(): Promise<void>;
  [Symbol.asyncDispose](): Promise<void>;
}

/** What a unit of work did, as the case counts it (`offered` = everything submitted). */
export interface ContractWork {
  offered: number;
  rejected: number;
  completed: number;
  failed: number;
}

/** A metrics registry, structurally (core's `MetricsRegistry`). */
export interface RegistryLike {
  toPrometheus(): string;
}

export interface ValveContractCase<V extends ValveLike, M extends RegistryLike> {
  /**
   * A fresh valve named `name`, registering its metrics in `metrics` (a new registry when absent),
   * and that registry.
   */
  create(name: string, metrics?: M): { valve: V; metrics: M };
  /**
   * Offers units of work (some succeeding, some failing, some refused if the valve can refuse),
   * waits until nothing is queued or running, and returns the expected counts.
   */
  work(valve: V): Promise<ContractWork>;
  /** Core's `REASONS`: `rejectedByReason` must have each of them and `aborted`. */
  reasons: readonly string[];
  /** Each must throw a TypeError or RangeError, synchronously, whose message names `option`. */
  badOptions: { option: string; construct: () => unknown }[];
  /**
   * Every constructor form and every method that takes an options object: `with(options)` makes
   * the call with `options` where its options go. Given an object holding one key the valve does
   * not know, each must throw a TypeError synchronously (not reject) naming that key: no
   * argument is silently ignored (issue 14).
   */
  unknownOptions: { call: string; with: (options: Record<string, unknown>) => unknown }[];
  /**
   * Every constructor form: `with(extra)` constructs the valve with valid arguments and `extra`
   * after them, one argument more than the form takes. Each must throw a TypeError synchronously
   * whose message names the class (the contract's label): no argument is silently ignored
   * (issue 14), `new PromisePool({ maxWorkers: 2 }, { timeoutMs: 5 })` included.
   */
  extraArguments: { call: string; with: (extra: unknown) => unknown }[];
}

const COUNTERS = ['rejected', 'queued', 'running', 'admitted', 'completed', 'failed'] as const;

interface Stats {
  name: string;
  rejectedByReason: Record<string, number>;
  closed: boolean;
  rejected: number;
  queued: number;
  running: number;
  admitted: number;
  completed: number;
  failed: number;
}

function checkShape(stats: object, name: string, reasons: readonly string[]): Stats {
  const s = stats as Stats;
  expect(s.name).toBe(name);
  for (const key of COUNTERS) {
    expect(Number.isSafeInteger(s[key]) && s[key] >= 0, `stats().${key} = ${s[key]}`).toBe(true);
  }
  expect(typeof s.closed).toBe('boolean');
  expect(Object.keys(s.rejectedByReason).sort()).toEqual([...reasons, 'aborted'].sort());
  const byReason = Object.values(s.rejectedByReason).reduce((a, b) => a + b, 0);
  expect(byReason, 'rejectedByReason sums to rejected').toBe(s.rejected);
  expect(s.admitted, 'admitted = running + completed + failed').toBe(s.running + s.completed + s.failed);
  return s;
}

/** Registers the contract's tests for one valve. */
export function valveContract<V extends ValveLike, M extends RegistryLike>(
  label: string,
  c: ValveContractCase<V, M>,
): void {
  describe(`${label}: the Valve contract`, () => {
    it('has a name, and stats() in the shared words with their invariants', () => {
      const { valve } = c.create('contract-a');
      expect(valve.name).toBe('contract-a');
      const s = checkShape(valve.stats(), 'contract-a', c.reasons);
      expect(s.closed).toBe(false);
      expect([s.rejected, s.queued, s.running, s.admitted, s.completed, s.failed]).toEqual([0, 0, 0, 0, 0, 0]);
    });

    it('counts work: offered = rejected + queued + admitted, completed and failed as settled', async () => {
      const { valve } = c.create('contract-b');
      const expected = await c.work(valve);
      const s = checkShape(valve.stats(), 'contract-b', c.reasons);
      expect(s.queued + s.running, 'nothing queued or running after work()').toBe(0);
      expect(s.rejected + s.queued + s.admitted, 'offered = rejected + queued + admitted').toBe(expected.offered);
      expect({ rejected: s.rejected, completed: s.completed, failed: s.failed }).toEqual({
        rejected: expected.rejected,
        completed: expected.completed,
        failed: expected.failed,
      });
      await valve.close();
    });

    it('close() is awaitable and idempotent: the second call returns the same promise', async () => {
      const { valve } = c.create('contract-c');
      const first = valve.close();
      expect(first).toBeInstanceOf(Promise);
      expect(valve.close()).toBe(first);
      await expect(first).resolves.toBeUndefined();
      expect(valve.close()).toBe(first);
      expect(checkShape(valve.stats(), 'contract-c', c.reasons).closed).toBe(true);
    });

    it('[Symbol.asyncDispose] is close(), so `await using` closes the valve', async () => {
      const { valve } = c.create('contract-d');
      const disposed = valve[Symbol.asyncDispose]();
      expect(valve.close()).toBe(disposed);
      await disposed;
      let scoped: V | undefined;
      {
        await using v = c.create('contract-e').valve;
        scoped = v;
        expect(checkShape(v.stats(), 'contract-e', c.reasons).closed).toBe(false);
      }
      expect(checkShape(scoped.stats(), 'contract-e', c.reasons).closed).toBe(true);
    });

    it("close() removes exactly this valve's series from the registry", async () => {
      const { valve, metrics } = c.create('contract-f');
      const other = c.create('contract-g', metrics);
      await c.work(valve);
      await c.work(other.valve);
      expect(metrics.toPrometheus()).toContain('valve="contract-f"');
      await valve.close();
      const after = metrics.toPrometheus();
      expect(after).not.toContain('valve="contract-f"');
      // A family with no series left prints nothing (no orphan HELP/TYPE lines).
      const lines = after.split('\n').filter((l) => l !== '');
      for (let i = 0; i < lines.length; i++) {
        if (lines[i]!.startsWith('# TYPE')) expect(lines[i + 1]?.startsWith('#') ?? true).toBe(false);
      }
      expect(after).toContain('valve="contract-g"');
      await other.valve.close();
    });

    it('an unknown option key throws a TypeError naming it, from every constructor and options-taking method', () => {
      expect(c.unknownOptions.length).toBeGreaterThan(0);
      for (const { call, with: make } of c.unknownOptions) {
        const key = `unknownOption_${call.replace(/\W+/g, '_')}`;
        let thrown: unknown;
        let returned: unknown;
        try {
          returned = make({ [key]: 1 });
        } catch (error) {
          thrown = error;
        }
        // A promise that would reject is the wrong channel: the caller's mistake throws at once.
        if (returned instanceof Promise) returned.catch(() => {});
        expect(thrown, `${call}: nothing thrown synchronously`).toBeInstanceOf(TypeError);
        expect((thrown as Error).message, call).toContain(key);
      }
    });

    it('a constructor given one argument more than it takes throws a TypeError naming the class', () => {
      expect(c.extraArguments.length).toBeGreaterThan(0);
      for (const { call, with: make } of c.extraArguments) {
        let thrown: unknown;
        try {
          make({ extra: true });
        } catch (error) {
          thrown = error;
        }
        expect(thrown, `${call}: nothing thrown`).toBeInstanceOf(TypeError);
        expect((thrown as Error).message, call).toContain(label);
        expect((thrown as Error).message, call).toMatch(/takes (no arguments|at most \d+ arguments?)/);
      }
    });

    it('bad options throw synchronously (TypeError/RangeError naming the option)', () => {
      expect(c.badOptions.length).toBeGreaterThan(0);
      for (const { option, construct } of c.badOptions) {
        let thrown: unknown;
        try {
          construct();
        } catch (error) {
          thrown = error;
        }
        expect(thrown, `${option}: nothing thrown`).toBeDefined();
        expect(thrown instanceof TypeError || thrown instanceof RangeError, `${option}: ${String(thrown)}`).toBe(true);
        expect((thrown as Error).message).toContain(option);
      }
    });
  });
}
