import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { ManualClock } from '../../src/index.js';

describe('ManualClock', () => {
  it('starts at the given time and only moves when advanced', () => {
    const clock = new ManualClock(50);
    expect(clock.now()).toBe(50);
    clock.advance(25);
    expect(clock.now()).toBe(75);
    expect(() => new ManualClock(-1)).toThrow('start must be a finite number >= 0, got -1');
    expect(() => clock.advance(-1)).toThrow('ms must be a finite number >= 0, got -1');
  });

  it('fires due timers in time order, ties in the order they were set, with now() at their due time', () => {
    const clock = new ManualClock();
    const fired: string[] = [];
    const at = (name: string) => () => fired.push(`${name}@${clock.now()}`);
    clock.setTimeout(at('c'), 30);
    clock.setTimeout(at('a1'), 10);
    clock.setTimeout(at('b'), 20);
    clock.setTimeout(at('a2'), 10);
    clock.setTimeout(at('z'), 0);
    clock.advance(25);
    expect(fired).toEqual(['z@0', 'a1@10', 'a2@10', 'b@20']);
    expect(clock.now()).toBe(25);
    expect(clock.pendingTimers).toBe(1);
    clock.advance(5);
    expect(fired.at(-1)).toBe('c@30');
    expect(clock.pendingTimers).toBe(0);
  });

  it('treats a negative or NaN delay as 0 (a NaN due time used to corrupt the heap order)', () => {
    const clock = new ManualClock(10);
    const fired: string[] = [];
    clock.setTimeout(() => fired.push('neg'), -5);
    clock.setTimeout(() => fired.push('nan'), Number.NaN);
    clock.setTimeout(() => fired.push('five'), 5);
    clock.setTimeout(() => fired.push('one'), 1);
    clock.advance(0);
    expect(fired).toEqual(['neg', 'nan']);
    clock.advance(5);
    expect(fired).toEqual(['neg', 'nan', 'one', 'five']);
  });

  it('fires timers set by timers within the same advance when they fall due before its end', () => {
    const clock = new ManualClock();
    const fired: number[] = [];
    const tick = () => {
      fired.push(clock.now());
      if (fired.length < 10) clock.setTimeout(tick, 10);
    };
    clock.setTimeout(tick, 10);
    // A zero-delay timer set by a timer fires at that same instant, before later timers.
    clock.setTimeout(() => clock.setTimeout(() => fired.push(-clock.now()), 0), 15);
    clock.advance(45);
    expect(fired).toEqual([10, -15, 20, 30, 40]);
    expect(clock.pendingTimers).toBe(1);
  });

  it('clear() cancels, is idempotent, and is harmless after firing', () => {
    const clock = new ManualClock();
    let n = 0;
    const t = clock.setTimeout(() => n++, 10);
    const u = clock.setTimeout(() => n++, 10);
    expect(clock.pendingTimers).toBe(2);
    t.clear();
    t.clear();
    expect(clock.pendingTimers).toBe(1);
    clock.advance(10);
    expect(n).toBe(1);
    u.clear();
    expect(clock.pendingTimers).toBe(0);
  });

  it('a timer can clear a later timer that is due in the same advance', () => {
    const clock = new ManualClock();
    const fired: string[] = [];
    let later = clock.setTimeout(() => fired.push('later'), 20);
    clock.setTimeout(() => {
      fired.push('first');
      later.clear();
    }, 10);
    clock.advance(100);
    expect(fired).toEqual(['first']);
    later = clock.setTimeout(() => fired.push('again'), 1);
    clock.advance(1);
    expect(fired).toEqual(['first', 'again']);
  });

  it('counts refed timers (ref/unref are chainable and cleared timers do not count)', () => {
    const clock = new ManualClock();
    const a = clock.setTimeout(() => {}, 10).ref();
    const b = clock.setTimeout(() => {}, 10);
    expect(clock.refedTimers).toBe(1);
    expect(b.ref().unref()).toBe(b);
    expect(clock.refedTimers).toBe(1);
    a.clear();
    expect(clock.refedTimers).toBe(0);
    b.ref();
    clock.advance(10);
    expect(clock.refedTimers).toBe(0);
  });

  it('advanceAsync lets promise callbacks settle before each timer fires', async () => {
    const clock = new ManualClock();
    const log: string[] = [];
    // An async loop that waits on the clock, as a valve's retry or flush loop would.
    const loop = (async () => {
      for (let i = 0; i < 3; i++) {
        await new Promise<void>((resolve) => clock.setTimeout(resolve, 100));
        await Promise.resolve();
        log.push(`tick ${i} at ${clock.now()}`);
      }
    })();
    // Sync advance fires the first timer, but the loop only reacts after the advance returned,
    // so its next timer is set at 300, not at 100.
    clock.advance(300);
    expect(clock.pendingTimers).toBe(0);
    await clock.advanceAsync(0);
    expect(log).toEqual(['tick 0 at 300']);
    // advanceAsync lets the loop react at each firing, as real time would.
    await clock.advanceAsync(200);
    expect(log).toEqual(['tick 0 at 300', 'tick 1 at 400', 'tick 2 at 500']);
    await loop;
  });

  it('advanceAsync drives a chain of awaits in virtual time', async () => {
    const clock = new ManualClock();
    const sleep = (ms: number) => new Promise<void>((resolve) => clock.setTimeout(resolve, ms));
    const seen: number[] = [];
    const done = (async () => {
      for (let i = 0; i < 5; i++) {
        await sleep(10);
        seen.push(clock.now());
      }
    })();
    await clock.advanceAsync(50);
    expect(seen).toEqual([10, 20, 30, 40, 50]);
    await done;
  });

  it('runAllAsync fires everything, including timers set by timers, and catches runaway loops', async () => {
    const clock = new ManualClock();
    const fired: number[] = [];
    clock.setTimeout(() => {
      fired.push(clock.now());
      clock.setTimeout(() => fired.push(clock.now()), 1000);
    }, 5);
    await clock.runAllAsync();
    expect(fired).toEqual([5, 1005]);
    expect(clock.pendingTimers).toBe(0);

    const forever = () => clock.setTimeout(forever, 1);
    forever();
    await expect(clock.runAllAsync(50)).rejects.toThrow('runAllAsync: more than 50 timers fired');
  });

  it('property: timers fire exactly once, in (due, creation) order, at their due time', () => {
    const op = fc.oneof(
      fc.record({
        kind: fc.constant('set' as const),
        ms: fc.integer({ min: 0, max: 50 }),
        child: fc.option(fc.integer({ min: 0, max: 30 })),
      }),
      fc.record({ kind: fc.constant('advance' as const), ms: fc.integer({ min: 0, max: 40 }) }),
      fc.record({ kind: fc.constant('clear' as const), index: fc.nat() }),
    );
    fc.assert(
      fc.property(fc.array(op, { maxLength: 60, size: 'max' }), (ops) => {
        const clock = new ManualClock();
        interface Model {
          due: number;
          seq: number;
          cleared: boolean;
          firedAt: number[];
          timer: { clear(): void };
        }
        const all: Model[] = [];
        const order: Model[] = [];
        let seq = 0;
        const set = (ms: number, child: number | null) => {
          const m = { due: clock.now() + ms, seq: seq++, cleared: false, firedAt: [] as number[] } as Model;
          m.timer = clock.setTimeout(() => {
            m.firedAt.push(clock.now());
            order.push(m);
            if (child !== null) set(child, null);
          }, ms);
          all.push(m);
        };
        for (const o of ops) {
          if (o.kind === 'set') set(o.ms, o.child);
          else if (o.kind === 'advance') clock.advance(o.ms);
          else if (all.length > 0) {
            const m = all[o.index % all.length]!;
            if (m.firedAt.length === 0) m.cleared = true;
            m.timer.clear();
          }
        }
        // Fire timers set since the last advance that are already due (delay 0).
        clock.advance(0);
        const end = clock.now();
        for (const m of all) {
          const shouldFire = !m.cleared && m.due <= end;
          expect(m.firedAt).toEqual(shouldFire ? [m.due] : []);
        }
        for (let i = 1; i < order.length; i++) {
          const a = order[i - 1]!;
          const b = order[i]!;
          expect(a.due < b.due || (a.due === b.due && a.seq < b.seq)).toBe(true);
        }
        expect(clock.pendingTimers).toBe(all.filter((m) => !m.cleared && m.due > end).length);
      }),
    );
  });
});
