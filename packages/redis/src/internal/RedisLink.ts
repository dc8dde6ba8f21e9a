import { type Clock, TimeoutError } from '@valve/core';
import type { Cluster, Redis } from 'ioredis';
import { RedisUnavailableError } from '../RedisUnavailableError.js';
import type { Script } from './Script.js';

/**
 * One source's way to Redis: runs a script by `EVALSHA`, falling back to `EVAL` when the server
 * does not know it yet (`NOSCRIPT`: a restart or `SCRIPT FLUSH`), bounds each call with
 * `commandTimeoutMs`, and remembers a failure for `probeIntervalMs` so that during an outage
 * calls fail at once instead of each waiting for a timeout. Every failure becomes a
 * {@link RedisUnavailableError} carrying the original error as `cause`.
 *
 * Invariant: `run()` always settles, within `commandTimeoutMs` of the call (plus the fallback's
 * own timeout, which shares the same deadline).
 */
export class RedisLink {
  /** Clock time before which calls skip Redis; written by a failure, cleared by a success. */
  private downUntil = Number.NEGATIVE_INFINITY;
  /** The last failure, kept as the `cause` of fast failures during the probe interval. */
  private lastError: unknown;

  /**
   * A second connection of the same kind, for pub/sub (a subscribed connection runs no other
   * command): `duplicate()` of a single Redis or of a Cluster, whose signatures differ.
   */
  duplicate(): Redis | Cluster {
    const r = this.redis;
    return r.isCluster ? (r as Cluster).duplicate() : (r as Redis).duplicate();
  }

  constructor(
    readonly redis: Redis | Cluster,
    private readonly clock: Clock,
    private readonly commandTimeoutMs: number,
    private readonly probeIntervalMs: number,
  ) {}

  /**
   * Whether a call would reach Redis now: false during the probe interval after a failure, or
   * while ioredis is between connections (a command sent then would sit in its offline queue and
   * might run after we gave up on it, taking a token nobody receives).
   */
  get usable(): boolean {
    if (this.clock.now() < this.downUntil) return false;
    const status = this.redis.status;
    return status !== 'reconnecting' && status !== 'close' && status !== 'end';
  }

  /** The error for a call refused without asking Redis. */
  unavailable(what: string): RedisUnavailableError {
    const cause = this.lastError ?? new Error(`the Redis connection is ${this.redis.status}`);
    return new RedisUnavailableError(`${what}: Redis is unavailable (${messageOf(cause)})`, { cause });
  }

  async run(script: Script, keys: readonly string[], args: readonly (string | number)[]): Promise<unknown> {
    if (!this.usable) throw this.unavailable(`${script.name} was not sent`);
    return this.send(script, keys, args);
  }

  /**
   * Like {@link run}, but sent even during the probe interval or while ioredis reconnects (it
   * then waits in ioredis's offline queue, still bounded by `commandTimeoutMs`). For scripts
   * that must not wait out someone else's failure and are harmless if they run late: lease
   * renewal, which keeps permits this instance holds (one slow reply must not let a lease
   * expire while its work runs), and which never revives an expired lease.
   */
  runUngated(script: Script, keys: readonly string[], args: readonly (string | number)[]): Promise<unknown> {
    return this.send(script, keys, args);
  }

  /**
   * Sends a cleanup script without waiting for it and without letting its outcome open or
   * close the probe gate. Sent on the same connection as the call it cleans up after, so Redis
   * runs it after that call even if that call's reply came too late for us (a timed-out
   * acquire or claim that still executed). Errors are dropped: what it would have removed
   * expires on its own.
   */
  fireAndForget(script: Script, keys: readonly string[], args: readonly (string | number)[]): void {
    this.evalsha(script, keys, args, { abandoned: false }).catch(() => {});
  }

  private async send(script: Script, keys: readonly string[], args: readonly (string | number)[]): Promise<unknown> {
    const call = { abandoned: false };
    try {
      const reply = await this.withTimeout(script, call, this.evalsha(script, keys, args, call));
      this.downUntil = Number.NEGATIVE_INFINITY;
      this.lastError = undefined;
      return reply;
    } catch (error) {
      this.lastError = error;
      this.downUntil = this.clock.now() + this.probeIntervalMs;
      throw new RedisUnavailableError(`${script.name} failed: Redis is unavailable (${messageOf(error)})`, {
        cause: error,
      });
    }
  }

  private async evalsha(
    script: Script,
    keys: readonly string[],
    args: readonly (string | number)[],
    call: { abandoned: boolean },
  ): Promise<unknown> {
    try {
      return await this.redis.evalsha(script.sha, keys.length, ...keys, ...args);
    } catch (error) {
      // A call we gave up on must not start again: a cleanup sent after the timeout would then
      // run before it instead of after it.
      if (call.abandoned || !messageOf(error).startsWith('NOSCRIPT')) throw error;
      // The server lost its script cache; EVAL loads the script again for everyone after us.
      return await this.redis.eval(script.source, keys.length, ...keys, ...args);
    }
  }

  private withTimeout<T>(script: Script, call: { abandoned: boolean }, promise: Promise<T>): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      // Ref'd: a caller is waiting on this reply, so the process must not exit under it.
      const timer = this.clock
        .setTimeout(() => {
          call.abandoned = true;
          reject(new TimeoutError(`${script.name} got no reply within commandTimeoutMs (${this.commandTimeoutMs} ms)`));
        }, this.commandTimeoutMs)
        .ref();
      promise.then(
        (value) => {
          timer.clear();
          resolve(value);
        },
        (error) => {
          timer.clear();
          reject(error);
        },
      );
    });
  }
}

function messageOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
