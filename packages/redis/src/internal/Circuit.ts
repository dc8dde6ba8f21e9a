import { type Clock, type Timer, TimeoutError } from '@valve/core';
import type { Cluster, Redis } from 'ioredis';
import { withTimeout } from './withTimeout.js';

/** What a {@link Circuit} needs from each source's link: its timing options. */
export interface CircuitUser {
  readonly commandTimeoutMs: number;
  readonly probeIntervalMs: number;
  /** Called when the circuit opens (whichever source's command failed). */
  circuitOpened(): void;
}

/**
 * Whether one ioredis client answers, shared by every source on it (and on the same clock).
 *
 * Closed: sources send their commands. The first failure (an error, or no reply within
 * `commandTimeoutMs`) opens it, for every source on the client at once: a connection that
 * hangs for one command hangs for all of them, and a source that found out alone would still
 * make each of its callers, and every other source, wait out a timeout of its own (issue 18,
 * item 2: a valve asks its sources for the head of its queue only, so one timeout per call
 * settled one queued call per timeout). Open: the sources skip Redis (their policy decides at
 * once) and nobody waits on Redis; a background PING every `probeIntervalMs` (the shortest of
 * its users'), and another as soon as the client reports `ready` again, closes it when
 * answered within `commandTimeoutMs`. Any successful reply closes it too.
 *
 * The probe's timers are unref'd (nobody waits on them: an idle process with Redis down still
 * exits) and run on the injected clock; the probe stops when the last source detaches (its
 * `close()`), and nothing is left on the client.
 */
export class Circuit {
  private static readonly byClient = new WeakMap<Redis | Cluster, Map<Clock, Circuit>>();

  /** The circuit of `redis` on `clock`, with `user` attached (detach it in its close()). */
  static attach(redis: Redis | Cluster, clock: Clock, user: CircuitUser): Circuit {
    let byClock = Circuit.byClient.get(redis);
    if (byClock === undefined) Circuit.byClient.set(redis, (byClock = new Map()));
    let circuit = byClock.get(clock);
    if (circuit === undefined) byClock.set(clock, (circuit = new Circuit(redis, clock)));
    circuit.users.add(user);
    return circuit;
  }

  private readonly users = new Set<CircuitUser>();
  private isOpen = false;
  /** The failure that opened the circuit (or the last probe's), the `cause` of refusals. */
  lastError: unknown;
  private probeTimer: Timer | undefined;
  /** A PING is on its way. */
  private probing = false;
  private readonly onReady = () => this.probe();

  private constructor(
    private readonly redis: Redis | Cluster,
    private readonly clock: Clock,
  ) {}

  get open(): boolean {
    return this.isOpen;
  }

  /** A command failed: open (if closed) and probe in the background. */
  failed(error: unknown): void {
    this.lastError = error;
    // A closed source's late reply must not reopen a circuit nobody uses (nor leave a listener).
    if (this.isOpen || this.users.size === 0) return;
    this.isOpen = true;
    this.redis.on('ready', this.onReady);
    this.schedule();
    for (const user of [...this.users]) user.circuitOpened();
  }

  /** A reply came: Redis answers. */
  succeeded(): void {
    this.lastError = undefined;
    if (!this.isOpen) return;
    this.isOpen = false;
    this.stopProbing();
  }

  /** `user` is closed: with no user left, the probe stops and the client is left as found. */
  detach(user: CircuitUser): void {
    if (!this.users.delete(user) || this.users.size > 0) return;
    this.stopProbing();
    const byClock = Circuit.byClient.get(this.redis);
    if (byClock?.get(this.clock) === this) {
      byClock.delete(this.clock);
      if (byClock.size === 0) Circuit.byClient.delete(this.redis);
    }
    // A later source on this client starts from a fresh, closed circuit.
    this.isOpen = false;
  }

  private stopProbing(): void {
    this.probeTimer?.clear();
    this.probeTimer = undefined;
    this.redis.off('ready', this.onReady);
  }

  private schedule(): void {
    if (!this.isOpen || this.probeTimer !== undefined || this.probing || this.users.size === 0) return;
    // Users with probeIntervalMs 0 ignore the circuit (every call asks Redis), and their
    // successes close it: with only such users, nothing needs a probe.
    const every = this.shortest('probeIntervalMs');
    if (every === undefined) return;
    // Unref'd (the clock's default): nobody waits on a probe.
    this.probeTimer = this.clock.setTimeout(() => {
      this.probeTimer = undefined;
      this.probe();
    }, every);
  }

  private probe(): void {
    if (!this.isOpen || this.probing || this.users.size === 0) return;
    const status = this.redis.status;
    // Between connections a PING would only wait in ioredis's offline queue: the 'ready' event
    // probes once the client is connected again.
    if (status !== 'ready' && status !== 'wait') {
      this.schedule();
      return;
    }
    this.probeTimer?.clear();
    this.probeTimer = undefined;
    this.probing = true;
    const timeoutMs = this.shortest('commandTimeoutMs') ?? 1;
    withTimeout(
      this.clock,
      timeoutMs,
      this.redis.ping(),
      () => new TimeoutError(`PING got no reply within commandTimeoutMs (${timeoutMs} ms)`),
      false, // nobody waits on a probe
    ).then(
      () => {
        this.probing = false;
        if (this.users.size > 0) this.succeeded();
      },
      (error: unknown) => {
        this.probing = false;
        if (!this.isOpen) return; // another reply closed it meanwhile
        this.lastError = error;
        this.schedule();
      },
    );
  }

  /** The smallest positive value of `option` among the users, undefined if none is positive. */
  private shortest(option: 'commandTimeoutMs' | 'probeIntervalMs'): number | undefined {
    let min: number | undefined;
    for (const user of this.users) if (user[option] > 0) min = Math.min(min ?? user[option], user[option]);
    return min;
  }
}
