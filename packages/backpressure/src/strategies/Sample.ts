import { rejectExtraArguments, validateInteger } from '@valve/core';
import type { PressureLevel } from '../types.js';
import type { DropStrategy } from './DropStrategy.js';

/**
 * Keeps one in `sampleRate` items while the level is above `normal`, counting *offered* items.
 * The seed counted accepted items, a counter that stops moving once items are dropped, so above
 * normal it kept at most one item and then dropped everything (0 of 1,000 in a measurement).
 * A kept item that does not fit is refused as `queue_full`.
 */
export class Sample implements DropStrategy {
  readonly name = 'sample' as const;
  readonly sampleRate: number;
  /** Offers seen while above normal; written only by `admit()`. */
  private offered = 0;

  constructor(sampleRate = 10) {
    // biome-ignore lint/complexity/noArguments: counts the arguments to refuse an extra one; a rest parameter would allocate
    rejectExtraArguments(arguments.length, 1, 'new Sample()');
    this.sampleRate = validateInteger(sampleRate, 'sampleRate', { min: 1 });
  }

  admit(full: boolean, level: PressureLevel): 'accept' | 'reject' | 'sample_out' {
    if (level !== 'normal') {
      const keep = this.offered % this.sampleRate === 0;
      this.offered++;
      if (!keep) return 'sample_out';
    }
    return full ? 'reject' : 'accept';
  }
}
