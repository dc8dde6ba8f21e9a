import { monitorEventLoopDelay, performance } from 'node:perf_hooks';
import type { Clock, Timer } from '../clock/Clock.js';
import { Emitter } from '../events/Emitter.js';
import {
  rejectExtraArguments,
  rejectUnknownOptions,
  validateClock,
  validateFunction,
  validateInteger,
  validateNumber,
  validateObject,
} from '../validate.js';

/** One reading of the process's load. A field a sampler does not measure is left out. */
export interface LoadSample {
  /** Mean event-loop delay since the previous sample, in ms. */
  eventLoopDelayMs?: number;
  /** Event-loop utilisation since the previous sample, 0..1. */
  eventLoopUtilization?: number;
  /** V8 heap in use, in bytes. */
  heapUsedBytes?: number;
  /** Resident set size, in bytes. */
  rssBytes?: number;
}

/** Takes a {@link LoadSample}; called once per `sampleIntervalMs`, never per unit of work. */
export interface LoadSampler {
  sample(): LoadSample;
  /** Stops whatever the sampler measures with (the process sampler's histogram). */
  close?(): void;
}

/** Which threshold an overloaded monitor is over. */
export type LoadCause = 'eventLoopDelay' | 'eventLoopUtilization' | 'heapUsed' | 'rss';

export interface LoadThresholds {
  /** Overloaded while the mean event-loop delay exceeds this, in ms (> 0). @default undefined (not checked) */
  maxEventLoopDelayMs?: number;
  /** Overloaded while event-loop utilisation exceeds this (> 0 and <= 1). @default undefined */
  maxEventLoopUtilization?: number;
  /** Overloaded while the V8 heap in use exceeds this, in bytes (integer >= 1). @default undefined */
  maxHeapUsedBytes?: number;
  /** Overloaded while the resident set size exceeds this, in bytes (integer >= 1). @default undefined */
  maxRssBytes?: number;
}

export interface LoadMonitorOptions extends LoadThresholds {
  /** Time between samples, in ms (> 0). @default 1000 */
  sampleIntervalMs?: number;
  /**
   * Hysteresis, a ratio > 0 and <= 1: once overloaded, the monitor stays overloaded until every
   * measure is at or below `recoverBelow` times its threshold (its release level), so a measure
   * hovering at the threshold does not flip the gate at every sample. 1 recovers as soon as no
   * threshold is exceeded (no hysteresis). @default 1
   */
  recoverBelow?: number;
  /**
   * What takes the samples. The monitor closes the default one on `close()`, not one passed in.
   * @default processLoadSampler()
   */
  sampler?: LoadSampler;
  /** @default systemClock */
  clock?: Clock;
}

/** What `onChange` receives. */
export interface LoadState {
  overloaded: boolean;
  /** The first threshold exceeded, `undefined` when not overloaded. */
  cause: LoadCause | undefined;
  sample: LoadSample;
}

const KNOWN = [
  'maxEventLoopDelayMs',
  'maxEventLoopUtilization',
  'maxHeapUsedBytes',
  'maxRssBytes',
  'sampleIntervalMs',
  'recoverBelow',
  'sampler',
  'clock',
];

/**
 * The default sampler: event-loop delay from `perf_hooks.monitorEventLoopDelay` (its mean since
 * the previous sample, as @fastify/under-pressure reads it), utilisation from
 * `performance.eventLoopUtilization()` deltas, heap and RSS from `process.memoryUsage()`.
 * Only the measures asked for are taken (`process.memoryUsage()` reads /proc for RSS).
 */
export function processLoadSampler(
  measure: { eventLoopDelay?: boolean; eventLoopUtilization?: boolean; memory?: boolean } = {},
): LoadSampler {
  const delay = measure.eventLoopDelay === false ? undefined : monitorEventLoopDelay({ resolution: 10 });
  delay?.enable();
  let elu = measure.eventLoopUtilization === false ? undefined : performance.eventLoopUtilization();
  const memory = measure.memory !== false;
  return {
    sample(): LoadSample {
      const out: LoadSample = {};
      if (delay !== undefined) {
        // The histogram reads NaN before its first measurement.
        const mean = delay.mean / 1e6;
        out.eventLoopDelayMs = Number.isFinite(mean) ? mean : 0;
        delay.reset();
      }
      if (elu !== undefined) {
        const now = performance.eventLoopUtilization();
        out.eventLoopUtilization = performance.eventLoopUtilization(now, elu).utilization;
        elu = now;
      }
      if (memory) {
        const m = process.memoryUsage();
        out.heapUsedBytes = m.heapUsed;
        out.rssBytes = m.rss;
      }
      return out;
    },
    close(): void {
      delay?.disable();
    },
  };
}

/**
 * Watches the process's own load and says whether it is overloaded, for valves to refuse new
 * work with reason `overload` (issue 17). Sampling runs on the injected clock every
 * `sampleIntervalMs` from one unref'd timer (an idle process may exit), so a valve's admitted
 * path reads one boolean and never a syscall; several valves can share one monitor.
 *
 * Invariant: `overloaded` and `cause` describe the latest sample (false and undefined before the
 * first): not overloaded, it becomes overloaded when a measure exceeds its threshold; overloaded,
 * it stays so while a measure exceeds its release level (`recoverBelow` x its threshold; the
 * threshold itself by default), and `cause` names that measure. `onChange` fires only when
 * `overloaded` flips, after both are updated.
 */
export class LoadMonitor {
  private readonly thresholds: Readonly<LoadThresholds>;
  readonly sampleIntervalMs: number;
  /** The hysteresis ratio (1: none). */
  readonly recoverBelow: number;
  private readonly sampler: LoadSampler;
  /** The sampler was built here, so `close()` closes it. */
  private readonly ownSampler: boolean;
  private readonly clock: Clock;
  private timer: Timer | undefined;
  private state = false;
  private why: LoadCause | undefined = undefined;
  private last: LoadSample = {};
  private readonly change$ = new Emitter<LoadState>();
  /** Fires when the monitor becomes overloaded or recovers. */
  readonly onChange = this.change$.event;

  constructor(options: LoadMonitorOptions = {}) {
    // biome-ignore lint/complexity/noArguments: counts the arguments to refuse an extra one; a rest parameter would allocate
    rejectExtraArguments(arguments.length, 1, 'new LoadMonitor()');
    validateObject(options, 'options');
    rejectUnknownOptions(options, 'options', KNOWN);
    this.thresholds = Object.freeze(checkThresholds(options));
    if (Object.keys(this.thresholds).length === 0) {
      throw new TypeError(
        'LoadMonitor needs at least one of maxEventLoopDelayMs, maxEventLoopUtilization, maxHeapUsedBytes, maxRssBytes',
      );
    }
    this.sampleIntervalMs = validateNumber(options.sampleIntervalMs ?? 1000, 'sampleIntervalMs', { above: 0 });
    const recoverBelow = validateNumber(options.recoverBelow ?? 1, 'recoverBelow', { above: 0 });
    if (recoverBelow > 1) throw new RangeError(`recoverBelow must be > 0 and <= 1, got ${recoverBelow}`);
    this.recoverBelow = recoverBelow;
    this.clock = validateClock(options.clock);
    if (options.sampler !== undefined) {
      validateObject(options.sampler, 'sampler');
      validateFunction(options.sampler.sample, 'sampler.sample');
      this.sampler = options.sampler;
      this.ownSampler = false;
    } else {
      const t = this.thresholds;
      this.sampler = processLoadSampler({
        eventLoopDelay: t.maxEventLoopDelayMs !== undefined,
        eventLoopUtilization: t.maxEventLoopUtilization !== undefined,
        memory: t.maxHeapUsedBytes !== undefined || t.maxRssBytes !== undefined,
      });
      this.ownSampler = true;
    }
    this.arm();
  }

  /** True while the latest sample is over a threshold: the one read on a valve's admitted path. */
  get overloaded(): boolean {
    return this.state;
  }

  /** The first threshold the latest sample exceeds (in the order of the options), or `undefined`. */
  get cause(): LoadCause | undefined {
    return this.why;
  }

  /** The latest sample (empty before the first). */
  get sample(): Readonly<LoadSample> {
    return this.last;
  }

  /** The thresholds checked. */
  get limits(): Readonly<LoadThresholds> {
    return this.thresholds;
  }

  /**
   * A sentence for an error message: "event-loop delay 250 ms > 200 ms", or while held by the
   * hysteresis "event-loop delay 190 ms > 160 ms (recovers at 0.8 x 200 ms)".
   */
  describe(): string {
    const s = this.last;
    const t = this.thresholds;
    switch (this.why) {
      case 'eventLoopDelay':
        return `event-loop delay ${round(s.eventLoopDelayMs)} ms ${this.over(s.eventLoopDelayMs!, t.maxEventLoopDelayMs!, ' ms')}`;
      case 'eventLoopUtilization':
        return `event-loop utilization ${round(s.eventLoopUtilization)} ${this.over(s.eventLoopUtilization!, t.maxEventLoopUtilization!, '')}`;
      case 'heapUsed':
        return `heap used ${s.heapUsedBytes} bytes ${this.over(s.heapUsedBytes!, t.maxHeapUsedBytes!, '')}`;
      case 'rss':
        return `RSS ${s.rssBytes} bytes ${this.over(s.rssBytes!, t.maxRssBytes!, '')}`;
      default:
        return 'not overloaded';
    }
  }

  /** "> 200 ms", or "> 160 ms (recovers at 0.8 x 200 ms)" for a value held by the hysteresis. */
  private over(value: number, max: number, unit: string): string {
    if (value > max || this.recoverBelow === 1) return `> ${max}${unit}`;
    return `> ${round(max * this.recoverBelow)}${unit} (recovers at ${this.recoverBelow} x ${max}${unit})`;
  }

  /** Samples now (also what the timer does); returns whether the process is overloaded. */
  check(): boolean {
    const sample = this.sampler.sample();
    const t = this.thresholds;
    // Overloaded, a measure is compared with its release level (the hysteresis); else with its threshold.
    const k = this.state ? this.recoverBelow : 1;
    let cause: LoadCause | undefined;
    if (over(sample.eventLoopDelayMs, t.maxEventLoopDelayMs, k)) cause = 'eventLoopDelay';
    else if (over(sample.eventLoopUtilization, t.maxEventLoopUtilization, k)) cause = 'eventLoopUtilization';
    else if (over(sample.heapUsedBytes, t.maxHeapUsedBytes, k)) cause = 'heapUsed';
    else if (over(sample.rssBytes, t.maxRssBytes, k)) cause = 'rss';
    this.last = sample;
    this.why = cause;
    const overloaded = cause !== undefined;
    if (overloaded !== this.state) {
      this.state = overloaded;
      if (this.change$.hasListeners) this.change$.emit({ overloaded, cause, sample });
    }
    return overloaded;
  }

  /** Stops sampling (and closes the default sampler); `overloaded` reads false from then on. */
  close(): void {
    this.timer?.clear();
    this.timer = undefined;
    this.state = false;
    this.why = undefined;
    if (this.ownSampler) this.sampler.close?.();
  }

  [Symbol.dispose](): void {
    this.close();
  }

  private arm(): void {
    // Unref'd (the clock's default): sampling never keeps the process alive.
    this.timer = this.clock.setTimeout(this.tick, this.sampleIntervalMs);
  }

  private readonly tick = (): void => {
    this.timer = undefined;
    this.check();
    this.arm();
  };
}

function over(value: number | undefined, max: number | undefined, k: number): boolean {
  return max !== undefined && value !== undefined && value > max * k;
}

function round(n: number | undefined): number {
  return n === undefined ? Number.NaN : Math.round(n * 100) / 100;
}

/** Checks the four thresholds (each optional) and returns those given. */
export function checkThresholds(options: LoadThresholds): LoadThresholds {
  const out: LoadThresholds = {};
  if (options.maxEventLoopDelayMs !== undefined) {
    out.maxEventLoopDelayMs = validateNumber(options.maxEventLoopDelayMs, 'maxEventLoopDelayMs', { above: 0 });
  }
  if (options.maxEventLoopUtilization !== undefined) {
    const u = validateNumber(options.maxEventLoopUtilization, 'maxEventLoopUtilization', { above: 0 });
    if (u > 1) throw new RangeError(`maxEventLoopUtilization must be > 0 and <= 1, got ${u}`);
    out.maxEventLoopUtilization = u;
  }
  if (options.maxHeapUsedBytes !== undefined) {
    out.maxHeapUsedBytes = validateInteger(options.maxHeapUsedBytes, 'maxHeapUsedBytes', { min: 1 });
  }
  if (options.maxRssBytes !== undefined) {
    out.maxRssBytes = validateInteger(options.maxRssBytes, 'maxRssBytes', { min: 1 });
  }
  return out;
}
