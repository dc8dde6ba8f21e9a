// A key's CoDel state (perKey.codel, FQ-CoDel) was dropped with its flow whenever the key's queue
// emptied (`left()` set `ks.flows = undefined`), so an on/off heavy key restarted CoDel at count 1
// on every burst and was never escalated. FQ-CoDel (RFC 8290) keeps a flow's state across the flow
// going empty; CoDel's restart rule (CoDel.ts, the ACM rule: re-entering the dropping state within
// an interval of the last drop-next time resumes at count - 2) needs that memory. The state now
// stays beside the key (the valve's WeakMap) while the key is in the table, and goes with it.
import { isValveError, ManualClock } from '@valve/core';
import { describe, expect, it } from 'vitest';
import { KeyedValve, SafetyValve } from '../../src/index.js';
import type { CoDel } from '../../src/CoDel.js';
import type { KeyState, KeyTable } from '../../src/KeyTable.js';

/** White box: the valve's key table and the CoDel states it keeps for idle keys. */
function inside(valve: KeyedValve) {
  const v = valve as unknown as { table: KeyTable; codelKept: WeakMap<KeyState, (CoDel | undefined)[]> };
  return { ks: (key: string) => v.table.peek(key)!, kept: (ks: KeyState) => v.codelKept.get(ks) };
}

/** One slot, jobs of 20 ms on the clock, CoDel per key with target 5 ms and interval 100 ms. */
function setup(idleMs = 60_000) {
  const clock = new ManualClock();
  const valve = new KeyedValve({
    concurrency: 1,
    size: 1000,
    clock,
    idleMs,
    perKey: { codel: { targetMs: 5, intervalMs: 100 } },
  });
  const drops: string[] = [];
  const burst = (key: string, tag: string, n: number) => {
    for (let i = 0; i < n; i++) {
      valve
        .run(key, () => new Promise<void>((resolve) => clock.setTimeout(resolve, 20)))
        .catch((e: unknown) => drops.push(`${tag}${i}@${clock.now()}:${isValveError(e) ? e.reason : String(e)}`));
    }
  };
  return { clock, valve, drops, burst, ...inside(valve) };
}

describe('KeyedValve perKey.codel keeps a key’s CoDel state across its queue emptying', () => {
  it("a burst after a short idle gap is dropped on CoDel's escalated schedule (count resumed)", async () => {
    const { clock, valve, drops, burst } = setup();
    // Burst 1: 26 jobs at t = 0. Job 0 starts at once, the rest stand; the sojourn is above target
    // from t = 20, so CoDel enters dropping at 120 and drops at 120, 220, 300, 360 and 400
    // (count 5, drop-next 400 + 100/sqrt(5) = 444.7). Job 25 is taken at 400: the queue is empty.
    burst('h', 'a', 26);
    await clock.advanceAsync(400);
    expect(drops).toEqual(['a6@120', 'a12@220', 'a17@300', 'a21@360', 'a24@400'].map((d) => `${d}:overload`));
    expect(valve.keyStats('h')?.queued).toBe(0);
    // Burst 2 after 10 ms with nothing queued: 16 jobs at 410. Job 0 waits for the slot (free at
    // 420, sojourn 10 >= target): first above at 420, droppable from 520 = 420 + interval. CoDel
    // re-enters dropping at 520, 75.3 ms after drop-next (< interval) with count 5 > 2: count
    // resumes at 3, so drops follow at 520 + 100/sqrt(3) = 577.7 (taken at 580) and + 100/sqrt(4)
    // = 627.7 (taken at 640). A state started afresh enters at count 1 and drops at 520 and 620.
    await clock.advanceAsync(10);
    burst('h', 'b', 16);
    await clock.advanceAsync(400);
    expect(drops.slice(5)).toEqual(['b5@520', 'b9@580', 'b13@640'].map((d) => `${d}:overload`));
    expect(valve.stats()).toMatchObject({ codelDrops: 8, rejected: 8, rejectedByReason: { overload: 8 } });
    await valve.close();
  });

  it('a state that remembers nothing is not kept, and an evicted key’s state is gone with it', async () => {
    const { clock, valve, burst, ks, kept } = setup(100);
    // 'light' queues two jobs behind its first: they wait above target, but not for an interval,
    // so its CoDel never dropped and its state, once the queue empties, is a new one's.
    burst('light', 'l', 3);
    await clock.advanceAsync(60);
    expect(ks('light').flows).toBeUndefined();
    expect(kept(ks('light'))).toBeUndefined();
    // 'h' is escalated (count 5) and goes idle: its state stays on the key.
    burst('h', 'a', 26);
    await clock.advanceAsync(420);
    const held = ks('h');
    expect(held.queued).toBe(0);
    expect(held.flows).toBeUndefined();
    expect(kept(held)?.[0]?.state).toMatchObject({ dropping: false, firstAboveTime: 0, count: 5 });
    // Idle for idleMs (and a tick): the key is evicted with its state; a new 'h' starts afresh.
    await clock.advanceAsync(200);
    expect(valve.stats()).toMatchObject({ keys: 0, evictedKeys: 2 });
    burst('h', 'c', 1);
    const fresh = ks('h');
    expect(fresh).not.toBe(held);
    expect(kept(fresh)).toBeUndefined();
    await clock.advanceAsync(20);
    await valve.close();
  });
});

describe('KeyedValve perKey.codel with priority classes', () => {
  it("keeps each class's state apart: the escalated class's state stays, the other class holds none", async () => {
    const clock = new ManualClock();
    const valve = new KeyedValve({
      concurrency: 1,
      size: 1000,
      clock,
      priorities: [{}, {}],
      perKey: { codel: { targetMs: 5, intervalMs: 100 } },
    });
    const job = () => new Promise<void>((resolve) => clock.setTimeout(resolve, 20));
    const settled: Promise<unknown>[] = [];
    // Class 1 stands and is escalated as burst 1 above; class 0 queues 2 jobs it serves last.
    for (let i = 0; i < 26; i++) settled.push(valve.run('h', job, { priority: 1 }).catch(() => {}));
    for (let i = 0; i < 2; i++) settled.push(valve.run('h', job, { priority: 0 }).catch(() => {}));
    await clock.advanceAsync(1000);
    await Promise.all(settled);
    const { ks, kept } = inside(valve);
    expect(ks('h').flows).toBeUndefined();
    const states = kept(ks('h'))!;
    expect(states).toHaveLength(2);
    expect(states[0]).toBeUndefined();
    expect(states[1]!.state).toMatchObject({ dropping: false, firstAboveTime: 0 });
    expect(states[1]!.state.count).toBeGreaterThan(2);
    expect(valve.stats().codelDrops).toBe(valve.stats().rejectedByReason.overload);
    await valve.close();
  });
});

describe('CoDel learns that the queue ran empty (both valves)', () => {
  it("a burst long after a drained queue is dropped only after standing an interval, as in SafetyValve's 'codel'", async () => {
    // Burst 1 leaves CoDel in its dropping state when the queue drains (job 25 is taken at 400 as
    // the head after a drop). The valves never dequeue an empty queue, so before this fix
    // SafetyValve's CoDel stayed dropping with a stale drop-next: a burst 5 s later lost all its
    // queued jobs at its first take (b1..b15 at 5020). Now the empty queue ends the dropping state:
    // first above at 5020, droppable from 5120, count 1 (drop-next long past), then 5220.
    const runs: Record<string, string[]> = {};
    const counted: Record<string, number> = {};
    for (const kind of ['safety', 'keyed'] as const) {
      const clock = new ManualClock();
      const valve =
        kind === 'safety'
          ? new SafetyValve({ size: 1000, concurrency: 1, queue: 'codel', clock })
          : new KeyedValve({ size: 1000, concurrency: 1, clock, perKey: { codel: {} } });
      const drops: string[] = [];
      const run = (fn: () => Promise<void>) => (valve instanceof SafetyValve ? valve.run(fn) : valve.run('k', fn));
      const burst = (tag: string, n: number) => {
        for (let i = 0; i < n; i++) {
          run(() => new Promise<void>((resolve) => clock.setTimeout(resolve, 20))).catch(() =>
            drops.push(`${tag}${i}@${clock.now()}`),
          );
        }
      };
      burst('a', 26);
      await clock.advanceAsync(5000);
      burst('b', 16);
      await clock.advanceAsync(1000);
      runs[kind] = drops;
      counted[kind] = valve.stats().codelDrops;
      await valve.close();
    }
    expect(runs.safety).toEqual(['a6@120', 'a12@220', 'a17@300', 'a21@360', 'a24@400', 'b6@5120', 'b12@5220']);
    expect(runs.keyed).toEqual(runs.safety);
    expect(counted).toEqual({ safety: 7, keyed: 7 });
  });
});
