// Issue 14: SafetyValve on core's Admission against a small reference model. Random sequences of
// run()/ask() (some with a signal or a deadline), completions, aborts, clock advances (tokens
// refill on the clock, deadlines expire), a concurrency source that lies (its tryAcquire()
// refuses while inUse < limit) and close(). After every step the valve and the model agree on the
// tokens left, the slots held, the line's length and which jobs started (FIFO: queued jobs start
// in arrival order); at the end every job settled exactly once, with the model's outcome.
import { type Clock, type Disposable, ManualClock, type RateSource, type Timer } from '@valve/core';
import { type Deferred, deferred, flush, LyingConcurrency } from '@valve/testkit';
import fc from 'fast-check';
import { expect, it } from 'vitest';
import { type SafetyPermit, SafetyValve } from '../src/index.js';

/** Refill grid of the rate source, in ms; clock steps are multiples of it, deadlines are not. */
const PERIOD = 10;

/**
 * A token bucket on the clock, written out so the model can mirror it: `rate` tokens at every
 * multiple of PERIOD, capped at `cap`; `taken` counts tokens handed out.
 */
class ClockRate implements RateSource {
  tokens: number;
  taken = 0;
  private listeners = new Set<() => void>();
  private timer: Timer;
  constructor(
    private readonly clock: Clock,
    private readonly cap: number,
    private readonly rate: number,
  ) {
    this.tokens = cap;
    this.timer = clock.setTimeout(this.tick, PERIOD);
  }
  private readonly tick = (): void => {
    this.timer = this.clock.setTimeout(this.tick, PERIOD);
    if (this.tokens >= this.cap) return;
    this.tokens = Math.min(this.cap, this.tokens + this.rate);
    for (const l of [...this.listeners]) l();
  };
  get available(): number {
    return this.tokens;
  }
  tryAcquire(): boolean {
    if (this.tokens < 1) return false;
    this.tokens--;
    this.taken++;
    return true;
  }
  acquire(): Promise<void> {
    return Promise.reject(new Error('synchronous source: acquire() is never called'));
  }
  nextTokenInMs(): number {
    return PERIOD - (this.clock.now() % PERIOD);
  }
  onAvailable(listener: () => void): Disposable {
    this.listeners.add(listener);
    const dispose = () => this.listeners.delete(listener);
    return { dispose, [Symbol.dispose]: dispose };
  }
  stop(): void {
    this.timer.clear();
  }
}

type Op =
  | { kind: 'run'; abortable: boolean; deadline: number | undefined }
  | { kind: 'ask'; abortable: boolean; deadline: number | undefined }
  | { kind: 'complete'; pick: number; fail: boolean }
  | { kind: 'abort'; pick: number }
  | { kind: 'advance'; steps: number }
  | { kind: 'lie'; on: boolean }
  | { kind: 'close' };

const offer = (kind: 'run' | 'ask') =>
  fc.record({
    kind: fc.constant(kind),
    abortable: fc.boolean(),
    // A deadline ends on a half period: it never ties with a refill.
    deadline: fc.option(
      fc.integer({ min: 0, max: 3 }).map((k) => k * PERIOD + PERIOD / 2),
      { nil: undefined },
    ),
  });

const ops: fc.Arbitrary<Op[]> = fc.array(
  fc.oneof(
    { weight: 5, arbitrary: offer('run') },
    { weight: 2, arbitrary: offer('ask') },
    { weight: 5, arbitrary: fc.record({ kind: fc.constant('complete' as const), pick: fc.nat(), fail: fc.boolean() }) },
    { weight: 2, arbitrary: fc.record({ kind: fc.constant('abort' as const), pick: fc.nat() }) },
    {
      weight: 2,
      arbitrary: fc.record({ kind: fc.constant('advance' as const), steps: fc.integer({ min: 1, max: 3 }) }),
    },
    { weight: 2, arbitrary: fc.record({ kind: fc.constant('lie' as const), on: fc.boolean() }) },
    { weight: 1, arbitrary: fc.constant({ kind: 'close' as const }) },
  ),
  { maxLength: 50, size: 'max' },
);

interface Config {
  /** 'lying': a custom source that can refuse while free; 'fixed': the counted built-in cap. */
  source: 'lying' | 'fixed';
  limit: number;
  size: number;
  cap: number;
  rate: number;
}

/** A job as the model sees it. */
interface ModelJob {
  id: number;
  kind: 'run' | 'ask';
  abortable: boolean;
  /** When its deadline fires if it still waits (absolute time). */
  expiresAt: number | undefined;
  state: 'queued' | 'running' | 'ended';
  /** What its caller got, once settled. */
  outcome: string | undefined;
}

/** The rules, written plainly: slot then token, no barging, FIFO, size, deadlines, close. */
class Model {
  tokens: number;
  inUse = 0;
  lying = false;
  closed = false;
  now = 0;
  queue: ModelJob[] = [];
  jobs: ModelJob[] = [];
  started: number[] = [];
  constructor(private readonly c: Config) {
    this.tokens = c.cap;
  }
  private open(): boolean {
    return !this.closed && !this.lying && this.inUse < this.c.limit && this.tokens >= 1;
  }
  private start(job: ModelJob): void {
    this.inUse++;
    this.tokens--;
    job.state = 'running';
    this.started.push(job.id);
    if (job.kind === 'ask') job.outcome = 'grant';
  }
  pump(): void {
    while (this.queue.length > 0 && this.open()) this.start(this.queue.shift()!);
  }
  offer(kind: 'run' | 'ask', abortable: boolean, deadline: number | undefined): ModelJob {
    const job: ModelJob = {
      id: this.jobs.length,
      kind,
      abortable,
      expiresAt: undefined,
      state: 'queued',
      outcome: undefined,
    };
    this.jobs.push(job);
    if (this.queue.length === 0 && this.open()) {
      this.start(job);
    } else if (this.closed) {
      this.end(job, 'shutdown');
    } else if (this.queue.length >= this.c.size) {
      this.end(job, 'queue_full');
    } else {
      job.expiresAt = deadline === undefined ? undefined : this.now + deadline;
      this.queue.push(job);
    }
    return job;
  }
  private end(job: ModelJob, outcome: string): void {
    job.state = 'ended';
    job.outcome ??= outcome;
  }
  private leaveQueue(job: ModelJob, outcome: string): void {
    this.queue.splice(this.queue.indexOf(job), 1);
    this.end(job, outcome);
  }
  complete(job: ModelJob, fail: boolean): void {
    this.inUse--;
    this.end(job, fail ? 'fail' : 'ok');
    this.pump();
  }
  abort(job: ModelJob): void {
    if (job.state === 'queued') this.leaveQueue(job, 'aborted');
    // A running run() settles its caller at once; its slot comes back when it ends.
    else if (job.state === 'running' && job.kind === 'run') job.outcome ??= 'aborted';
  }
  advance(steps: number): void {
    for (let i = 0; i < steps; i++) {
      const next = this.now + PERIOD;
      // Deadlines due before the refill (they end on half periods), oldest due first.
      for (;;) {
        const due = this.queue
          .filter((j) => j.expiresAt !== undefined && j.expiresAt < next)
          .sort((a, b) => a.expiresAt! - b.expiresAt! || a.id - b.id)[0];
        if (due === undefined) break;
        this.leaveQueue(due, 'deadline');
      }
      this.now = next;
      if (this.tokens < this.c.cap) this.tokens = Math.min(this.c.cap, this.tokens + this.c.rate);
      this.pump();
    }
  }
  lie(on: boolean): void {
    this.lying = on;
    this.pump();
  }
  close(): void {
    this.closed = true;
    for (const job of [...this.queue]) this.leaveQueue(job, 'shutdown');
  }
}

const configs: fc.Arbitrary<Config> = fc.record({
  source: fc.constantFrom('lying' as const, 'fixed' as const),
  limit: fc.integer({ min: 1, max: 3 }),
  size: fc.integer({ min: 0, max: 4 }),
  cap: fc.integer({ min: 1, max: 3 }),
  rate: fc.integer({ min: 1, max: 2 }),
});

/** What the valve's side of a job holds: its controls and how its caller settled. */
interface RealJob {
  id: number;
  kind: 'run' | 'ask';
  ac: AbortController | undefined;
  gate: Deferred<string> | undefined;
  grant: SafetyPermit | undefined;
  settles: number;
  outcome: string | undefined;
}

function outcomeOf(error: unknown): string {
  if (error instanceof Error && error.message === 'job failed') return 'fail';
  if (error instanceof Error && error.message === 'caller aborted') return 'aborted';
  return (error as { reason?: string }).reason ?? `unexpected ${String(error)}`;
}

async function check(c: Config, steps: Op[]): Promise<void> {
  const clock = new ManualClock();
  const rate = new ClockRate(clock, c.cap, c.rate);
  const lying = c.source === 'lying' ? new LyingConcurrency(c.limit) : undefined;
  const valve = new SafetyValve({
    size: c.size,
    clock,
    rateSource: rate,
    ...(lying === undefined ? { concurrency: c.limit } : { concurrencySource: lying }),
  });
  const model = new Model(c);
  const real: RealJob[] = [];
  const started: number[] = [];
  const settle = (job: RealJob, outcome: string) => {
    job.settles++;
    job.outcome ??= outcome;
  };

  const offer = (kind: 'run' | 'ask', abortable: boolean, deadline: number | undefined) => {
    const job: RealJob = {
      id: real.length,
      kind,
      ac: abortable ? new AbortController() : undefined,
      gate: undefined,
      grant: undefined,
      settles: 0,
      outcome: undefined,
    };
    real.push(job);
    model.offer(kind, abortable, deadline);
    const options =
      job.ac === undefined && deadline === undefined
        ? undefined
        : { ...(job.ac ? { signal: job.ac.signal } : {}), ...(deadline === undefined ? {} : { deadlineMs: deadline }) };
    if (kind === 'run') {
      valve
        .run(() => {
          started.push(job.id);
          job.gate = deferred<string>();
          return job.gate.promise;
        }, options)
        .then(
          () => settle(job, 'ok'),
          (e) => settle(job, outcomeOf(e)),
        );
    } else {
      valve.ask(options).then(
        (grant) => {
          started.push(job.id);
          job.grant = grant;
          settle(job, 'grant');
        },
        (e) => settle(job, outcomeOf(e)),
      );
    }
  };

  const compare = (where: string) => {
    const s = valve.stats();
    expect(s.queued, `${where}: queued`).toBe(model.queue.length);
    expect(s.running, `${where}: running`).toBe(model.inUse);
    expect(rate.tokens, `${where}: tokens left`).toBe(model.tokens);
    // No token lost: every token taken started exactly one job.
    expect(rate.taken, `${where}: tokens taken`).toBe(model.started.length);
    // No slot lost: the source's slots are exactly the jobs holding one.
    if (lying !== undefined) expect(lying.inUse, `${where}: slots held`).toBe(model.inUse);
    // Same jobs started; run() jobs start synchronously, so their order is exact (FIFO).
    expect(
      [...started].sort((a, b) => a - b),
      `${where}: started`,
    ).toEqual([...model.started].sort((a, b) => a - b));
    const runs = (ids: number[]) => ids.filter((id) => real[id]!.kind === 'run');
    expect(runs(started), `${where}: start order`).toEqual(runs(model.started));
    for (const job of real) {
      expect(job.settles, `${where}: job ${job.id} settled more than once`).toBeLessThanOrEqual(1);
      expect(job.outcome, `${where}: job ${job.id}`).toBe(model.jobs[job.id]!.outcome);
    }
  };

  /** A running job (in the valve's start order) to complete. */
  const runningJobs = () => model.started.filter((id) => model.jobs[id]!.state === 'running');

  let i = 0;
  for (const op of steps) {
    switch (op.kind) {
      case 'run':
      case 'ask':
        offer(op.kind, op.abortable, op.deadline);
        break;
      case 'complete': {
        const ids = runningJobs();
        if (ids.length === 0) break;
        const id = ids[op.pick % ids.length]!;
        const job = real[id]!;
        model.complete(model.jobs[id]!, op.fail);
        if (job.kind === 'run') {
          if (op.fail) job.gate!.reject(new Error('job failed'));
          else job.gate!.resolve('ok');
        } else {
          job.grant!.done({ dropped: op.fail });
          job.grant!.done(); // idempotent: a second done() gives nothing back
        }
        break;
      }
      case 'abort': {
        const abortable = real.filter((j) => j.ac !== undefined && !j.ac.signal.aborted);
        if (abortable.length === 0) break;
        const job = abortable[op.pick % abortable.length]!;
        model.abort(model.jobs[job.id]!);
        job.ac!.abort(new Error('caller aborted'));
        break;
      }
      case 'advance':
        model.advance(op.steps);
        clock.advance(op.steps * PERIOD);
        break;
      case 'lie':
        if (lying === undefined) break;
        model.lie(op.on);
        lying.setLying(op.on);
        break;
      case 'close':
        model.close();
        void valve.close();
        break;
    }
    await flush();
    compare(`step ${i++} (${op.kind})`);
  }
  // The end: close, then every running job completes; everything settled exactly once.
  model.close();
  const closed = valve.close();
  for (const id of runningJobs()) {
    model.complete(model.jobs[id]!, false);
    const job = real[id]!;
    if (job.kind === 'run') job.gate!.resolve('ok');
    else job.grant!.done();
  }
  await flush();
  compare('end');
  await closed;
  for (const job of real) expect(job.settles, `job ${job.id} settled once`).toBe(1);
  expect(valve.stats()).toMatchObject({ running: 0, queued: 0 });
  if (lying !== undefined) expect(lying.released).toBe(lying.granted);
  rate.stop();
  // No timer outlives its job: deadlines and the refill timer were cleared, none left to fire.
  expect(clock.pendingTimers, 'timers left after close').toBe(0);
}

it('the valve and the model agree on tokens, slots, FIFO order and outcomes, with a source that lies', async () => {
  await fc.assert(
    fc.asyncProperty(configs, ops, (c, steps) => check(c, steps)),
    {
      numRuns: 300,
      examples: [
        // A lying source refuses the head the pump took: it goes back to the front, not the back.
        [
          { source: 'lying', limit: 1, size: 4, cap: 2, rate: 1 },
          [
            { kind: 'run', abortable: false, deadline: undefined },
            { kind: 'lie', on: true },
            { kind: 'run', abortable: false, deadline: undefined },
            { kind: 'run', abortable: false, deadline: undefined },
            { kind: 'complete', pick: 0, fail: false },
            { kind: 'lie', on: false },
          ],
        ],
      ],
    },
  );
});
