import { randomUUID } from 'node:crypto';
import {
  abortReason,
  type Clock,
  ClosedError,
  rejectExtraArguments,
  rejectUnknownOptions,
  type Timer,
  TimeoutError,
  validateFunction,
  validateInteger,
  validateObject,
} from '@valve/core';
import type { Cluster, Redis } from 'ioredis';
import type { Codec } from './Codec.js';
import { jsonCodec } from './Codec.js';
import { COMMON_OPTION_KEYS, normalizeCommon } from './internal/normalizeOptions.js';
import { RedisLink } from './internal/RedisLink.js';
import { withTimeout } from './internal/withTimeout.js';
import { RedisUnavailableError } from './RedisUnavailableError.js';
import type { RedisErrorPolicy, RedisSourceOptions } from './options.js';
import { ABANDON_SCRIPT, CLAIM_SCRIPT, PUBLISH_SCRIPT } from './scripts/coalesceScripts.js';

export interface RedisCoalescerOptions<T, K> extends RedisSourceOptions {
  /**
   * How long the leader's lock lives, in ms (an integer >= 10): if the leader dies, the next
   * caller after this may lead. Keep it above the fetcher's usual run time.
   * @default 10000
   */
  lockMs?: number;
  /**
   * How long a follower waits for the leader's result, in ms (an integer >= 1), before it runs
   * the fetcher itself (a dead or slow leader never blocks the others for longer).
   * @default 5000
   */
  waitTimeoutMs?: number;
  /**
   * How long a result stays stored in Redis, in ms (an integer >= 0), served to any instance
   * without a fetch; 0 stores nothing (only concurrent callers share).
   * @default 0
   */
  lingerMs?: number;
  /** Serializes results. @default JSON ({@link jsonCodec}) */
  codec?: Codec<T>;
  /**
   * The key's identity in Redis: equal keys on every instance must give equal strings.
   * @default String(key)
   */
  keyToString?: (key: K) => string;
}

/** A fetcher as BurstValve calls it: the key and a context whose `signal` aborts when nobody waits. */
export type CoalescedFetcher<T, K> = (key: K, context: { readonly signal?: AbortSignal }) => T | PromiseLike<T>;

/** How a value reached a caller, counted in {@link RedisCoalescer.stats}. */
export interface RedisCoalescerStats {
  /** This instance held the lock and ran the fetcher. */
  led: number;
  /** Served from a result stored by any instance within `lingerMs`. */
  hits: number;
  /** Received from another instance's announcement. */
  followed: number;
  /** Ran the fetcher itself without coalescing: timeout, a failed leader, Redis down ('fail-open'). */
  fetchedAlone: number;
}

/** What a follower is woken with. */
type Outcome = { kind: 'value'; payload: string } | { kind: 'failed' } | { kind: 'timeout' };

interface Follower {
  wake: (outcome: Outcome) => void;
}

/**
 * Cluster-wide singleflight for BurstValve: among every instance asking for the same key at
 * the same time, one (the first to take a short `SET NX PX` lock) runs the fetcher; it stores
 * the encoded result for `lingerMs` and publishes it; the others wait on pub/sub, and run the
 * fetcher themselves after `waitTimeoutMs` or when the leader failed (errors are not shared
 * across instances: they do not serialize, and each instance deserves its own retry).
 *
 * Use it under a BurstValve, which coalesces inside the process first, so each instance asks
 * Redis once per key: `new BurstValve({ fetch: coalescer.wrap(fetchUser) })`.
 *
 * Each key has its own channel ({@link channelFor}), so an instance receives only the results
 * it waits for. Leaders and hits never subscribe: a caller subscribes only after its claim said
 * "wait", then claims once more (an announcement made before the subscription was active
 * reached nobody; the second claim then finds the stored result or the free lock). The pub/sub
 * connection (`redis.duplicate()`) exists only while a follower waits (as the semaphore's), so
 * nothing of ours keeps an idle process alive; each key is unsubscribed when its last follower
 * is done. The trade-off: a burst of followers after an idle spell pays for a new connection.
 *
 * Keys and channel of one key share the hash tag `{name:key}`, so the two-key scripts run on
 * Redis Cluster (both keys in one slot).
 */
export class RedisCoalescer<T = unknown, K = string> {
  readonly name: string;
  readonly redisErrorPolicy: RedisErrorPolicy;
  readonly lockMs: number;
  readonly waitTimeoutMs: number;
  readonly lingerMs: number;
  /** `${prefix}co:`; a key's Redis keys and channel follow with `{name:key}`. */
  private readonly keyBase: string;
  private readonly codec: Codec<T>;
  private readonly keyToString: (key: K) => string;
  private readonly link: RedisLink;
  private readonly clock: Clock;
  private readonly commandTimeoutMs: number;
  /** Followers waiting for an announcement, by key string. */
  private readonly followers = new Map<string, Set<Follower>>();
  /** Open while any follower waits; written by subscribe() and dropSubscriber(). */
  private subscriber: Redis | Cluster | undefined;
  /**
   * The key string subscribed on each channel, and when the subscription is active (a
   * follower must not claim again before that); entries are removed with their last follower.
   */
  private readonly subscriptions = new Map<string, { k: string; active: Promise<void> }>();
  private closed = false;
  /** Set by close(): followers woken by it reject with this instead of fetching. */
  private closedError: ClosedError | undefined;
  private readonly counts: RedisCoalescerStats = { led: 0, hits: 0, followed: 0, fetchedAlone: 0 };

  constructor(options: RedisCoalescerOptions<T, K>) {
    // biome-ignore lint/complexity/noArguments: counts the arguments to refuse an extra one; a rest parameter would allocate
    rejectExtraArguments(arguments.length, 1, 'new RedisCoalescer()');
    rejectUnknownOptions(options ?? {}, 'options', [
      ...COMMON_OPTION_KEYS,
      'lockMs',
      'waitTimeoutMs',
      'lingerMs',
      'codec',
      'keyToString',
    ]);
    const common = normalizeCommon(options);
    this.lockMs = validateInteger(options.lockMs ?? 10_000, 'lockMs', { min: 10 });
    this.waitTimeoutMs = validateInteger(options.waitTimeoutMs ?? 5000, 'waitTimeoutMs', { min: 1 });
    this.lingerMs = validateInteger(options.lingerMs ?? 0, 'lingerMs', { min: 0 });
    if (options.codec !== undefined) {
      validateObject(options.codec, 'codec');
      validateFunction(options.codec.encode, 'codec.encode');
      validateFunction(options.codec.decode, 'codec.decode');
    }
    this.codec = options.codec ?? (jsonCodec as Codec<T>);
    this.keyToString =
      options.keyToString === undefined ? String : validateFunction(options.keyToString, 'keyToString');
    this.name = common.name;
    this.redisErrorPolicy = common.policy;
    this.keyBase = `${common.prefix}co:`;
    this.clock = common.clock;
    this.commandTimeoutMs = common.commandTimeoutMs;
    this.link = new RedisLink(common.redis, common.clock, common.commandTimeoutMs, common.probeIntervalMs);
  }

  stats(): RedisCoalescerStats {
    return { ...this.counts };
  }

  /** The pub/sub channel `key`'s result is announced on: `${prefix}co:{${name}:${key}}:done`. */
  channelFor(key: K): string {
    return this.channel(this.keyToString(key));
  }

  /** A fetcher for BurstValve (or anything with its shape) that coalesces across instances. */
  wrap(fetcher: CoalescedFetcher<T, K>): (key: K, context?: { readonly signal?: AbortSignal }) => Promise<T> {
    validateFunction(fetcher, 'fetcher');
    return (key, context) => this.fetch(key, fetcher, context?.signal);
  }

  /**
   * Resolves with the value for `key`: stored by any instance within `lingerMs`, announced by
   * the instance that holds the key's lock, or fetched here (as leader, after `waitTimeoutMs`,
   * after a failed leader, or while Redis is down under 'fail-open'). Rejects with
   * `signal.reason` on abort, with the fetcher's own error when this instance ran it, or with a
   * `RedisUnavailableError` under 'fail-closed'.
   */
  async fetch(key: K, fetcher: CoalescedFetcher<T, K>, signal?: AbortSignal): Promise<T> {
    if (this.closed) throw new ClosedError('the Redis coalescer is closed');
    if (signal?.aborted) throw abortReason(signal);
    const k = this.keyToString(key);
    if (!this.link.usable) return this.byPolicy(key, k, fetcher, signal);
    const token = randomUUID();
    let claim: string[];
    try {
      claim = await this.claim(k, token);
    } catch (error) {
      if (signal?.aborted) throw abortReason(signal);
      return this.byPolicy(key, k, fetcher, signal, error);
    }
    if (claim[0] === 'wait') {
      const outcome = this.follow(k, signal);
      try {
        await this.subscribe(k);
        // An announcement made before the subscription was active reached nobody: claim again,
        // which then finds the stored result or the free lock (and we lead).
        claim = await this.claim(k, token);
      } catch (error) {
        outcome.cancel();
        if (signal?.aborted) throw abortReason(signal);
        return this.byPolicy(key, k, fetcher, signal, error);
      }
      if (claim[0] === 'wait') return this.awaitLeader(key, fetcher, signal, outcome.promise);
      // The leader announced while we claimed again: its value reached us, and the lock it freed
      // is ours now. Use the value, and announce it again to give the lock back (whoever claimed
      // after us gets the same value) rather than fetch a second time.
      const early = outcome.woken();
      if (claim[0] === 'lead' && early?.kind === 'value') {
        let value: T | undefined;
        let decoded = false;
        try {
          value = this.codec.decode(early.payload);
          decoded = true;
        } catch {
          // A payload we cannot read: lead as claimed.
        }
        if (decoded) {
          this.announce(k, token, early.payload);
          this.counts.followed++;
          return value as T;
        }
      }
      outcome.cancel();
    }
    if (claim[0] === 'hit') {
      try {
        const value = this.codec.decode(claim[1]!);
        this.counts.hits++;
        return value;
      } catch {
        // A stored payload we cannot read (another version's codec?): fetch rather than fail.
        this.counts.fetchedAlone++;
        return fetcher(key, { signal });
      }
    }
    this.counts.led++;
    return this.lead(key, k, token, fetcher, signal);
  }

  private async awaitLeader(
    key: K,
    fetcher: CoalescedFetcher<T, K>,
    signal: AbortSignal | undefined,
    outcome: Promise<Outcome>,
  ): Promise<T> {
    const result = await outcome;
    if (result.kind === 'value') {
      try {
        const value = this.codec.decode(result.payload);
        this.counts.followed++;
        return value;
      } catch {
        // A payload we cannot read (another version's codec?): fetch rather than fail.
      }
    }
    if (signal?.aborted) throw abortReason(signal);
    this.counts.fetchedAlone++;
    return fetcher(key, { signal });
  }

  /** `close()`, for `await using x = new ...` (a second close() resolves without doing anything). */
  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }

  /**
   * Rejects followers still waiting with a `ClosedError` and closes the pub/sub connection (and
   * stops the client's background probe, once no other source uses it).
   * A leader whose fetcher is still running still publishes its result when it finishes.
   * Keys left in Redis all expire: the lock after `lockMs`, a stored result after `lingerMs`.
   */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.closedError = new ClosedError('the Redis coalescer is closed');
    for (const set of [...this.followers.values()]) for (const f of [...set]) f.wake({ kind: 'failed' });
    this.followers.clear();
    this.dropSubscriber();
    this.link.close();
  }

  /** The key's stored result and lock; the hash tag puts both in one Cluster slot. */
  private keys(k: string): [string, string] {
    return [`${this.keyBase}{${this.name}:${k}}:result`, `${this.keyBase}{${this.name}:${k}}:lock`];
  }

  private channel(k: string): string {
    return `${this.keyBase}{${this.name}:${k}}:done`;
  }

  /**
   * Runs the claim script. If it fails after it was sent, it may still take the lock on Redis
   * (a late reply); nobody would fetch under that lock and every other instance would wait
   * waitTimeoutMs, so give it back: on the same connection Redis runs that after the late claim,
   * and only if the lock holds our token.
   */
  private async claim(k: string, token: string): Promise<string[]> {
    const sent = this.link.usable; // run() refuses without sending otherwise
    try {
      return (await this.link.run(CLAIM_SCRIPT, this.keys(k), [token, this.lockMs])) as string[];
    } catch (error) {
      if (sent) this.link.fireAndForget(ABANDON_SCRIPT, this.keys(k), [token, this.channel(k), FAILED]);
      throw error;
    }
  }

  private async byPolicy(
    key: K,
    k: string,
    fetcher: CoalescedFetcher<T, K>,
    signal: AbortSignal | undefined,
    error?: unknown,
  ): Promise<T> {
    if (this.redisErrorPolicy === 'fail-closed') {
      throw error ?? this.link.unavailable(`coalescing "${this.name}" key ${k}`);
    }
    this.counts.fetchedAlone++;
    return fetcher(key, { signal });
  }

  private async lead(
    key: K,
    k: string,
    token: string,
    fetcher: CoalescedFetcher<T, K>,
    signal: AbortSignal | undefined,
  ): Promise<T> {
    let value: T;
    try {
      value = await fetcher(key, { signal });
    } catch (error) {
      // Tell the followers at once (they fetch themselves) instead of letting them time out.
      this.announce(k, token, '');
      throw error;
    }
    let payload: string | undefined;
    try {
      payload = this.codec.encode(value);
    } catch {
      // Unencodable: this caller still gets its value; the followers fetch themselves.
    }
    this.announce(k, token, payload ?? '');
    return value;
  }

  /** Stores (success only), unlocks and publishes; never fails the leader's caller. */
  private announce(k: string, token: string, payload: string): void {
    const message = payload === '' ? FAILED : `1${payload}`;
    this.link.run(PUBLISH_SCRIPT, this.keys(k), [token, this.lingerMs, this.channel(k), message, payload]).catch(() => {
      // Redis is gone: followers time out and fetch themselves; the lock expires after lockMs.
    });
  }

  /** Registers a follower for `k` with its own timeout; `cancel()` unregisters it. */
  private follow(
    k: string,
    signal: AbortSignal | undefined,
  ): { promise: Promise<Outcome>; cancel(): void; woken(): Outcome | undefined } {
    let set = this.followers.get(k);
    if (set === undefined) this.followers.set(k, (set = new Set()));
    const followers = set;
    let timer: Timer | undefined;
    let onAbort: (() => void) | undefined;
    let follower!: Follower;
    let woken: Outcome | undefined;
    const promise = new Promise<Outcome>((resolve, reject) => {
      const done = () => {
        timer?.clear();
        if (onAbort) signal!.removeEventListener('abort', onAbort);
        followers.delete(follower);
        if (followers.size === 0 && this.followers.get(k) === followers) {
          this.followers.delete(k);
          this.unsubscribe(k);
        }
      };
      follower = {
        wake: (outcome) => {
          woken = outcome;
          done();
          if (this.closedError) reject(this.closedError);
          else resolve(outcome);
        },
      };
      if (signal) {
        onAbort = () => {
          done();
          reject(abortReason(signal));
        };
        signal.addEventListener('abort', onAbort, { once: true });
      }
      // Ref'd: a caller waits on it. A dead or slow leader costs a follower at most this long.
      timer = this.clock.setTimeout(() => follower.wake({ kind: 'timeout' }), this.waitTimeoutMs).ref();
    });
    // Not awaited when the claim decides instead (hit, lead, error): never an unhandled rejection.
    promise.catch(() => {});
    followers.add(follower);
    return {
      promise,
      cancel: () => {
        if (!followers.has(follower)) return;
        follower.wake({ kind: 'failed' });
      },
      woken: () => woken,
    };
  }

  /**
   * Subscribes to `k`'s channel (opening the pub/sub connection if none is open); resolves once
   * the subscription is active. A failure, or no answer within commandTimeoutMs, is "Redis
   * unavailable". Only called with a follower of `k` registered, which keeps it subscribed.
   */
  private subscribe(k: string): Promise<void> {
    if (this.closed) return Promise.reject(new ClosedError('the Redis coalescer is closed'));
    const channel = this.channel(k);
    const existing = this.subscriptions.get(channel);
    if (existing !== undefined) return existing.active;
    let sub = this.subscriber;
    if (sub === undefined) {
      sub = this.link.duplicate();
      this.subscriber = sub;
      // Errors surface as follower timeouts; without a listener ioredis would print them.
      sub.on('error', () => {});
      sub.on('message', (ch: string, message: string) => this.onMessage(ch, message));
    }
    // Ref'd: a follower waits on it.
    const subscribing = withTimeout(
      this.clock,
      this.commandTimeoutMs,
      sub.subscribe(channel).then(() => {}),
      () => new TimeoutError(`SUBSCRIBE got no reply within commandTimeoutMs (${this.commandTimeoutMs} ms)`),
      true,
    );
    const entry = {
      k,
      active: subscribing.catch((error: unknown) => {
        // Let the next follower try again (on a fresh connection if this one is broken).
        if (this.subscriptions.get(channel) === entry) this.subscriptions.delete(channel);
        if (this.subscriber === sub) this.dropSubscriber();
        throw new RedisUnavailableError(`coalescing "${this.name}": cannot subscribe to ${channel}`, {
          cause: error,
        });
      }),
    };
    entry.active.catch(() => {}); // the caller handles it; never an unhandled rejection
    this.subscriptions.set(channel, entry);
    return entry.active;
  }

  /** `k`'s last follower is done: stop receiving its results; with no follower left, disconnect. */
  private unsubscribe(k: string): void {
    if (this.followers.size === 0) {
      this.dropSubscriber();
      return;
    }
    const channel = this.channel(k);
    if (!this.subscriptions.delete(channel)) return;
    // Sent after the SUBSCRIBE on the same connection, and before any later one: never races.
    this.subscriber?.unsubscribe(channel).catch(() => {});
  }

  private dropSubscriber(): void {
    const sub = this.subscriber;
    this.subscriber = undefined;
    this.subscriptions.clear();
    sub?.disconnect();
  }

  private onMessage(channel: string, message: string): void {
    const entry = this.subscriptions.get(channel);
    if (entry === undefined) return;
    const set = this.followers.get(entry.k);
    if (set === undefined) return;
    const outcome: Outcome = message[0] === '1' ? { kind: 'value', payload: message.slice(1) } : { kind: 'failed' };
    for (const f of [...set]) f.wake(outcome);
  }
}

/** The announcement of a failed (or abandoned) fetch; a success is '1' followed by the payload. */
const FAILED = '0';
