// Issue 17 item 3: the fair line and the keyed valve built on it settle every job exactly once.
// (1) FairLine alone against a multiset model: random pushes, takes (some put back), removals,
//     parks, unparks and evictions; no waiter lost or duplicated, `size`/`queued` always right,
//     a parked flow never taken, and each flow's waiters taken in their own order; half the runs
//     with CoDel per flow (its drops checked like takes: from an unparked flow's head, in order).
// (2) KeyedValve against a small model: random run() calls on a few keys and classes (some with a
//     signal or a deadline), job completions, aborts, clock steps (deadlines, bucket refills) and
//     close(), with and without perKey.codel. After every step: the global cap and each key's
//     share are never exceeded, the line is work-conserving (a free slot and a startable waiter
//     never coexist), the stats words hold; at the end every job settled exactly once.
// The command lists have a minimum length: fast-check's default size keeps arrays at about ten
// commands, too short for a flow to stand an interval (CoDel never dropped in the models).
import { ManualClock } from '@valve/core';
import { deferred, flush } from '@valve/testkit';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { FairFlow, FairLine, KeyedValve } from '../src/index.js';

interface Item {
  gone: boolean;
  flow: FairFlow;
  id: number;
  seq: number;
  enqueuedAt: number;
}

// Pushes, takes and clock steps weighted up, so flows stand long enough for CoDel to drop.
const lineCommand = fc.oneof(
  { arbitrary: fc.record({ op: fc.constant('push' as const), flow: fc.nat(3) }), weight: 4 },
  { arbitrary: fc.record({ op: fc.constant('take' as const), putBack: fc.boolean() }), weight: 3 },
  { arbitrary: fc.record({ op: fc.constant('remove' as const), pick: fc.nat(50) }), weight: 1 },
  { arbitrary: fc.record({ op: fc.constant('park' as const), flow: fc.nat(3) }), weight: 1 },
  { arbitrary: fc.record({ op: fc.constant('unpark' as const), flow: fc.nat(3) }), weight: 1 },
  { arbitrary: fc.record({ op: fc.constant('evict' as const) }), weight: 1 },
  { arbitrary: fc.record({ op: fc.constant('advance' as const), ms: fc.integer({ min: 1, max: 8 }) }), weight: 2 },
);

/** size 'max': the default size never generates more than 70 of the 120 (2 * minLength + 10). */
const lineCommands = fc.array(lineCommand, { minLength: 30, maxLength: 120, size: 'max' });

describe('FairLine model', () => {
  it('no waiter lost or duplicated; sizes exact; parked flows never served; per-flow FIFO (with and without CoDel per flow)', () => {
    let codelDrops = 0;
    fc.assert(
      fc.property(lineCommands, fc.boolean(), (commands, withCoDel) => {
        let now = 0;
        // CoDel's drops leave the line inside take(): checked like a take (from an unparked flow's head).
        const drop = (item: Item) => {
          codelDrops++;
          expect(inside.has(item)).toBe(true);
          expect(item.flow.parked).toBe(false);
          expect(item.seq).toBeGreaterThan(lastTaken.get(item.flow) ?? 0);
          lastTaken.set(item.flow, item.seq);
          inside.delete(item);
          out.add(item.id);
        };
        const line = new FairLine<Item>(
          withCoDel ? { targetMs: 2, intervalMs: 6, enqueuedAt: (i) => i.enqueuedAt, drop } : undefined,
        );
        const flows = [new FairFlow(), new FairFlow(), new FairFlow(2), new FairFlow()];
        const inside = new Set<Item>();
        const out = new Set<number>();
        const lastTaken = new Map<FairFlow, number>();
        let id = 0;
        for (const c of commands) {
          switch (c.op) {
            case 'push': {
              const item: Item = { gone: false, flow: flows[c.flow]!, id: id++, seq: id, enqueuedAt: now };
              line.push(item);
              inside.add(item);
              break;
            }
            case 'advance':
              now += c.ms;
              break;
            case 'take': {
              const item = line.take(now);
              if (item === undefined) {
                expect(line.size).toBe(0);
                break;
              }
              expect(inside.has(item)).toBe(true);
              expect(item.flow.parked).toBe(false);
              if (c.putBack) {
                line.putBack(item);
                break;
              }
              expect(item.seq).toBeGreaterThan(lastTaken.get(item.flow) ?? 0);
              lastTaken.set(item.flow, item.seq);
              inside.delete(item);
              expect(out.has(item.id)).toBe(false);
              out.add(item.id);
              break;
            }
            case 'remove': {
              const all = [...inside];
              if (all.length === 0) break;
              const item = all[c.pick % all.length]!;
              expect(line.remove(item)).toBe(true);
              expect(line.remove(item)).toBe(false);
              inside.delete(item);
              out.add(item.id);
              break;
            }
            case 'park':
              line.park(flows[c.flow]!);
              break;
            case 'unpark':
              line.unpark(flows[c.flow]!);
              break;
            case 'evict': {
              const item = line.evictNewest();
              if (item === undefined) {
                expect(inside.size).toBe(0);
                break;
              }
              expect(inside.has(item)).toBe(true);
              inside.delete(item);
              out.add(item.id);
              break;
            }
          }
          const startable = [...inside].filter((i) => !i.flow.parked).length;
          expect(line.size).toBe(startable);
          expect(line.queued).toBe(inside.size);
        }
        const rest = line.drain();
        expect(new Set(rest)).toEqual(inside);
        expect(rest.length).toBe(inside.size);
        expect(out.size + rest.length).toBe(id);
        expect(line.size).toBe(0);
        expect(line.queued).toBe(0);
      }),
      // size 'max': ~73 commands a run (default size: ~49, never past 70); 350 runs keep the total.
      { numRuns: 350 },
    );
    // The CoDel runs did drop (the model above checked each drop).
    expect(codelDrops).toBeGreaterThan(0);
  });
});

const valveCommand = fc.oneof(
  fc.record({
    op: fc.constant('run' as const),
    key: fc.nat(3),
    priority: fc.nat(1),
    signal: fc.boolean(),
    deadline: fc.option(fc.integer({ min: 0, max: 30 }), { nil: undefined }),
  }),
  fc.record({ op: fc.constant('finish' as const), pick: fc.nat(20), fail: fc.boolean() }),
  fc.record({ op: fc.constant('abort' as const), pick: fc.nat(20) }),
  fc.record({ op: fc.constant('advance' as const), ms: fc.integer({ min: 1, max: 25 }) }),
  fc.record({ op: fc.constant('close' as const) }),
);

interface ModelJob {
  key: number;
  started: boolean;
  settled: number;
  finish: (fail: boolean) => void;
  controller: AbortController | undefined;
}

describe('KeyedValve model', () => {
  it('caps and shares hold, work is conserved, every job settles exactly once', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(valveCommand, { minLength: 20, maxLength: 60, size: 'max' }),
        fc.integer({ min: 1, max: 3 }),
        fc.constantFrom(1, 2, Number.POSITIVE_INFINITY),
        fc.boolean(),
        async (commands, cap, share, codel) => {
          const clock = new ManualClock();
          const valve = new KeyedValve({
            concurrency: cap,
            size: 4,
            clock,
            perKey: {
              concurrency: share,
              hz: 10,
              rate: 1,
              tokenLimit: 3,
              ...(codel ? { codel: { targetMs: 2, intervalMs: 10 } } : {}),
            },
            priorities: [{}, { deadlineMs: 40 }],
            maxKeys: 3,
            idleMs: 20,
          });
          const jobs: ModelJob[] = [];
          const running = new Map<number, number>();
          const check = () => {
            const s = valve.stats();
            let total = 0;
            for (const [k, n] of running) {
              expect(n).toBeLessThanOrEqual(share);
              // Without a share the fast path does not count a key's running jobs.
              if (share !== Number.POSITIVE_INFINITY) expect(valve.keyStats(String(k))?.running ?? 0).toBe(n);
              total += n;
            }
            expect(s.running).toBe(total);
            expect(total).toBeLessThanOrEqual(cap);
            expect(s.admitted).toBe(s.running + s.completed + s.failed);
            expect(s.rejected + s.queued + s.admitted).toBe(jobs.length);
            // Work conserving: with a free global slot, no key below its share may have a waiter.
            if (!s.closed && s.running < cap) {
              for (let k = 0; k < 4; k++) {
                const ks = valve.keyStats(String(k));
                if (ks !== undefined && ks.queued > 0)
                  expect(ks.running).toBe(share === Number.POSITIVE_INFINITY ? undefined : share);
              }
            }
          };
          for (const c of commands) {
            switch (c.op) {
              case 'run': {
                const gate = deferred<string>();
                const controller = c.signal ? new AbortController() : undefined;
                const job: ModelJob = {
                  key: c.key,
                  started: false,
                  settled: 0,
                  finish: (fail) => (fail ? gate.reject(new Error('job failed')) : gate.resolve('ok')),
                  controller,
                };
                jobs.push(job);
                valve
                  .run(
                    String(c.key),
                    () => {
                      expect(job.started).toBe(false);
                      job.started = true;
                      running.set(c.key, (running.get(c.key) ?? 0) + 1);
                      return gate.promise.finally(() => running.set(c.key, running.get(c.key)! - 1));
                    },
                    { priority: c.priority, signal: controller?.signal, deadlineMs: c.deadline },
                  )
                  .then(
                    () => job.settled++,
                    () => job.settled++,
                  );
                break;
              }
              case 'finish': {
                const live = jobs.filter((j) => j.started && j.settled === 0);
                if (live.length > 0) live[c.pick % live.length]!.finish(c.fail);
                break;
              }
              case 'abort': {
                const waiting = jobs.filter((j) => !j.started && j.settled === 0 && j.controller !== undefined);
                if (waiting.length > 0) waiting[c.pick % waiting.length]!.controller!.abort(new Error('aborted'));
                break;
              }
              case 'advance':
                await clock.advanceAsync(c.ms);
                break;
              case 'close':
                void valve.close();
                break;
            }
            await flush();
            check();
          }
          const closed = valve.close();
          for (const j of jobs) if (j.started) j.finish(false);
          await closed;
          await flush();
          for (const j of jobs) expect(j.settled).toBe(1);
          expect(valve.stats().queued).toBe(0);
          expect(valve.stats().running).toBe(0);
        },
      ),
      // size 'max': ~39 commands a run (default size: ~34, never past 50); 270 runs keep the total.
      { numRuns: 270 },
    );
  });
});
