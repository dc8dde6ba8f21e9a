import { rejectExtraArguments, rejectUnknownOptions, validateNumber, validateObject } from '@valve/core';
import type { PressureLevel } from './types.js';

export interface WatermarksOptions {
  /** Fraction 0-1 of the budget where `elevated` starts and below which pressure ends. @default 0.5 */
  lowWatermark?: number;
  /** Fraction 0-1 of the budget where pressure (`critical`) starts. @default 0.8 */
  highWatermark?: number;
  /**
   * How far below the low watermark the fill must fall to leave `elevated`, as a fraction of the
   * budget, so a level hovering at the low watermark does not flap. @default 0.05
   */
  hysteresis?: number;
}

/**
 * A pure state machine from buffer utilization (0-1) to a {@link PressureLevel}.
 *
 * Pressure is a Schmitt trigger, as Node's streams use `highWaterMark` and `'drain'`: it turns on
 * when the fill reaches the high watermark and off only when it falls to the low one, so a
 * buffer hovering at 80% does not flap. While on, the level is `critical` (or `blocked` at 100%).
 * While off, `elevated` starts at the low watermark and ends `hysteresis` below it. The seed
 * recomputed the level from scratch on every push, so it flapped on every item at a boundary.
 */
export class Watermarks {
  readonly low: number;
  readonly high: number;
  readonly hysteresis: number;
  /** Written only by `update()`. */
  private current: PressureLevel = 'normal';
  private latched = false;

  constructor(options: WatermarksOptions = {}) {
    // biome-ignore lint/complexity/noArguments: counts the arguments to refuse an extra one; a rest parameter would allocate
    rejectExtraArguments(arguments.length, 1, 'new Watermarks()');
    validateObject(options, 'options');
    rejectUnknownOptions(options, 'options', ['lowWatermark', 'highWatermark', 'hysteresis']);
    this.low = validateNumber(options.lowWatermark ?? 0.5, 'lowWatermark', { min: 0, max: 1 });
    this.high = validateNumber(options.highWatermark ?? 0.8, 'highWatermark', { above: 0, max: 1 });
    if (this.low >= this.high) {
      throw new RangeError(`lowWatermark must be < highWatermark (${this.high}), got ${this.low}`);
    }
    this.hysteresis = validateNumber(options.hysteresis ?? 0.05, 'hysteresis', { min: 0, max: 1 });
  }

  get level(): PressureLevel {
    return this.current;
  }

  /** True from reaching the high watermark until falling to the low one. */
  get pressured(): boolean {
    return this.latched;
  }

  /** Feeds the current utilization (0-1); returns the new level. */
  update(utilization: number): PressureLevel {
    if (utilization >= this.high) this.latched = true;
    else if (utilization <= this.low) this.latched = false;
    let next: PressureLevel;
    if (utilization >= 1) next = 'blocked';
    else if (this.latched) next = 'critical';
    else if (utilization >= this.low) next = 'elevated';
    else if (this.current === 'elevated' && utilization >= this.low - this.hysteresis && utilization > 0) {
      next = 'elevated';
    } else next = 'normal';
    this.current = next;
    return next;
  }
}
