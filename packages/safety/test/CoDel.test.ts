// CoDel entering, continuing and leaving the dropping state at the exact times of sv_codel.erl.
import { ManualClock } from '@valve/core';
import { flush, track } from '@valve/testkit';
import { describe, expect, it } from 'vitest';
import { CoDel, type CoDelSource, SafetyValve } from '../src/index.js';
import { gated } from './helpers.js';

/** A plain queue of enqueue times. */
function source(times: number[]): CoDelSource<number> & { items: number[] } {
  const items = [...times];
  return { items, shift: () => items.shift(), enqueuedAt: (t) => t };
}

describe('CoDel (sv_codel.erl)', () => {
  it('does not drop below target, and resets firstAboveTime', () => {
    const codel = new CoDel(5, 100);
    const q = source([0, 1]);
    expect(codel.dequeue(4, q, () => expect.unreachable())).toBe(0);
    expect(codel.state.firstAboveTime).toBe(0);
  });

  it('enters dropping once the sojourn stayed >= target for a whole interval, then follows the control law', () => {
    const codel = new CoDel(5, 100);
    const q = source(Array.from({ length: 20 }, () => 0));
    const dropped: number[] = [];
    const drop = (t: number) => dropped.push(t);
    // t = 5: sojourn 5 >= target: firstAboveTime = 105, no drop.
    expect(codel.dequeue(5, q, drop)).toBe(0);
    expect(codel.state).toEqual({ dropping: false, dropNext: 0, firstAboveTime: 105, count: 0 });
    // t = 104: still inside the interval.
    codel.dequeue(104, q, drop);
    expect(dropped).toHaveLength(0);
    // t = 105: drop one, enter dropping with count 1, dropNext = 105 + 100/sqrt(1); the next head is served.
    expect(codel.dequeue(105, q, drop)).toBe(0);
    expect(dropped).toHaveLength(1);
    expect(codel.state).toEqual({ dropping: true, dropNext: 205, firstAboveTime: 105, count: 1 });
    // Before dropNext: served without dropping.
    codel.dequeue(204, q, drop);
    expect(dropped).toHaveLength(1);
    // At dropNext: drop, count 2, dropNext += 100/sqrt(2).
    codel.dequeue(205, q, drop);
    expect(dropped).toHaveLength(2);
    expect(codel.state.count).toBe(2);
    expect(codel.state.dropNext).toBeCloseTo(205 + 100 / Math.SQRT2, 9);
    // Far past dropNext: drops in a loop until dropNext is in the future again.
    const before = dropped.length;
    codel.dequeue(400, q, drop);
    const s = codel.state;
    expect(s.dropNext).toBeGreaterThan(400);
    let dn = 205 + 100 / Math.SQRT2;
    let count = 2;
    while (dn <= 400) {
      count++;
      dn += 100 / Math.sqrt(count);
    }
    expect(s.count).toBe(count);
    expect(s.dropNext).toBeCloseTo(dn, 9);
    expect(dropped.length - before).toBe(count - 2 + 0);
  });

  it('leaves dropping when the sojourn falls below target, and restarts at count - 2 when re-entering soon', () => {
    const codel = new CoDel(5, 100);
    const dropped: number[] = [];
    const drop = (t: number) => dropped.push(t);
    const q = source(Array.from({ length: 20 }, () => 0));
    codel.dequeue(5, q, drop); // firstAboveTime = 105
    codel.dequeue(105, q, drop); // enter: drop 1, count 1, dropNext 205
    codel.dequeue(205, q, drop); // count 2, dropNext 205 + 70.7 = 275.7
    codel.dequeue(276, q, drop); // count 3, dropNext 275.7 + 57.7 = 333.4
    codel.dequeue(334, q, drop); // count 4, dropNext 333.4 + 50 = 383.4
    expect(codel.state.count).toBe(4);
    const dropNext = codel.state.dropNext;
    expect(dropNext).toBeCloseTo(205 + 100 / Math.sqrt(2) + 100 / Math.sqrt(3) + 50, 9);
    // A fresh job (sojourn < target) ends the dropping state.
    q.items.length = 0;
    q.items.push(340);
    expect(codel.dequeue(341, q, drop)).toBe(340);
    expect(codel.state).toMatchObject({ dropping: false, firstAboveTime: 0, count: 4 });
    // Re-entering less than an interval after dropNext: count 4 - 2 = 2 (the ACM restart rule).
    q.items.push(300, 300, 300);
    codel.dequeue(360, q, drop); // sojourn 60: firstAboveTime = 460
    codel.dequeue(460, q, drop); // droppable; 460 - 383.4 < 100 and count > 2
    expect(codel.state.dropping).toBe(true);
    expect(codel.state.count).toBe(2);
    expect(codel.state.dropNext).toBeCloseTo(460 + 100 / Math.SQRT2, 9);
  });

  it('re-entering long after the last drop restarts at count 1', () => {
    const codel = new CoDel(5, 100);
    const q = source(Array.from({ length: 20 }, () => 0));
    const drop = () => {};
    codel.dequeue(5, q, drop);
    codel.dequeue(105, q, drop);
    codel.dequeue(205, q, drop);
    codel.dequeue(276, q, drop);
    expect(codel.state.count).toBe(3);
    q.items.length = 0;
    q.items.push(1000);
    codel.dequeue(1001, q, drop); // leaves dropping
    q.items.push(1000, 1000, 1000);
    codel.dequeue(1100, q, drop);
    codel.dequeue(1200, q, drop); // 1200 - dropNext >= 100
    expect(codel.state).toMatchObject({ dropping: true, count: 1, dropNext: 1300 });
  });

  it('emptied() is what a dequeue of the empty queue does: dropping ends, count and dropNext stay', () => {
    const a = new CoDel(5, 100);
    const b = new CoDel(5, 100);
    const qa = source(Array.from({ length: 20 }, () => 0));
    const qb = source(Array.from({ length: 20 }, () => 0));
    for (const now of [5, 105, 205, 276]) {
      a.dequeue(now, qa, () => {});
      b.dequeue(now, qb, () => {});
    }
    expect(a.state).toMatchObject({ dropping: true, count: 3 });
    expect(a.remembers).toBe(true);
    qa.items.length = 0;
    expect(a.dequeue(300, qa, () => expect.unreachable())).toBeUndefined();
    b.emptied();
    expect(b.state).toEqual(a.state);
    expect(b.state).toMatchObject({ dropping: false, firstAboveTime: 0, count: 3 });
    // Count 3 is what the restart rule resumes from; count <= 2 would act as a new CoDel.
    expect(b.remembers).toBe(true);
    const fresh = new CoDel(5, 100);
    expect(fresh.remembers).toBe(false);
    fresh.dequeue(10, source([0, 0]), () => {});
    expect(fresh.remembers).toBe(true); // firstAboveTime set
    fresh.emptied();
    expect(fresh.remembers).toBe(false);
  });

  it('an empty queue resets firstAboveTime', () => {
    const codel = new CoDel(5, 100);
    const q = source([0]);
    codel.dequeue(10, q, () => {});
    expect(codel.state.firstAboveTime).toBe(110);
    expect(codel.dequeue(20, q, () => {})).toBeUndefined();
    expect(codel.state.firstAboveTime).toBe(0);
  });
});

describe("queue: 'codel' in a valve", () => {
  it('runs only at dequeue; dropped jobs never run and reject with overload', async () => {
    const clock = new ManualClock();
    const valve = new SafetyValve({ size: 100, concurrency: 1, queue: 'codel', clock });
    const log: string[] = [];
    const holder = gated(log, 'H');
    void valve.run(holder.fn);
    const jobs = Array.from({ length: 6 }, (_, i) => gated(log, String(i)));
    const runs = jobs.map((j) => track(valve.run(j.fn)));
    // Nothing is dropped while nothing dequeues, however long the wait.
    await clock.advanceAsync(500);
    expect(valve.stats().rejectedByReason.overload).toBe(0);
    // First dequeue at t = 500: sojourn 500 >= 5 sets firstAboveTime = 600; job 0 starts.
    holder.finish();
    await flush();
    expect(log).toEqual(['H', '0']);
    await clock.advanceAsync(100); // t = 600
    jobs[0]!.finish();
    await flush();
    // Job 1 is dropped (entering the dropping state), job 2 is served.
    expect(runs[1]!.state).toBe('rejected');
    expect(runs[1]!.error).toMatchObject({ reason: 'overload', code: 'ERR_VALVE_DROPPED' });
    expect(log).toEqual(['H', '0', '2']);
    expect(valve.stats()).toMatchObject({ dropping: true, queued: 3 });
    valve.close();
    for (const j of jobs) j.finish();
    await flush();
    for (const r of runs) expect(r.settleCount).toBe(1);
    expect(runs.slice(3).map((r) => (r.error as { reason?: string }).reason)).toEqual([
      'shutdown',
      'shutdown',
      'shutdown',
    ]);
  });
});
