import type { Clock, Timer } from './Clock.js';
import { rejectExtraArguments } from '../validate.js';

/** The longest delay Node's timers take (2^31 - 1 ms, about 24.8 days). */
const LONGEST_MS = 2 ** 31 - 1;

/**
 * Keeps the process alive while a valve holds accepted work that nothing else will wake: a
 * drain waiting on a paused pool, a stop waiting on blocked pushes with no deadline. Every other
 * valve timer is unref'd, so without this the process could exit with that work unsettled.
 *
 * `hold(true)` arms one ref'd timer that does nothing (re-armed if it ever fires, after ~24.8
 * days); `hold(false)` clears it. Idempotent either way, so a valve calls it with its current
 * condition after every change.
 */
export class KeepAlive {
  private timer: Timer | undefined = undefined;

  constructor(private readonly clock: Clock) {
    // biome-ignore lint/complexity/noArguments: counts the arguments to refuse an extra one; a rest parameter would allocate
    rejectExtraArguments(arguments.length, 1, 'new KeepAlive()');
  }

  /** True while the process is held. */
  get held(): boolean {
    return this.timer !== undefined;
  }

  hold(keep: boolean): void {
    if (keep && this.timer === undefined) {
      this.timer = this.clock
        .setTimeout(() => {
          this.timer = undefined;
          this.hold(true);
        }, LONGEST_MS)
        .ref();
    } else if (!keep && this.timer !== undefined) {
      this.timer.clear();
      this.timer = undefined;
    }
  }
}
