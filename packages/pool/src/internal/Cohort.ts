/**
 * The tasks accepted between two `drain()` calls. A `drain()` waits for every task accepted
 * before it: it "closes" the current cohort (its tasks then count in the pool's `waitingFor`)
 * and opens a new one. A settling task finds its cohort through the handlers it was given, so
 * plain tasks need no record of their own: the four handlers below are made once per cohort,
 * not once per task.
 */
export interface CohortOwner {
  settleOk(cohort: Cohort): void;
  settlePlain(cohort: Cohort, ok: boolean, error: unknown, fromRun: boolean): void;
}

export class Cohort {
  /** True once a drain waits for this cohort's tasks (written by the pool's drain). */
  closed = false;
  /** For `add()`ed tasks. */
  readonly onOk: () => void;
  readonly onErr: (error: unknown) => void;
  /** For `run()`: pass the value (or error) on to the caller's promise. */
  readonly okPass: <T>(value: T) => T;
  readonly errPass: (error: unknown) => never;

  constructor(owner: CohortOwner) {
    this.onOk = () => owner.settleOk(this);
    this.onErr = (error) => owner.settlePlain(this, false, error, false);
    this.okPass = (value) => {
      owner.settleOk(this);
      return value;
    };
    this.errPass = (error) => {
      owner.settlePlain(this, false, error, true);
      throw error;
    };
  }
}
