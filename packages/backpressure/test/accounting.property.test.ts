import { ManualClock } from '@valve/core';
import { deferred, type Deferred, flush as settle } from '@valve/testkit';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { BackpressureController } from '../src/BackpressureController.js';
import { STRATEGIES } from '../src/strategies/createStrategy.js';
import type { BackpressureStrategy, FlushResult } from '../src/types.js';

/** `unnamed`: `failed` counts every item but `failedItems` names none (the whole batch failed). */
type Settle = 'ok' | 'throw' | 'partial' | 'unnamed';

type Command =
  | { kind: 'push' }
  | { kind: 'offer' }
  | { kind: 'pushAbortable' }
  | { kind: 'pushDurable'; abortable: boolean }
  | { kind: 'abort' }
  | { kind: 'settleFlush'; how: Settle }
  | { kind: 'advance'; ms: number }
  | { kind: 'drain' }
  | { kind: 'start' };

const command: fc.Arbitrary<Command> = fc.oneof(
  { arbitrary: fc.constant({ kind: 'push' } as const), weight: 4 },
  { arbitrary: fc.constant({ kind: 'offer' } as const), weight: 3 },
  { arbitrary: fc.constant({ kind: 'pushAbortable' } as const), weight: 1 },
  { arbitrary: fc.record({ kind: fc.constant('pushDurable' as const), abortable: fc.boolean() }), weight: 3 },
  { arbitrary: fc.constant({ kind: 'abort' } as const), weight: 1 },
  {
    arbitrary: fc.record({
      kind: fc.constant('settleFlush' as const),
      how: fc.constantFrom('ok', 'throw', 'partial', 'unnamed'),
    }),
    weight: 3,
  },
  { arbitrary: fc.record({ kind: fc.constant('advance' as const), ms: fc.integer({ min: 0, max: 200 }) }), weight: 2 },
  { arbitrary: fc.constant({ kind: 'drain' } as const), weight: 1 },
  { arbitrary: fc.constant({ kind: 'start' } as const), weight: 1 },
);

/**
 * Model: every offered id must end in exactly one of written, dead-lettered, dropped after
 * acceptance, refused, or aborted; every `pushDurable()` settles exactly once, resolved exactly
 * when its item was written (by a flush that said so) and rejected otherwise, with the
 * FlushError for a dead letter and a ValveError (or the abort reason) for the rest; and `accepted = flushed + deadLettered + dropped + buffered +
 * inFlight` must hold after every command. Flushes may also time out (and answer late, which
 * must change nothing) or report failures without naming the items (the whole batch failed).
 */
async function runModel(
  strategy: BackpressureStrategy,
  commands: Command[],
  stopDraining: boolean,
  retries: number,
): Promise<void> {
  const clock = new ManualClock();
  const calls: { items: number[]; signal: AbortSignal; gate: Deferred<FlushResult<number> | undefined> }[] = [];
  const outcome = new Map<number, string[]>();
  const mark = (id: number, what: string) => outcome.set(id, [...(outcome.get(id) ?? []), what]);
  const c = new BackpressureController<number>(
    (items, { signal }) => {
      const gate = deferred<FlushResult<number> | undefined>();
      calls.push({ items: [...items], signal, gate });
      return gate.promise;
    },
    {
      clock,
      strategy,
      maxBufferSize: 4,
      batchSize: 2,
      sampleRate: 2,
      maxBlockTimeMs: 50,
      minFlushIntervalMs: 10,
      retry: { retries, minTimeout: 5 },
      // Short enough that random clock advances time flushes out (then answer them late).
      flushTimeoutMs: 150,
      onDeadLetter: (items) => {
        for (const id of items) mark(id, 'dead');
      },
      onDrop: () => {},
    },
  );
  c.onDrop((e) => {
    for (const id of e.items) mark(id, e.accepted ? 'dropped' : 'refused');
  });
  let next = 0;
  const aborters: AbortController[] = [];
  const pushes: Promise<unknown>[] = [];
  /** How each durable push settled, by id (more than one entry would be a double settlement). */
  const acks = new Map<number, unknown[]>();
  const check = () => {
    const s = c.stats();
    expect(s.accepted).toBe(s.flushed + s.deadLettered + s.dropped + s.bufferSize + s.inFlight);
    // The Valve contract's words (unit: an item), at every step.
    expect(s.admitted).toBe(s.running + s.completed + s.failed);
    expect(s.rejected + s.queued + s.admitted).toBe(next);
    expect(s.rejected).toBe(s.refused + s.dropped);
    expect(Object.values(s.rejectedByReason).reduce((a, b) => a + b, 0)).toBe(s.rejected);
  };
  const push = (signal?: AbortSignal) => {
    const id = next++;
    pushes.push(
      c.push(id, { signal }).then(
        () => {},
        (error) => {
          if (error === signal?.reason) mark(id, 'aborted');
        },
      ),
    );
  };
  const pushDurable = (signal?: AbortSignal) => {
    const id = next++;
    acks.set(id, []);
    pushes.push(
      c.pushDurable(id, { signal }).then(
        () => acks.get(id)!.push('acked'),
        (error: unknown) => {
          acks.get(id)!.push(error);
          if (error === signal?.reason) mark(id, 'aborted');
        },
      ),
    );
  };
  const resolveCall = (how: Settle) => {
    const call = calls.find((x) => !x.gate.settled);
    if (!call) return;
    if (call.signal.aborted) {
      // The attempt timed out and already counts as failed: a late answer must change nothing.
      if (how === 'throw') call.gate.reject(new Error('late failure'));
      else call.gate.resolve(undefined);
      return;
    }
    if (how === 'throw') call.gate.reject(new Error('sink failed'));
    else if (how === 'unnamed') {
      call.gate.resolve({ success: 0, failed: call.items.length, errors: [], failedItems: [] });
    } else if (how === 'ok') {
      for (const id of call.items) mark(id, 'written');
      call.gate.resolve(undefined);
    } else {
      const failedItems = call.items.filter((_, i) => i % 2 === 0);
      for (const id of call.items) if (!failedItems.includes(id)) mark(id, 'written');
      call.gate.resolve({
        success: call.items.length - failedItems.length,
        failed: failedItems.length,
        errors: [],
        failedItems,
      });
    }
  };
  const drains: Promise<unknown>[] = [];
  for (const cmd of commands) {
    switch (cmd.kind) {
      case 'push':
        push();
        break;
      case 'offer':
        c.offer(next++);
        break;
      case 'pushAbortable': {
        const ac = new AbortController();
        aborters.push(ac);
        push(ac.signal);
        break;
      }
      case 'pushDurable': {
        if (cmd.abortable) {
          const ac = new AbortController();
          aborters.push(ac);
          pushDurable(ac.signal);
        } else pushDurable();
        break;
      }
      case 'abort':
        aborters.shift()?.abort(new Error('aborted by test'));
        break;
      case 'settleFlush':
        resolveCall(cmd.how);
        break;
      case 'advance':
        await clock.advanceAsync(cmd.ms);
        break;
      case 'drain':
        drains.push(c.drain());
        break;
      case 'start':
        c.start();
        break;
    }
    await settle();
    check();
  }
  // Wind down: stop, answering every flush (retries included) until none is left.
  const stopped = c.stop({ drain: stopDraining });
  for (let i = 0; i < 10_000; i++) {
    await settle();
    const open = calls.filter((x) => !x.gate.settled);
    if (open.length === 0) {
      await clock.advanceAsync(100);
      if (calls.every((x) => x.gate.settled)) break;
    }
    for (const _ of open) resolveCall('ok');
    check();
  }
  await stopped;
  await Promise.all([...pushes, ...drains]);
  check();
  const s = c.stats();
  expect(s.bufferSize + s.inFlight + s.blockedPushes).toBe(0);
  for (let id = 0; id < next; id++) {
    expect({ id, outcome: outcome.get(id) }).toEqual({ id, outcome: [expect.any(String)] });
  }
  for (const [id, settled] of acks) {
    expect({ id, settled: settled.length }).toEqual({ id, settled: 1 });
    const what = outcome.get(id)![0];
    const how = settled[0];
    if (what === 'written') expect(how).toBe('acked');
    else if (what === 'dead') expect(how).toMatchObject({ code: 'ERR_VALVE_FLUSH_FAILED' });
    else if (what === 'aborted') expect(how).toEqual(new Error('aborted by test'));
    else expect({ id, what, how }).toMatchObject({ id, what, how: { code: expect.stringMatching(/^ERR_VALVE_/) } });
  }
  const count = (what: string) => [...outcome.values()].filter((o) => o[0] === what).length;
  expect(count('written')).toBe(s.flushed);
  expect(count('dead')).toBe(s.deadLettered);
  expect(count('dropped')).toBe(s.dropped);
  expect(count('refused') + count('aborted')).toBe(s.refused);
  expect(count('aborted')).toBe(s.rejectedByReason.aborted);
  expect([s.completed, s.failed, s.queued, s.running]).toEqual([s.flushed, s.deadLettered, 0, 0]);
  expect(s.accepted).toBe(s.flushed + s.deadLettered + s.dropped);
  expect(clock.pendingTimers).toBe(0);
}

describe('accounting invariant (property)', () => {
  for (const strategy of STRATEGIES) {
    it(`every offered item is written, dead-lettered, dropped or refused exactly once: ${strategy}`, async () => {
      await fc.assert(
        fc.asyncProperty(
          fc.array(command, { maxLength: 40, size: 'max' }),
          fc.boolean(),
          fc.integer({ min: 0, max: 1 }),
          (commands, stopDraining, retries) => runModel(strategy, commands, stopDraining, retries),
        ),
        { numRuns: 80 },
      );
    });
  }
});
