import {
  type Clock,
  ClosedError,
  Emitter,
  type RateSource,
  rejectExtraArguments,
  rejectUnknownOptions,
  type Timer,
  TokenBucket,
  validateInteger,
  validateNumber,
  WaiterQueue,
  abortReason,
} from '@valve/core';
import { COMMON_OPTION_KEYS, normalizeCommon } from './internal/normalizeOptions.js';
import { RedisLink } from './internal/RedisLink.js';
import type { RedisErrorPolicy, RedisSourceOptions } from './options.js';
import { TOKEN_BUCKET_SCRIPT } from './scripts/tokenBucketScript.js';

export interface RedisTokenBucketOptions extends RedisSourceOptions {
  /** Tokens added per refill (an integer >= 1). Required. */
  rate: number;
  /** Refill period in milliseconds (a number > 0), measured on Redis's clock. Required. */
  hz: number;
  /** Bucket size (an integer >= 1); the bucket starts full. Required. */
  tokenLimit: number;
}

/** What a waiter is woken with: a token from Redis, or "take one from the local fallback". */
const GRANTED = true;
const FALLBACK = false;

/**
 * safetyvalve's token bucket (`rate` tokens every `hz` ms, up to `tokenLimit`, starting full),
 * shared by every process that uses the same Redis, `prefix` and `name`.
 *
 * Each take is one atomic Lua script run on Redis's clock ({@link TOKEN_BUCKET_SCRIPT}).
 * `tryAcquire()` cannot ask Redis synchronously, so it returns false while Redis is in use
 * (`async` is true: valves call `acquire(signal)`); it answers from the in-process fallback only
 * while `'fail-open'` is in effect.
 *
 * Waiting: callers queue here in FIFO order; only as many takes are in flight as there are
 * waiters, and after a refusal the queue sleeps until the refill the script reported (one
 * `clock` timer, no polling), so a starved instance sends about one request per refill.
 */
export class RedisTokenBucket implements RateSource {
  readonly async = true;
  readonly rate: number;
  readonly hz: number;
  readonly tokenLimit: number;
  readonly name: string;
  readonly redisErrorPolicy: RedisErrorPolicy;
  /** The Redis key of the bucket (`${prefix}bucket:${name}`). */
  readonly key: string;
  private readonly link: RedisLink;
  private readonly clock: Clock;
  /** The in-process bucket used while 'fail-open' is in effect; same numbers, same clock. */
  private readonly local: TokenBucket;
  private readonly waiters = new WaiterQueue<boolean>();
  private readonly available$ = new Emitter<void>();
  readonly onAvailable = this.available$.event;
  /** Takes sent and not yet answered; kept <= waiters so no token is taken for nobody. */
  private inflight = 0;
  /** Set by a refusal, cleared by a grant: then one waiter probes for everyone per refill. */
  private probing = false;
  /** Set by a refusal, cleared when it fires: no takes are sent until the reported refill. */
  private refillTimer: Timer | undefined;
  /** Tokens left and ms to the next refill, as of the last reply (clock time `seenAt`). */
  private seenTokens: number;
  private seenWaitMs = 0;
  private seenAt = 0;
  private closed = false;
  /** Replies still on their way, awaited by close() so nothing is written after it resolves. */
  private readonly pending = new Set<Promise<unknown>>();

  constructor(options: RedisTokenBucketOptions) {
    // biome-ignore lint/complexity/noArguments: counts the arguments to refuse an extra one; a rest parameter would allocate
    rejectExtraArguments(arguments.length, 1, 'new RedisTokenBucket()');
    rejectUnknownOptions(options ?? {}, 'options', [...COMMON_OPTION_KEYS, 'rate', 'hz', 'tokenLimit']);
    const common = normalizeCommon(options);
    this.rate = validateInteger(options.rate, 'rate', { min: 1 });
    this.hz = validateNumber(options.hz, 'hz', { above: 0 });
    this.tokenLimit = validateInteger(options.tokenLimit, 'tokenLimit', { min: 1 });
    this.name = common.name;
    this.redisErrorPolicy = common.policy;
    this.key = `${common.prefix}bucket:${common.name}`;
    this.clock = common.clock;
    this.link = new RedisLink(common.redis, common.clock, common.commandTimeoutMs, common.probeIntervalMs, () =>
      this.onCircuitOpen(),
    );
    this.local = new TokenBucket({ rate: this.rate, hz: this.hz, tokenLimit: this.tokenLimit, clock: this.clock });
    this.local.onAvailable(() => {
      if (this.failingOpen) this.available$.emit();
    });
    this.seenTokens = this.tokenLimit;
  }

  /** True while Redis is being skipped under 'fail-open' (the in-process bucket decides). */
  get failingOpen(): boolean {
    return this.redisErrorPolicy === 'fail-open' && !this.link.usable;
  }

  /** Tokens left as of Redis's last reply (or the fallback's count while failing open). */
  get available(): number {
    return this.failingOpen ? this.local.available : this.seenTokens;
  }

  /**
   * Always false while Redis is in use: the answer lives in Redis and this call must not block.
   * Use `acquire(signal)` (valves do, since `async` is true). While failing open it takes from
   * the in-process fallback.
   */
  tryAcquire(): boolean {
    if (this.closed) return false;
    return this.failingOpen ? this.local.tryAcquire() : false;
  }

  acquire(signal?: AbortSignal): Promise<void> {
    if (this.closed) return Promise.reject(new ClosedError('the Redis token bucket is closed'));
    if (signal?.aborted) return Promise.reject(abortReason(signal));
    if (!this.link.usable) return this.byPolicy(signal);
    // Nobody waits and the bucket is not known to be empty: ask directly (no queue to keep in
    // order, and about a fifth less work per admitted call than going through the queue).
    if (this.waiters.size === 0 && this.refillTimer === undefined && !this.probing) return this.direct(signal);
    return this.enqueue(signal);
  }

  /**
   * The uncontended path: one take, no queue. An abort during the round trip takes effect when
   * the reply arrives (within commandTimeoutMs); a token granted by then is given back.
   */
  private async direct(signal: AbortSignal | undefined): Promise<void> {
    let reply: number[];
    try {
      reply = (await this.track(this.link.run(TOKEN_BUCKET_SCRIPT, [this.key], this.args(1)))) as number[];
    } catch (error) {
      if (signal?.aborted) throw abortReason(signal);
      if (this.closed) throw new ClosedError('the Redis token bucket is closed');
      if (this.redisErrorPolicy === 'fail-open') return this.local.acquire(signal);
      throw error;
    }
    const [granted, tokens, waitMs] = reply;
    this.record(tokens!, waitMs!);
    if (granted === 1) {
      if (!this.closed && !signal?.aborted) return;
      this.giveBack();
    }
    if (this.closed) throw new ClosedError('the Redis token bucket is closed');
    if (signal?.aborted) throw abortReason(signal);
    // Refused: the bucket is empty until the refill the script reported; wait in the queue.
    this.probing = true;
    if (this.refillTimer === undefined) this.refillTimer = this.clock.setTimeout(() => this.onRefill(), waitMs!).ref();
    return this.enqueue(signal);
  }

  private enqueue(signal: AbortSignal | undefined): Promise<void> {
    const woken = this.waiters.wait(signal);
    if (signal) {
      // An aborted waiter may have been the last: then drop the ref'd refill timer, which would
      // otherwise keep the process alive for nobody.
      const onAbort = () => queueMicrotask(() => this.idleCheck());
      signal.addEventListener('abort', onAbort, { once: true });
      const off = () => signal.removeEventListener('abort', onAbort);
      woken.then(off, off);
    }
    this.pump();
    return woken.then((how) => (how === GRANTED ? undefined : this.local.acquire(signal)));
  }

  nextTokenInMs(): number {
    if (this.failingOpen) return this.local.nextTokenInMs();
    if (this.seenTokens >= 1) return 0;
    return Math.max(0, this.seenAt + this.seenWaitMs - this.clock.now());
  }

  /** Asks Redis for the bucket's state now (refills included) without taking a token. */
  async peek(): Promise<{ tokens: number; nextTokenInMs: number }> {
    const [, tokens, wait] = (await this.link.run(TOKEN_BUCKET_SCRIPT, [this.key], this.args(0))) as number[];
    this.record(tokens!, wait!);
    return { tokens: tokens!, nextTokenInMs: wait! };
  }

  /** `close()`, for `await using x = new ...` (a second close() resolves without doing anything). */
  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }

  /**
   * Rejects every waiting `acquire` with a `ClosedError` and stops the refill timer (and the
   * client's background probe, once no other source uses it). Resolves
   * once replies already on their way are handled (a token granted to nobody is given back),
   * so after it resolves this instance writes nothing more. Never closes the `redis` client.
   */
  async close(): Promise<void> {
    if (!this.closed) {
      this.closed = true;
      this.refillTimer?.clear();
      this.refillTimer = undefined;
      this.waiters.rejectAll(new ClosedError('the Redis token bucket is closed'));
      this.local.close();
      this.link.close();
    }
    while (this.pending.size > 0) await Promise.allSettled([...this.pending]);
  }

  private byPolicy(signal: AbortSignal | undefined): Promise<void> {
    if (this.redisErrorPolicy === 'fail-open') return this.local.acquire(signal);
    return Promise.reject(this.link.unavailable(`token bucket "${this.name}"`));
  }

  private args(n: number): (string | number)[] {
    return [this.rate, this.hz, this.tokenLimit, n];
  }

  private record(tokens: number, waitMs: number): void {
    this.seenTokens = tokens;
    this.seenWaitMs = waitMs;
    this.seenAt = this.clock.now();
  }

  /** Sends one take per waiter that has none in flight, unless the bucket is known empty. */
  private pump(): void {
    const max = this.probing ? Math.min(1, this.waiters.size) : this.waiters.size;
    while (!this.closed && this.refillTimer === undefined && this.inflight < max) {
      this.inflight++;
      this.track(this.link.run(TOKEN_BUCKET_SCRIPT, [this.key], this.args(1))).then(
        (reply) => this.onReply(reply as number[]),
        (error: unknown) => this.onError(error),
      );
    }
  }

  private onReply([granted, tokens, waitMs]: number[]): void {
    this.inflight--;
    this.record(tokens!, waitMs!);
    this.probing = granted !== 1;
    if (granted === 1) {
      // The waiter may have aborted (or the bucket closed) while the take was in flight.
      if (!this.waiters.resolveNext(GRANTED)) this.giveBack();
    } else if (this.refillTimer === undefined && !this.closed && this.waiters.size > 0) {
      // Ref'd: accepted callers wait on it, so the process must not exit under them.
      this.refillTimer = this.clock.setTimeout(() => this.onRefill(), waitMs!).ref();
    }
    this.pump();
  }

  private idleCheck(): void {
    if (this.waiters.size > 0) return;
    this.refillTimer?.clear();
    this.refillTimer = undefined;
  }

  private onRefill(): void {
    this.refillTimer = undefined;
    this.pump();
    this.available$.emit();
  }

  private onError(error: unknown): void {
    this.inflight--;
    if (this.redisErrorPolicy === 'fail-open') {
      while (this.waiters.resolveNext(FALLBACK)) {}
    } else {
      this.waiters.rejectAll(error);
    }
  }

  /**
   * Redis stopped answering (this source's take or another source's command on the client):
   * under 'fail-open', waiters asleep until the reported refill move to the fallback now. Takes
   * still in flight settle on their own; a token they bring is given back.
   */
  private onCircuitOpen(): void {
    if (this.redisErrorPolicy !== 'fail-open' || this.closed) return;
    while (this.waiters.resolveNext(FALLBACK)) {}
    this.idleCheck();
  }

  private giveBack(): void {
    this.track(this.link.run(TOKEN_BUCKET_SCRIPT, [this.key], this.args(-1))).then(
      (reply) => this.record((reply as number[])[1]!, 0),
      // Redis is gone: the token is lost, which only makes the limit stricter until the refill.
      () => {},
    );
  }

  private track<T>(promise: Promise<T>): Promise<T> {
    this.pending.add(promise);
    const forget = () => this.pending.delete(promise);
    promise.then(forget, forget);
    return promise;
  }
}
