// CoDel per flow in the fair line (FQ-CoDel, RFC 8290): each key's flow keeps its own CoDel state
// (first-above time, drop-next, count) and is dropped from at its head, at dequeue, on SafetyValve's
// control law (CoDel.ts); a flow whose waiters do not stand is never dropped from.
import { isValveError, ManualClock, MetricsRegistry } from '@valve/core';
import { deferred } from '@valve/testkit';
import { describe, expect, it } from 'vitest';
import { CoDel, FairFlow, FairLine, KeyedValve, PriorityClasses, SafetyValve } from '../src/index.js';

interface Item {
  gone: boolean;
  flow: FairFlow;
  name: string;
  priority: number;
  enqueuedAt: number;
}

function lineWithCoDel(dropped: Item[], targetMs = 5, intervalMs = 100) {
  return new FairLine<Item>({
    targetMs,
    intervalMs,
    enqueuedAt: (i) => i.enqueuedAt,
    drop: (i) => dropped.push(i),
  });
}

function push(line: { push(i: Item): void }, flow: FairFlow, name: string, at: number, priority = 0): Item {
  const item = { gone: false, flow, name, priority, enqueuedAt: at };
  line.push(item);
  return item;
}

describe('FairLine with CoDel per flow: the control law', () => {
  it("drops from a standing flow's head at CoDel's times, with that flow's own state; the other flow is untouched", () => {
    const dropped: Item[] = [];
    const line = lineWithCoDel(dropped);
    expect(line.timed).toBe(true);
    const heavy = new FairFlow();
    const light = new FairFlow();
    // The heavy flow's 40 waiters all queued at t = 0: a standing queue.
    for (let i = 0; i < 40; i++) push(line, heavy, `h${i}`, 0);
    // The reference: SafetyValve's CoDel fed the same heads at the same times.
    const reference = new CoDel(5, 100);
    const refQueue = Array.from({ length: 40 }, (_, i) => i);
    const refDropped: number[] = [];
    const refSource = { shift: () => refQueue.shift(), enqueuedAt: () => 0 };
    const times = [5, 104, 105, 150, 205, 230, 276, 277, 330, 400];
    const lightTaken: string[] = [];
    for (const now of times) {
      // A light waiter arrives 1 ms before each take (it never waits >= target); the two takes
      // serve it and the heavy flow's head, whose fate CoDel decides.
      push(line, light, `l${now}`, now - 1);
      const got = [line.take(now), line.take(now)];
      const l = got.find((i) => i?.flow === light);
      const h = got.find((i) => i?.flow === heavy);
      expect(l?.name).toBe(`l${now}`);
      lightTaken.push(l!.name);
      const want = reference.dequeue(now, refSource, (i) => refDropped.push(i));
      expect(h?.name).toBe(`h${want}`);
      expect(heavy.codel!.state).toEqual(reference.state);
      expect(dropped.map((d) => d.name)).toEqual(refDropped.map((i) => `h${i}`));
    }
    // Entered dropping at 105 (first above at 5 + interval), then dropNext = 205, 205 + 100/sqrt(2), ...
    expect(heavy.codel!.state.dropping).toBe(true);
    expect(heavy.codel!.state.count).toBeGreaterThanOrEqual(4);
    expect(dropped.length).toBe(heavy.codel!.state.count);
    expect(dropped.every((d) => d.flow === heavy)).toBe(true);
    // The light flow's own state never left "below target".
    expect(light.codel?.state ?? { firstAboveTime: 0, dropping: false }).toMatchObject({
      firstAboveTime: 0,
      dropping: false,
    });
    expect(lightTaken).toHaveLength(times.length);
    expect(line.size).toBe(40 - times.length - dropped.length);
  });

  it('a flow CoDel empties leaves the round and the next flow is served in the same take', () => {
    const dropped: Item[] = [];
    const line = lineWithCoDel(dropped, 5, 10);
    const a = new FairFlow();
    const b = new FairFlow();
    push(line, a, 'a0', 0);
    push(line, a, 'a1', 0);
    push(line, a, 'a2', 0);
    expect(line.take(6)?.name).toBe('a0'); // first above: 16
    push(line, b, 'b0', 20);
    // At 20 b0 is served first (new flow); at 21 a's turn: a1 is droppable, dropped, then a2 too
    // only once dropNext (31) passes; here a2 is served.
    expect(line.take(20)?.name).toBe('b0');
    expect(line.take(21)?.name).toBe('a2');
    expect(dropped.map((d) => d.name)).toEqual(['a1']);
    // a ran empty at 21: its dropping state ended (CoDel saw the empty queue). Standing again from
    // 22, it must stand an interval before a drop: x0 is served at 30 (first above: 40), at 40 CoDel
    // re-enters dropping (drops x1, serves x2; dropNext 50).
    for (let i = 0; i < 4; i++) push(line, a, `x${i}`, 22);
    expect(line.take(30)?.name).toBe('x0');
    expect(line.take(40)?.name).toBe('x2');
    expect(dropped.map((d) => d.name)).toEqual(['a1', 'x1']);
    // b gets its new-flow turn, then a turn in the round (a's turn was over: it goes behind b).
    for (let i = 1; i <= 3; i++) push(line, b, `b${i}`, 41);
    expect(line.take(41)?.name).toBe('b1');
    expect(line.take(100)?.name).toBe('b2');
    // At 101 a's turn: CoDel, dropping since 40, drops its last waiter (x3: now >= dropNext), a
    // leaves the round and b3 is served in the same take.
    expect(line.take(101)?.name).toBe('b3');
    expect(dropped.map((d) => d.name)).toEqual(['a1', 'x1', 'x3']);
    expect(a.codel!.state).toEqual({ dropping: false, firstAboveTime: 0, count: 1, dropNext: 50 });
    // Every waiter is accounted for: 8 taken, 3 dropped, none queued.
    expect(line.size).toBe(0);
  });

  it('charges the waiter CoDel returns before a flow left empty forgets its credit', () => {
    const dropped: Item[] = [];
    const line = lineWithCoDel(dropped);
    const f = new FairFlow();
    push(line, f, 'f0', 0);
    expect(line.take(1)?.name).toBe('f0');
    expect(f.deficit).toBe(0);
  });

  it('PriorityClasses passes the time to each class and gives each class its own flows', () => {
    const dropped: Item[] = [];
    const classes = new PriorityClasses<Item>(2, {
      targetMs: 5,
      intervalMs: 100,
      enqueuedAt: (i) => i.enqueuedAt,
      drop: (i) => dropped.push(i),
    });
    expect(classes.timed).toBe(true);
    const low = new FairFlow();
    for (let i = 0; i < 10; i++) push(classes, low, `l${i}`, 0, 0);
    expect(classes.take(5)?.name).toBe('l0');
    expect(classes.take(105)?.name).toBe('l2');
    expect(dropped.map((d) => d.name)).toEqual(['l1']);
    expect(new PriorityClasses<Item>(2).timed).toBe(false);
    expect(new FairLine<Item>().timed).toBe(false);
  });
});

describe('KeyedValve perKey.codel', () => {
  /** 30 jobs offered at once, one slot, each job 20 ms: a standing queue CoDel drops from. */
  async function standing(run: (fn: () => Promise<void>) => Promise<unknown>, clock: ManualClock) {
    const errors: unknown[] = [];
    const outcomes: string[] = [];
    for (let i = 0; i < 30; i++) {
      run(() => new Promise<void>((resolve) => clock.setTimeout(resolve, 20))).then(
        () => outcomes.push(`ok${i}`),
        (e: unknown) => {
          errors.push(e);
          outcomes.push(`${isValveError(e) ? e.reason : String(e)}${i}`);
        },
      );
    }
    await clock.runAllAsync();
    return { errors, outcomes };
  }

  it("one key with CoDel drops exactly what SafetyValve's 'codel' drops, with the same error, counted the same way", async () => {
    const clock = new ManualClock();
    const metrics = new MetricsRegistry();
    const valve = new KeyedValve({
      name: 'api',
      concurrency: 1,
      size: 100,
      clock,
      metrics,
      perKey: { codel: { targetMs: 5, intervalMs: 100 } },
    });
    const keyed = await standing((fn) => valve.run('heavy', fn), clock);
    const svClock = new ManualClock();
    const sv = new SafetyValve({ size: 100, concurrency: 1, queue: 'codel', clock: svClock });
    const plain = await standing((fn) => sv.run(fn), svClock);
    await sv.close();
    expect(keyed.errors.length).toBeGreaterThan(5);
    expect(keyed.outcomes).toEqual(plain.outcomes);
    for (const [i, e] of keyed.errors.entries()) {
      const p = plain.errors[i] as Error & { reason: string; code: string };
      expect(e).toMatchObject({ name: p.name, reason: 'overload', code: p.code });
      expect(p.code).toBe('ERR_VALVE_DROPPED');
    }
    const drops = keyed.errors.length;
    expect(valve.stats().rejectedByReason.overload).toBe(drops);
    expect(valve.stats().rejected).toBe(drops);
    expect(metrics.toPrometheus()).toContain(`valve_safety_rejected_total{reason="overload",valve="api"} ${drops}`);
    await valve.close();
  });

  it('no CoDel without the option: a standing queue is only bounded by size and deadlines', async () => {
    const clock = new ManualClock();
    const valve = new KeyedValve({ concurrency: 1, size: 100, clock });
    const gate = deferred<void>();
    const running = valve.run('k', () => gate.promise);
    const waiting = Array.from({ length: 5 }, () => valve.run('k', () => 1));
    await clock.advanceAsync(10_000);
    gate.resolve();
    await running;
    await expect(Promise.all(waiting)).resolves.toEqual([1, 1, 1, 1, 1]);
    await valve.close();
  });

  it('validates perKey.codel at construction', () => {
    const base = { concurrency: 1, size: 1 };
    expect(() => new KeyedValve({ ...base, perKey: { codel: 5 as never } })).toThrow(TypeError);
    expect(() => new KeyedValve({ ...base, perKey: { codel: { target: 5 } as never } })).toThrow(
      /perKey.codel.target is not a known option/,
    );
    expect(() => new KeyedValve({ ...base, perKey: { codel: { targetMs: 0 } } })).toThrow(
      new RangeError('perKey.codel.targetMs must be a finite number > 0, got 0'),
    );
    expect(() => new KeyedValve({ ...base, perKey: { codel: { intervalMs: -1 } } })).toThrow(
      new RangeError('perKey.codel.intervalMs must be a finite number > 0, got -1'),
    );
    expect(() => new KeyedValve({ ...base, perKey: { codel: { targetMs: 200 } } })).toThrow(
      new RangeError(
        'perKey.codel.targetMs must be <= perKey.codel.intervalMs (safetyvalve refuses a target above the interval), got targetMs 200 and intervalMs 100',
      ),
    );
    const ok = new KeyedValve({ ...base, perKey: { codel: {} } });
    void ok.close();
  });
});
