import type { Limit } from '../../src/index.js';

/**
 * A deterministic simulated backend for limit tests: latency is `baseMs` up to `knee` requests in
 * flight and grows linearly past it (the extra requests queue), like a server with `knee` workers.
 * With `jitter` each latency is spread uniformly by ±jitter (a fraction) around that mean.
 */
export interface Backend {
  latency(inflight: number): number;
}

export function kneeBackend(baseMs: number, knee: number, jitter = 0, seed = 1): Backend {
  let state = seed >>> 0 || 1;
  // xorshift32: a seeded, deterministic source of spread, as real latencies are never constant.
  const next = () => {
    state ^= state << 13;
    state ^= state >>> 17;
    state ^= state << 5;
    return (state >>> 0) / 2 ** 32;
  };
  return {
    latency: (inflight) => {
      const mean = inflight <= knee ? baseMs : (baseMs * inflight) / knee;
      return jitter === 0 ? mean : mean * (1 + jitter * (2 * next() - 1));
    },
  };
}

export interface Round {
  limit: number;
  inflight: number;
  /** The first request's latency in this round. */
  rttMs: number;
}

/**
 * Closed-loop load: each round runs `min(limit, demand)` requests at once against the backend and
 * feeds each one's sample to the limit. `dropWhen` marks samples as dropped (e.g. timeouts).
 * Returns the limit seen at the start of each round.
 */
export function simulate(
  limit: Limit,
  backend: Backend,
  rounds: number,
  options: { demand?: number; dropWhen?: (rttMs: number, inflight: number) => boolean } = {},
): Round[] {
  const history: Round[] = [];
  for (let r = 0; r < rounds; r++) {
    const inflight = Math.min(limit.limit, options.demand ?? Number.POSITIVE_INFINITY);
    const first = backend.latency(inflight);
    history.push({ limit: limit.limit, inflight, rttMs: first });
    for (let i = 0; i < inflight; i++) {
      const rttMs = i === 0 ? first : backend.latency(inflight);
      limit.onSample({ rttMs, inflight, dropped: options.dropWhen?.(rttMs, inflight) ?? false });
    }
  }
  return history;
}

/** Records every onChange value together with the limit the object reported at that moment. */
export function watch(limit: Limit): { value: number; current: number }[] {
  const seen: { value: number; current: number }[] = [];
  limit.onChange((value) => seen.push({ value, current: limit.limit }));
  return seen;
}
