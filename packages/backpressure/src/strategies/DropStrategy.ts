import type { BackpressureStrategy, PressureLevel } from '../types.js';

/**
 * What to do with one offered item:
 * - `accept`: append it;
 * - `evict`: drop the oldest item(s) to make room, then append it;
 * - `wait`: park the producer until space frees (an `offer()` treats it as `reject`);
 * - `reject`: refuse it because the buffer is full (reason `queue_full`);
 * - `sample_out`: refuse it because sampling skipped it (reason `sampled`).
 */
export type Admission = 'accept' | 'evict' | 'wait' | 'reject' | 'sample_out';

/**
 * One object per strategy, each a few lines and tested alone: the seed's four-way `switch`
 * inside `push` becomes this interface. A strategy only decides; the controller does the
 * buffer work and the accounting.
 */
export interface DropStrategy {
  readonly name: BackpressureStrategy;
  /**
   * Decides for one offered item. `full` says the item does not fit the active budget now;
   * `level` is the watermark level before the item is added.
   */
  admit(full: boolean, level: PressureLevel): Admission;
}
