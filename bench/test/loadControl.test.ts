import { ManualClock } from '@valve/core';
import { describe, expect, it } from 'vitest';
import { ControlRequestError, controlRequest, okJson, okText } from '../load/control.js';

/** A fetch that answers each call with the next scripted behaviour, recording when it was called. */
function scriptedFetch(clock: ManualClock, script: ((signal: AbortSignal) => Promise<Response>)[]) {
  const calledAt: number[] = [];
  const fake = ((_url: string | URL | Request, init?: RequestInit) => {
    calledAt.push(clock.now());
    const step = script[calledAt.length - 1];
    if (!step) throw new Error(`unexpected call ${calledAt.length}`);
    return step(init!.signal!);
  }) as typeof fetch;
  return { fake, calledAt };
}

/** Never answers; rejects with the signal's reason once it is aborted (as fetch does). */
const hang = (signal: AbortSignal) =>
  new Promise<Response>((_resolve, reject) => signal.addEventListener('abort', () => reject(signal.reason)));
const answer = (status: number, body: string) => () => Promise.resolve(new Response(body, { status }));
const refuse = () => Promise.reject(new TypeError('fetch failed'));

describe('controlRequest (control requests to the demo: bounded, retried, then reported)', () => {
  it('retries an attempt that times out, after the backoff, and resolves with the answer', async () => {
    const clock = new ManualClock();
    const { fake, calledAt } = scriptedFetch(clock, [hang, answer(200, '{"stored":7}')]);
    const retries: number[] = [];
    const result = controlRequest('http://demo/events/stats', {}, okJson<{ stored: number }>, {
      timeoutMs: 10_000,
      backoffMs: 1000,
      clock,
      fetch: fake,
      onRetry: (attempt) => retries.push(attempt),
    });
    await clock.advanceAsync(9_999);
    expect(calledAt).toEqual([0]);
    await clock.advanceAsync(1);
    expect(retries).toEqual([1]);
    await clock.advanceAsync(1000);
    await expect(result).resolves.toEqual({ stored: 7 });
    expect(calledAt).toEqual([0, 11_000]);
    expect(clock.pendingTimers).toBe(0);
  });

  it('gives up after the bounded attempts with every failure listed, the pause doubling', async () => {
    const clock = new ManualClock();
    const { fake, calledAt } = scriptedFetch(clock, [refuse, hang, answer(503, 'busy')]);
    const result = controlRequest('http://demo/metrics', {}, okText, {
      timeoutMs: 5000,
      attempts: 3,
      backoffMs: 1000,
      clock,
      fetch: fake,
    });
    const settled = result.catch((error: unknown) => error);
    await clock.advanceAsync(1000 + 5000 + 2000);
    const error = await settled;
    expect(error).toBeInstanceOf(ControlRequestError);
    expect((error as ControlRequestError).failures).toEqual([
      'TypeError: fetch failed',
      'TimeoutError: no answer within 5000 ms',
      'Error: HTTP 503',
    ]);
    expect((error as ControlRequestError).message).toContain('http://demo/metrics: 3 attempt(s) failed');
    expect(calledAt).toEqual([0, 1000, 8000]);
    expect(clock.pendingTimers).toBe(0);
  });

  it('bounds reading the body too, not only the headers', async () => {
    const clock = new ManualClock();
    const slowBody = (signal: AbortSignal) =>
      Promise.resolve(
        new Response(
          new ReadableStream({
            start(controller) {
              signal.addEventListener('abort', () => controller.error(signal.reason));
            },
          }),
        ),
      );
    const { fake, calledAt } = scriptedFetch(clock, [slowBody, answer(200, 'ok')]);
    const result = controlRequest('http://demo/metrics', {}, okText, {
      timeoutMs: 2000,
      backoffMs: 500,
      clock,
      fetch: fake,
    });
    await clock.advanceAsync(2000 + 500);
    await expect(result).resolves.toBe('ok');
    expect(calledAt).toEqual([0, 2500]);
  });

  it('hands a non-2xx answer to `read` unretried when `read` accepts it (route probes read 404s)', async () => {
    const clock = new ManualClock();
    const { fake, calledAt } = scriptedFetch(clock, [answer(404, '{"error":{"code":"not_found"}}')]);
    const exists = await controlRequest('http://demo/x', {}, async (res) => res.status !== 404, {
      timeoutMs: 1000,
      clock,
      fetch: fake,
    });
    expect(exists).toBe(false);
    expect(calledAt).toEqual([0]);
    expect(clock.pendingTimers).toBe(0);
  });

  it('makes one attempt when attempts is 1', async () => {
    const clock = new ManualClock();
    const { fake, calledAt } = scriptedFetch(clock, [refuse]);
    await expect(
      controlRequest('http://demo/y', {}, okText, { timeoutMs: 1000, attempts: 1, clock, fetch: fake }),
    ).rejects.toThrow(ControlRequestError);
    expect(calledAt).toEqual([0]);
  });
});
