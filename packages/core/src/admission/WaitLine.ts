/**
 * The waiting line an {@link Admission} serves: the queue discipline (FIFO, priorities, CoDel,
 * deadline, adaptive LIFO) lives behind these three members, the gates and timers do not.
 *
 * The line owns its waiters' order and their removal from the middle (an abort, a deadline): the
 * valve removes such a waiter from its line and then tells the admission with `removed()`.
 */
export interface WaitLine<W> {
  /** Live waiters (removed ones excluded). */
  readonly size: number;
  /**
   * Takes the waiter to start next, or `undefined` when none is left. `now` is the admission's
   * clock reading when the line is `timed`, else 0. A discipline that drops waiters on the way
   * (CoDel) settles them itself before it returns.
   */
  take(now: number): W | undefined;
  /** Puts back, at the front, the waiter `take` just returned (a gate refused after all). */
  putBack(waiter: W): void;
  /** True when `take` needs the time (the clock is read once per start only then). */
  readonly timed?: boolean;
}
