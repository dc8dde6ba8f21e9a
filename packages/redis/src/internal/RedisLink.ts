import { type Clock, TimeoutError } from '@valve/core';
import type { Cluster, Redis } from 'ioredis';
import { RedisUnavailableError } from '../RedisUnavailableError.js';
import { Circuit, type CircuitUser } from './Circuit.js';
import type { Script } from './Script.js';
import { withTimeout } from './withTimeout.js';

/**
 * One source's way to Redis: runs a script by `EVALSHA`, falling back to `EVAL` when the server
 * does not know it yet (`NOSCRIPT`: a restart or `SCRIPT FLUSH`), and bounds each call with
 * `commandTimeoutMs`. Failures and successes feed the client's {@link Circuit}, shared with
 * every other source on the same client: after one failure, calls are refused at once (the
 * source's policy decides) until a background probe finds Redis answering again, so during an
 * outage no caller waits for a timeout of its own. Every failure becomes a
 * {@link RedisUnavailableError} carrying the original error as `cause`.
 *
 * Invariant: `run()` always settles, within `commandTimeoutMs` of the call (plus the fallback's
 * own timeout, which shares the same deadline).
 */
export class RedisLink implements CircuitUser {
  private readonly circuit: Circuit;

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
    readonly commandTimeoutMs: number,
    readonly probeIntervalMs: number,
    /**
     * Called when the client's circuit opens, by a failure of this source or of another on the
     * same client: waiters asleep on a timer (a full cap, an empty bucket) meet the policy now
     * instead of at their timer.
     */
    private readonly onCircuitOpen: () => void = () => {},
  ) {
    this.circuit = Circuit.attach(redis, clock, this);
  }

  /** @internal See {@link CircuitUser.circuitOpened}. */
  circuitOpened(): void {
    if (this.probeIntervalMs > 0) this.onCircuitOpen();
  }

  /**
   * Whether a call would reach Redis now: false while the client's circuit is open (after a
   * failure, until a probe gets an answer; never with `probeIntervalMs` 0, which asks Redis on
   * every call), or while ioredis is between connections (a command sent then would sit in its
   * offline queue and might run after we gave up on it, taking a token nobody receives).
   */
  get usable(): boolean {
    if (this.probeIntervalMs > 0 && this.circuit.open) return false;
    const status = this.redis.status;
    return status !== 'reconnecting' && status !== 'close' && status !== 'end';
  }

  /** The error for a call refused without asking Redis. */
  unavailable(what: string): RedisUnavailableError {
    const cause = this.circuit.lastError ?? new Error(`the Redis connection is ${this.redis.status}`);
    return new RedisUnavailableError(`${what}: Redis is unavailable (${messageOf(cause)})`, { cause });
  }

  /** The source is closed: it stops counting on (and keeping probing alive in) the circuit. */
  close(): void {
    this.circuit.detach(this);
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
      const reply = await withTimeout(
        this.clock,
        this.commandTimeoutMs,
        this.evalsha(script, keys, args, call),
        () => {
          call.abandoned = true;
          return new TimeoutError(`${script.name} got no reply within commandTimeoutMs (${this.commandTimeoutMs} ms)`);
        },
        true, // a caller is waiting on this reply: the process must not exit under it
      );
      this.circuit.succeeded();
      return reply;
    } catch (error) {
      this.circuit.failed(error);
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
}

function messageOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
