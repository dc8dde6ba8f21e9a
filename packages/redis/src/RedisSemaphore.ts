import { randomUUID } from 'node:crypto';
import {
  abortReason,
  type Clock,
  ClosedError,
  type ConcurrencySource,
  Emitter,
  LocalConcurrency,
  type LocalPermit,
  rejectExtraArguments,
  rejectUnknownOptions,
  type Timer,
  validateInteger,
  WaiterQueue,
} from '@valve/core';
import type { Cluster, Redis } from 'ioredis';
import { COMMON_OPTION_KEYS, normalizeCommon } from './internal/normalizeOptions.js';
import { RedisLink } from './internal/RedisLink.js';
import type { RedisErrorPolicy, RedisSourceOptions } from './options.js';
import { ACQUIRE_SCRIPT, COUNT_SCRIPT, RELEASE_SCRIPT, RENEW_SCRIPT } from './scripts/semaphoreScripts.js';

export interface RedisSemaphoreOptions extends RedisSourceOptions {
  /** Permits held at once across every instance (an integer >= 1). Required. */
  limit: number;
  /**
   * How long a lease lives without renewal, in ms (an integer >= 30, and at least
   * `3 * commandTimeoutMs + probeIntervalMs`, so that renewals, every `leaseMs / 3` and each
   * waiting up to `commandTimeoutMs` for a reply, fit in a lease with room for a probe interval).
   * A holder that crashes, freezes or loses Redis frees its permit at most `leaseMs` later; a
   * holder paused longer than `leaseMs` (GC, debugger, partition) loses its permit while its
   * work still runs (see `onLeaseLost`).
   * @default 30000
   */
  leaseMs?: number;
}

/** A held lease whose renewal found it gone. */
export interface LeaseLost {
  /** The semaphore's name. */
  name: string;
  /** The lost lease's id (the sorted-set member). */
  leaseId: string;
}

/**
 * A cluster-wide concurrency cap: at most `limit` permits held at once by every process using
 * the same Redis, `prefix` and `name`.
 *
 * Permits are leases in a Redis sorted set scored by expiry on Redis's clock
 * ({@link ACQUIRE_SCRIPT}); one renewal loop per semaphore extends every held lease, and a
 * holder that dies stops renewing, so its permit returns after `leaseMs`. Waiters queue here
 * (FIFO) and are woken by a pub/sub message on every release, by a local release, or at the
 * earliest lease expiry the script reported (one timer; never a polling loop). The pub/sub
 * connection (`redis.duplicate()`) exists only while this instance has waiters.
 *
 * `tryAcquire()` cannot ask Redis synchronously: it returns undefined while Redis is in use
 * (`async` is true: valves call `acquire(signal)`), and answers from the in-process fallback
 * only while `'fail-open'` is in effect.
 */
export class RedisSemaphore implements ConcurrencySource {
  readonly async = true;
  readonly limit: number;
  readonly leaseMs: number;
  readonly name: string;
  readonly redisErrorPolicy: RedisErrorPolicy;
  /** The lease set's Redis key (`${prefix}sem:${name}`). */
  readonly key: string;
  /** The pub/sub channel releases are announced on (`${prefix}sem:${name}:released`). */
  readonly channel: string;
  private readonly link: RedisLink;
  private readonly clock: Clock;
  private readonly local: LocalConcurrency;
  /** Woken with a Redis permit, or with undefined for "take one from the local fallback". */
  private readonly waiters = new WaiterQueue<LocalPermit | undefined>();
  private readonly available$ = new Emitter<void>();
  private readonly leaseLost$ = new Emitter<LeaseLost>();
  readonly onAvailable = this.available$.event;
  /**
   * Fires when a held lease is gone: renewal found it expired, or a renewal failed after the
   * latest time the lease can have lasted until (the cap no longer counts it either way).
   */
  readonly onLeaseLost = this.leaseLost$.event;
  /** This instance's Redis leases, by lease id; written by grant and release. */
  private readonly held = new Map<string, RedisPermit>();
  private readonly instanceId = randomUUID();
  private seq = 0;
  /** Acquire scripts sent and not yet answered; kept <= waiters. */
  private inflight = 0;
  /**
   * Counts wake-ups (releases seen, timers fired). A refusal that raced a wake-up retries at
   * once instead of sleeping, so a release announced while our script ran is never missed.
   */
  private wakes = 0;
  /**
   * Set by a refusal, cleared by a grant: after a refusal one waiter probes for everyone, so a
   * release does not send one script per local waiter (a thundering herd) for a single slot.
   */
  private probing = false;
  /** Set after a refusal: sleep until the earliest lease expiry (or an earlier wake-up). */
  private retryTimer: Timer | undefined;
  private renewTimer: Timer | undefined;
  private subscriber: Redis | Cluster | undefined;
  private closed = false;
  private readonly pending = new Set<Promise<unknown>>();

  constructor(options: RedisSemaphoreOptions) {
    // biome-ignore lint/complexity/noArguments: counts the arguments to refuse an extra one; a rest parameter would allocate
    rejectExtraArguments(arguments.length, 1, 'new RedisSemaphore()');
    rejectUnknownOptions(options ?? {}, 'options', [...COMMON_OPTION_KEYS, 'limit', 'leaseMs']);
    const common = normalizeCommon(options);
    this.limit = validateInteger(options.limit, 'limit', { min: 1 });
    this.leaseMs = validateInteger(options.leaseMs ?? 30_000, 'leaseMs', { min: 30 });
    const { commandTimeoutMs, probeIntervalMs } = common;
    const shortest = 3 * commandTimeoutMs + probeIntervalMs;
    if (this.leaseMs < shortest) {
      // A shorter lease can expire on one slow reply while its holder still works: the cap
      // would then admit a second holder. See RedisSemaphore.renew.
      throw new RangeError(
        `leaseMs must be >= 3 * commandTimeoutMs + probeIntervalMs (3 * ${commandTimeoutMs} + ${probeIntervalMs} = ${shortest}), got ${this.leaseMs}`,
      );
    }
    this.name = common.name;
    this.redisErrorPolicy = common.policy;
    this.key = `${common.prefix}sem:${common.name}`;
    this.channel = `${this.key}:released`;
    this.clock = common.clock;
    this.link = new RedisLink(common.redis, common.clock, common.commandTimeoutMs, common.probeIntervalMs, () =>
      this.onCircuitOpen(),
    );
    this.local = new LocalConcurrency({ limit: this.limit, clock: this.clock });
    this.local.onAvailable(() => this.available$.emit());
  }

  /** True while Redis is being skipped under 'fail-open' (the in-process cap decides). */
  get failingOpen(): boolean {
    return this.redisErrorPolicy === 'fail-open' && !this.link.usable;
  }

  /** Permits this instance holds now (Redis leases plus fallback permits). See {@link clusterInUse}. */
  get inUse(): number {
    return this.held.size + this.local.inUse;
  }

  /** Unexpired leases across every instance, counted by Redis. */
  async clusterInUse(): Promise<number> {
    return (await this.link.run(COUNT_SCRIPT, [this.key], [])) as number;
  }

  /** Undefined while Redis is in use (use `acquire`); the fallback's answer while failing open. */
  tryAcquire(): LocalPermit | undefined {
    if (this.closed) return undefined;
    return this.failingOpen ? this.local.tryAcquire() : undefined;
  }

  acquire(signal?: AbortSignal): Promise<LocalPermit> {
    if (this.closed) return Promise.reject(new ClosedError('the Redis semaphore is closed'));
    if (signal?.aborted) return Promise.reject(abortReason(signal));
    if (!this.link.usable) return this.byPolicy(signal);
    const woken = this.waiters.wait(signal);
    if (signal) {
      // An aborted waiter may have been the last: then drop the retry timer and the pub/sub
      // connection, which would otherwise keep the process alive for nobody.
      const onAbort = () => queueMicrotask(() => this.idleCheck());
      signal.addEventListener('abort', onAbort, { once: true });
      const off = () => signal.removeEventListener('abort', onAbort);
      woken.then(off, off);
    }
    this.pump();
    return woken.then((permit) => permit ?? this.local.acquire(signal));
  }

  /** `close()`, for `await using x = new ...` (a second close() resolves without doing anything). */
  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }

  /**
   * Rejects waiting `acquire`s with a `ClosedError`, stops the timers (the client's background
   * probe too, once no other source uses it) and closes the pub/sub connection. Permits still held stop renewing, so their leases expire within `leaseMs`
   * (releasing them still works). Resolves once replies already on their way are handled, after
   * which this instance writes nothing more. Never closes the `redis` client.
   */
  async close(): Promise<void> {
    if (!this.closed) {
      this.closed = true;
      this.retryTimer?.clear();
      this.retryTimer = undefined;
      this.renewTimer?.clear();
      this.renewTimer = undefined;
      this.waiters.rejectAll(new ClosedError('the Redis semaphore is closed'));
      this.local.close();
      this.dropSubscriber();
      this.link.close();
    }
    while (this.pending.size > 0) await Promise.allSettled([...this.pending]);
  }

  private byPolicy(signal: AbortSignal | undefined): Promise<LocalPermit> {
    if (this.redisErrorPolicy === 'fail-open') return this.local.acquire(signal);
    return Promise.reject(this.link.unavailable(`semaphore "${this.name}"`));
  }

  private pump(): void {
    const max = this.probing ? Math.min(1, this.waiters.size) : this.waiters.size;
    while (!this.closed && this.retryTimer === undefined && this.inflight < max) {
      this.inflight++;
      const id = `${this.instanceId}:${++this.seq}`;
      const wakesAtSend = this.wakes;
      const sentAt = this.clock.now();
      const sent = this.link.usable; // run() refuses without sending otherwise
      this.track(this.link.run(ACQUIRE_SCRIPT, [this.key], [this.limit, this.leaseMs, id])).then(
        (reply) => this.onReply(id, reply as number[], wakesAtSend, sentAt),
        (error: unknown) => {
          // A timed-out acquire may still run on Redis and take a slot nobody holds, for a
          // whole leaseMs. Release that lease id blindly: on the same connection, Redis runs the
          // release after the late acquire (and it is a no-op if the acquire never ran).
          if (sent) this.link.fireAndForget(RELEASE_SCRIPT, [this.key], [id, this.channel]);
          this.onError(error);
        },
      );
    }
  }

  private onReply(id: string, [acquired, , waitMs]: number[], wakesAtSend: number, sentAt: number): void {
    this.inflight--;
    this.probing = acquired !== 1;
    if (acquired === 1) {
      const permit = this.grant(id, sentAt);
      // The waiter may have aborted (or we closed) while the script ran: give the lease back.
      if (!this.waiters.resolveNext(permit)) permit.release();
    } else if (this.wakes === wakesAtSend && this.retryTimer === undefined && !this.closed && this.waiters.size > 0) {
      // Ref'd: accepted callers wait on it. Bounded by leaseMs in case of mixed lease lengths.
      this.retryTimer = this.clock.setTimeout(() => this.wake(), Math.min(waitMs!, this.leaseMs)).ref();
      this.ensureSubscriber();
    }
    this.pump();
    this.idleCheck();
  }

  private onError(error: unknown): void {
    this.inflight--;
    if (this.redisErrorPolicy === 'fail-open') {
      while (this.waiters.resolveNext(undefined)) {}
    } else {
      this.waiters.rejectAll(error);
    }
    this.idleCheck();
  }

  /**
   * Redis stopped answering (this source's command or another's on the client): under
   * 'fail-open', waiters asleep until a release or a lease expiry move to the fallback now.
   * Scripts still in flight settle on their own; a permit they bring is given back.
   */
  private onCircuitOpen(): void {
    if (this.redisErrorPolicy !== 'fail-open' || this.closed) return;
    while (this.waiters.resolveNext(undefined)) {}
    this.idleCheck();
  }

  /** A slot may be free: a release was announced or seen, or the earliest lease expired. */
  private wake(): void {
    this.wakes++;
    this.retryTimer?.clear();
    this.retryTimer = undefined;
    this.pump();
    this.idleCheck();
  }

  /** With nobody waiting, nothing may keep the process alive. */
  private idleCheck(): void {
    if (this.waiters.size > 0) return;
    this.retryTimer?.clear();
    this.retryTimer = undefined;
    this.dropSubscriber();
  }

  private ensureSubscriber(): void {
    if (this.subscriber !== undefined || this.closed) return;
    const sub = this.link.duplicate();
    this.subscriber = sub;
    // Without a listener ioredis would print connection errors; the retry timer covers for a
    // subscriber that cannot connect, so its errors need no handling here.
    sub.on('error', () => {});
    sub.on('message', () => this.wake());
    // A dropped pub/sub connection usually means Redis went away: try now, so waiters meet the
    // redisErrorPolicy at once instead of at the earliest lease expiry.
    sub.on('close', () => {
      if (this.subscriber === sub) this.wake();
    });
    // A release may have been announced before the subscription was active: look once more.
    const subscribeThenLook = () =>
      sub.subscribe(this.channel).then(
        () => {
          if (this.subscriber === sub) this.wake();
        },
        () => {},
      );
    subscribeThenLook();
    // After a reconnect the same holds for the gap: a release published while the connection
    // was down reached nobody. ioredis resubscribes on its own; our SUBSCRIBE is answered after
    // that one, so the look happens once releases reach us again.
    let connected = false;
    sub.on('ready', () => {
      if (connected && this.subscriber === sub) subscribeThenLook();
      connected = true;
    });
  }

  private dropSubscriber(): void {
    const sub = this.subscriber;
    if (sub === undefined) return;
    this.subscriber = undefined;
    sub.disconnect();
  }

  private grant(id: string, sentAt: number): RedisPermit {
    // The script ran after we sent it, so the lease lasts at least until then + leaseMs.
    const permit = new RedisPermit(this, id, sentAt + this.leaseMs);
    this.held.set(id, permit);
    this.scheduleRenewal();
    return permit;
  }

  /** @internal Called once per permit by RedisPermit.release(). */
  releaseLease(permit: RedisPermit): void {
    this.held.delete(permit.id);
    if (this.held.size === 0) {
      this.renewTimer?.clear();
      this.renewTimer = undefined;
    }
    this.track(this.link.run(RELEASE_SCRIPT, [this.key], [permit.id, this.channel])).then(
      () => {
        this.wake();
        this.available$.emit();
      },
      // Redis is gone: the lease expires on its own within leaseMs.
      () => {},
    );
  }

  /** Renews every `leaseMs / 3`; after a failure, no later than the earliest lease's expiry. */
  private scheduleRenewal(afterFailure = false): void {
    if (this.renewTimer !== undefined || this.held.size === 0 || this.closed) return;
    let delay = this.leaseMs / 3;
    if (afterFailure) {
      const now = this.clock.now();
      for (const permit of this.held.values()) {
        if (!permit.lost) delay = Math.min(delay, Math.max(0, permit.expiresAt - now));
      }
    }
    // Unref'd (the clock's default): renewal matters only while work runs, and running work
    // keeps the process alive by itself.
    this.renewTimer = this.clock.setTimeout(() => this.renew(), delay);
  }

  /**
   * Sent past the probe gate (`RedisLink#runUngated`): the gate exists so that callers
   * fail fast during an outage, but a renewal refused for `probeIntervalMs` after someone
   * else's slow reply would let a lease expire while its holder works, and the cap would admit
   * another holder. A renewal that fails once the lease may have expired reports it lost.
   */
  private renew(): void {
    this.renewTimer = undefined;
    const ids: string[] = [];
    for (const permit of this.held.values()) if (!permit.lost) ids.push(permit.id);
    if (ids.length === 0) return;
    const sentAt = this.clock.now();
    this.track(this.link.runUngated(RENEW_SCRIPT, [this.key], [this.leaseMs, ...ids])).then(
      (reply) => {
        const lost = new Set(reply as string[]);
        for (const id of ids) {
          const permit = this.held.get(id);
          if (permit === undefined || permit.lost) continue; // released meanwhile
          if (lost.has(id)) this.loseLease(permit);
          else permit.expiresAt = sentAt + this.leaseMs;
        }
        this.scheduleRenewal();
      },
      () => {
        // Nobody can tell whether the lease still exists once its expiry has passed; treat it
        // as lost (the cap may already have given the slot to someone else) instead of waiting
        // for a renewal that may never get through. Otherwise try again before it expires.
        const now = this.clock.now();
        for (const id of ids) {
          const permit = this.held.get(id);
          if (permit !== undefined && !permit.lost && permit.expiresAt <= now) this.loseLease(permit);
        }
        this.scheduleRenewal(true);
      },
    );
  }

  private loseLease(permit: RedisPermit): void {
    permit.lost = true;
    this.leaseLost$.emit({ name: this.name, leaseId: permit.id });
  }

  private track<T>(promise: Promise<T>): Promise<T> {
    this.pending.add(promise);
    const forget = () => this.pending.delete(promise);
    promise.then(forget, forget);
    return promise;
  }
}

/** A Redis lease. `release()` is idempotent: only the first call removes the lease. */
class RedisPermit implements LocalPermit {
  /** Set by renewal when the lease was found expired; the permit stops being renewed. */
  lost = false;
  private semaphore: RedisSemaphore | undefined;

  constructor(
    semaphore: RedisSemaphore,
    readonly id: string,
    /**
     * Local clock time until which the lease surely lasts (the send time of the last script
     * that set it, plus leaseMs); written by grant and by successful renewals.
     */
    public expiresAt: number,
  ) {
    this.semaphore = semaphore;
  }

  release(): void {
    const s = this.semaphore;
    if (s === undefined) return;
    this.semaphore = undefined;
    s.releaseLease(this);
  }

  /** `release()`, so `using permit = await semaphore.acquire()` releases at the end of the block. */
  [Symbol.dispose](): void {
    this.release();
  }
}
