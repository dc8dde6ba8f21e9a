/**
 * Named queues, as in safetyvalve's application config
 * `{safetyvalve, [{queues, [{pg_q, [...]}]}]}`: `configure({ queues: { pg_q: {...} } })` then
 * `run('pg_q', fn)`. A group owns its valves; `close()` closes them all. The module-level
 * functions (`configure`, `run`, ...) use one default group, like safetyvalve's application.
 */
import {
  type Clock,
  type MetricsRegistry,
  rejectExtraArguments,
  rejectUnknownOptions,
  validateObject,
  validateString,
} from '@valve/core';
import {
  type Job,
  LIMIT_KEYS,
  type RunOptions,
  type SafetyPermit,
  type SafetyValveLimits,
  type SafetyValveOptions,
  type SafetyValveStats,
  type TryRunResult,
} from './options.js';
import { SafetyValve } from './SafetyValve.js';

export interface ConfigureOptions {
  /**
   * Queue name -> options (without `name`, which is the key). For a name already configured,
   * only the limits (`SafetyValveLimits`) may change.
   */
  queues: Record<string, Omit<SafetyValveOptions, 'name'> | SafetyValveLimits>;
  /** Default `clock` for the queues that do not set one. @default systemClock */
  clock?: Clock;
  /** Default `metrics` registry for the queues that do not set one. @default undefined */
  metrics?: MetricsRegistry;
}

export class SafetyValves {
  private readonly valves = new Map<string, SafetyValve>();

  /** Empty: `configure()` creates the valves (`new SafetyValves({ queues })` would drop them, so it throws). */
  constructor() {
    // biome-ignore lint/complexity/noArguments: counts the arguments to refuse an extra one; a rest parameter would allocate
    rejectExtraArguments(arguments.length, 0, 'new SafetyValves()');
  }

  /**
   * Creates the named valves, and updates the limits of names already configured (their
   * `setLimits()`: `rate`, `tokenLimit`, `concurrency`, `size`, `deadlineMs`; any other option of
   * an existing queue must keep its value). All or nothing: a bad queue changes nothing.
   */
  configure(options: ConfigureOptions): void {
    // biome-ignore lint/complexity/noArguments: counts the arguments to refuse an extra one; a rest parameter would allocate
    rejectExtraArguments(arguments.length, 1, 'configure()');
    validateObject(options, 'options');
    rejectUnknownOptions(options, 'options', ['queues', 'clock', 'metrics']);
    const queues = validateObject(options.queues, 'options.queues') as ConfigureOptions['queues'];
    const created: [string, SafetyValve][] = [];
    const updates: [SafetyValve, SafetyValveLimits][] = [];
    try {
      for (const [name, queue] of Object.entries(queues)) {
        validateString(name, 'queue name', { nonEmpty: true });
        validateObject(queue, `options.queues.${name}`);
        const existing = this.valves.get(name);
        if (existing !== undefined) {
          updates.push([existing, planUpdate(existing, name, queue)]);
          continue;
        }
        const valve = new SafetyValve({
          clock: options.clock,
          metrics: options.metrics,
          ...(queue as Omit<SafetyValveOptions, 'name'>),
          name,
        });
        created.push([name, valve]);
      }
    } catch (error) {
      // All or nothing: a bad queue leaves no half-configured group behind.
      for (const [, valve] of created) valve.close();
      throw error;
    }
    for (const [name, valve] of created) this.valves.set(name, valve);
    for (const [valve, limits] of updates) valve.applyLimits(limits);
  }

  /** The valve named `name`; throws for an unknown name. */
  get(name: string): SafetyValve {
    const valve = this.valves.get(name);
    if (valve === undefined) throw this.unknownName(name);
    return valve;
  }

  has(name: string): boolean {
    return this.valves.has(name);
  }

  // `run`, `tryRun` and `ask` by name: an unknown name rejects (safetyvalve's answer for a queue
  // that is not configured); bad arguments throw synchronously from the valve, as SafetyValve's do.
  run<T>(name: string, fn: Job<T>, options?: RunOptions): Promise<Awaited<T>> {
    const valve = this.valves.get(name);
    if (valve === undefined) return Promise.reject(this.unknownName(name));
    return valve.run(fn, options);
  }

  tryRun<T>(name: string, fn: Job<T>, options?: RunOptions): Promise<TryRunResult<Awaited<T>>> {
    const valve = this.valves.get(name);
    if (valve === undefined) return Promise.reject(this.unknownName(name));
    return valve.tryRun(fn, options);
  }

  ask(name: string, options?: RunOptions): Promise<SafetyPermit> {
    const valve = this.valves.get(name);
    if (valve === undefined) return Promise.reject(this.unknownName(name));
    return valve.ask(options);
  }

  private unknownName(name: string): TypeError {
    return new TypeError(
      `no queue named ${JSON.stringify(name)}; configured: ${[...this.valves.keys()].join(', ') || 'none'}`,
    );
  }

  stats(name: string): SafetyValveStats {
    return this.get(name).stats();
  }

  /** Closes every valve of the group and forgets them. */
  close(): void {
    for (const valve of this.valves.values()) valve.close();
    this.valves.clear();
  }
}

/** The limits of an update to an existing queue, checked; other options must not change. */
function planUpdate(valve: SafetyValve, name: string, queue: object): SafetyValveLimits {
  const limits: Record<string, unknown> = {};
  const current = valve.stats().configuration as unknown as Record<string, unknown>;
  for (const [key, value] of Object.entries(queue)) {
    if ((LIMIT_KEYS as readonly string[]).includes(key)) limits[key] = value;
    else if (value !== undefined && current[key] !== value) {
      throw new TypeError(
        `queue ${JSON.stringify(name)} is already configured: only ${LIMIT_KEYS.join(', ')} change at run time, not ${key} (close it and configure it again)`,
      );
    }
  }
  return valve.planLimits(limits as SafetyValveLimits);
}

/** The default group behind the module-level functions. */
export const defaultValves = new SafetyValves();

/** Configures named queues in the default group (safetyvalve's `queues` application env). */
export function configure(options: ConfigureOptions): void {
  // biome-ignore lint/complexity/noArguments: counts the arguments to refuse an extra one; a rest parameter would allocate
  rejectExtraArguments(arguments.length, 1, 'configure()');
  defaultValves.configure(options);
}

/** `run('pg_q', fn)`: safetyvalve's `sv:run(pg_q, Fun)`. */
export function run<T>(name: string, fn: Job<T>, options?: RunOptions): Promise<Awaited<T>> {
  return defaultValves.run(name, fn, options);
}

/** `tryRun('pg_q', fn)`: resolves to `{ ok: true, value } | { ok: false, reason }`. */
export function tryRun<T>(name: string, fn: Job<T>, options?: RunOptions): Promise<TryRunResult<Awaited<T>>> {
  return defaultValves.tryRun(name, fn, options);
}

/** `ask('pg_q')`: safetyvalve's `sv:ask/2`; call `done()` on the permit. */
export function ask(name: string, options?: RunOptions): Promise<SafetyPermit> {
  return defaultValves.ask(name, options);
}

/** safetyvalve's `sv:q(Name, tokens | configuration)` and more. */
export function stats(name: string): SafetyValveStats {
  return defaultValves.stats(name);
}

/** The default group's valve named `name`. */
export function valve(name: string): SafetyValve {
  return defaultValves.get(name);
}
