// KeyedValve (issue 17 item 2): per-key buckets and shares under one global cap, the bounded key
// table with idle eviction on the clock, priority classes, metrics without a key label, option
// checks, and the Valve contract.
import { ManualClock, MetricsRegistry, REASONS } from '@valve/core';
import { deferred, flush, newUntyped, track, valveContract } from '@valve/testkit';
import { describe, expect, it } from 'vitest';
import { KeyedValve } from '../src/index.js';

/** 5 slots, 5 waiting, idleMs 100, each key's bucket 1 token a second, at most `tokenLimit`. */
function bucketsValve(maxKeys: number, tokenLimit: number): { clock: ManualClock; valve: KeyedValve } {
  const clock = new ManualClock();
  const perKey = { hz: 1000, rate: 1, tokenLimit };
  return { clock, valve: new KeyedValve({ concurrency: 5, size: 5, clock, idleMs: 100, maxKeys, perKey }) };
}

valveContract<KeyedValve, MetricsRegistry>('KeyedValve', {
  reasons: REASONS,
  create: (name, metrics = new MetricsRegistry()) => ({
    valve: new KeyedValve({ name, metrics, concurrency: 1, size: 1, clock: new ManualClock() }),
    metrics,
  }),
  work: async (valve) => {
    const gate = deferred<string>();
    const ok = valve.run('a', () => gate.promise);
    const bad = valve.run('a', () => Promise.reject(new Error('no')));
    await expect(valve.run('a', () => 3)).rejects.toMatchObject({ reason: 'queue_full' });
    gate.resolve('a');
    await ok;
    await expect(bad).rejects.toThrow('no');
    return { offered: 3, rejected: 1, completed: 1, failed: 1 };
  },
  badOptions: [
    { option: 'size', construct: () => new KeyedValve({ concurrency: 1, size: -1 }) },
    { option: 'concurrency', construct: () => new KeyedValve({ concurrency: 0, size: 1 }) },
    { option: 'maxKeys', construct: () => new KeyedValve({ concurrency: 1, size: 1, maxKeys: 0 }) },
    { option: 'metrics', construct: () => new KeyedValve({ concurrency: 1, size: 1, metrics: {} as never }) },
    { option: 'clock', construct: () => new KeyedValve({ concurrency: 1, size: 1, clock: 5 as never }) },
    { option: 'sizee', construct: () => new KeyedValve({ concurrency: 1, size: 1, sizee: 1 } as never) },
  ],
  unknownOptions: [
    { call: 'new KeyedValve(options)', with: (o) => new KeyedValve({ concurrency: 1, size: 1, ...o }) },
    {
      call: 'new KeyedValve({ perKey })',
      with: (o) => new KeyedValve({ concurrency: 1, size: 1, perKey: { concurrency: 1, ...o } }),
    },
    { call: 'run(key, fn, options)', with: (o) => new KeyedValve({ concurrency: 1, size: 1 }).run('k', () => 1, o) },
  ],
  extraArguments: [
    {
      call: 'new KeyedValve(options, extra)',
      with: (extra) => newUntyped(KeyedValve, { concurrency: 1, size: 1 }, extra),
    },
  ],
});

describe('KeyedValve', () => {
  it('each key has its own bucket: an empty one refuses that key only, with rate_limited, and refills on the clock', async () => {
    const clock = new ManualClock();
    const valve = new KeyedValve({ concurrency: 10, size: 10, clock, perKey: { hz: 100, rate: 1, tokenLimit: 2 } });
    await valve.run('a', () => 1);
    await valve.run('a', () => 1);
    await expect(valve.run('a', () => 1)).rejects.toMatchObject({ reason: 'rate_limited', code: 'ERR_VALVE_DROPPED' });
    expect(valve.retryAfterMs('a')).toBe(100);
    await expect(valve.run('b', () => 2)).resolves.toBe(2);
    clock.advance(50);
    expect(valve.keyStats('a')?.tokens).toBeCloseTo(0.5);
    await expect(valve.run('a', () => 1)).rejects.toMatchObject({ reason: 'rate_limited' });
    clock.advance(50);
    await expect(valve.run('a', () => 1)).resolves.toBe(1);
    expect(valve.stats().rejectedByReason.rate_limited).toBe(2);
  });

  it("a key's share: its extra jobs wait without holding up other keys, and start as its own jobs end", async () => {
    const valve = new KeyedValve({ concurrency: 3, size: 10, clock: new ManualClock(), perKey: { concurrency: 1 } });
    const log: string[] = [];
    const gates = [deferred(), deferred(), deferred()];
    const job = (name: string, i: number) => () => {
      log.push(name);
      return gates[i]!.promise;
    };
    const a0 = valve.run('a', job('a0', 0));
    const a1 = valve.run('a', job('a1', 1));
    const b0 = valve.run('b', job('b0', 2));
    await flush();
    expect(log).toEqual(['a0', 'b0']);
    expect(valve.stats()).toMatchObject({ running: 2, queued: 1 });
    gates[0]!.resolve();
    await a0;
    await flush();
    expect(log).toEqual(['a0', 'b0', 'a1']);
    gates[1]!.resolve();
    gates[2]!.resolve();
    await Promise.all([a1, b0]);
  });

  it('the global cap is shared; queued jobs of different keys start fairly, not in arrival order', async () => {
    const valve = new KeyedValve({ concurrency: 1, size: 10, clock: new ManualClock() });
    const log: string[] = [];
    const first = deferred();
    const all = [valve.run('x', () => first.promise)];
    for (const name of ['h0', 'h1', 'h2', 'h3']) all.push(valve.run('heavy', () => void log.push(name)));
    all.push(valve.run('light', () => void log.push('l0')));
    first.resolve();
    await Promise.all(all);
    expect(log).toEqual(['h0', 'l0', 'h1', 'h2', 'h3']);
  });

  it('a full queue sheds the heaviest key, not a light newcomer; a lone key is refused queue_full', async () => {
    const valve = new KeyedValve({ concurrency: 1, size: 2, clock: new ManualClock() });
    const gate = deferred();
    const running = valve.run('h', () => gate.promise);
    const h1 = track(valve.run('h', () => 1));
    const h2 = track(valve.run('h', () => 2));
    const l = valve.run('l', () => 'l');
    await flush();
    expect(h2.error).toMatchObject({ reason: 'evicted' });
    await expect(valve.run('h', () => 3)).rejects.toMatchObject({ reason: 'queue_full' });
    gate.resolve();
    await running;
    await expect(l).resolves.toBe('l');
    await flush();
    expect(h1.value).toBe(1);
    expect(valve.stats().rejectedByReason).toMatchObject({ evicted: 1, queue_full: 1 });
  });

  it('a token taken by a job refused on arrival is given back', async () => {
    const valve = new KeyedValve({
      concurrency: 1,
      size: 0,
      clock: new ManualClock(),
      perKey: { hz: 1000, rate: 1, tokenLimit: 2 },
    });
    const gate = deferred();
    const running = valve.run('a', () => gate.promise);
    await expect(valve.run('a', () => 1)).rejects.toMatchObject({ reason: 'queue_full' });
    expect(valve.keyStats('a')?.tokens).toBe(1);
    gate.resolve();
    await running;
  });

  it('priority classes: the highest waiting class starts first; a higher newcomer evicts a lower waiter', async () => {
    const valve = new KeyedValve({ concurrency: 1, size: 2, clock: new ManualClock(), priorities: [{}, {}, {}] });
    const log: string[] = [];
    const gate = deferred();
    const first = valve.run('k', () => gate.promise);
    const low = track(valve.run('a', () => void log.push('low'), { priority: 0 }));
    const mid = valve.run('b', () => void log.push('mid'), { priority: 1 });
    const top = valve.run('c', () => void log.push('top'), { priority: 2 });
    await flush();
    expect(low.error).toMatchObject({ reason: 'evicted', code: 'ERR_VALVE_DROPPED' });
    await expect(valve.run('d', () => 0, { priority: 0 })).rejects.toMatchObject({ reason: 'queue_full' });
    gate.resolve();
    await Promise.all([first, mid, top]);
    expect(log).toEqual(['top', 'mid']);
  });

  it("a class's deadline refuses its waiters with reason deadline; a call's own deadline wins", async () => {
    const clock = new ManualClock();
    const valve = new KeyedValve({ concurrency: 1, size: 5, clock, priorities: [{ deadlineMs: 10 }, {}] });
    const gate = deferred();
    const first = valve.run('k', () => gate.promise, { priority: 1 });
    const low = track(valve.run('a', () => 1));
    const own = track(valve.run('a', () => 2, { deadlineMs: 30 }));
    const high = track(valve.run('b', () => 3, { priority: 1 }));
    await clock.advanceAsync(10);
    expect(low.error).toMatchObject({ reason: 'deadline', code: 'ERR_VALVE_TIMEOUT' });
    expect(own.state).toBe('pending');
    await clock.advanceAsync(20);
    expect(own.error).toMatchObject({ reason: 'deadline' });
    gate.resolve();
    await first;
    await flush();
    expect(high.value).toBe(3);
  });

  it("an abort while waiting removes the job and rejects with the signal's reason", async () => {
    const valve = new KeyedValve({ concurrency: 1, size: 5, clock: new ManualClock() });
    const gate = deferred();
    const first = valve.run('k', () => gate.promise);
    const controller = new AbortController();
    const waiting = valve.run('k', () => 1, { signal: controller.signal });
    controller.abort(new Error('caller gave up'));
    await expect(waiting).rejects.toThrow('caller gave up');
    expect(valve.stats().queued).toBe(0);
    expect(valve.stats().rejectedByReason.aborted).toBe(1);
    gate.resolve();
    await first;
  });

  it('the key table is bounded: a new key finding it full of live keys is refused overload', async () => {
    const clock = new ManualClock();
    const valve = new KeyedValve({
      concurrency: 5,
      size: 5,
      clock,
      maxKeys: 2,
      idleMs: 100,
      perKey: { concurrency: 5 },
    });
    const gate = deferred();
    const a = valve.run('a', () => gate.promise);
    await valve.run('b', () => 1);
    await expect(valve.run('c', () => 1)).rejects.toMatchObject({ reason: 'overload' });
    clock.advance(100);
    await expect(valve.run('c', () => 1)).rejects.toMatchObject({ reason: 'overload' });
    // The table's time is a tick of idleMs / 8: a key is idle between idleMs and idleMs * 9/8.
    clock.advance(12.5);
    // 'b' is idle and is evicted to make room; 'a' runs and stays.
    await expect(valve.run('c', () => 'c')).resolves.toBe('c');
    expect(valve.keyStats('b')).toBeUndefined();
    expect(valve.keyStats('a')?.running).toBe(1);
    expect(valve.stats()).toMatchObject({ keys: 2, evictedKeys: 1 });
    expect(valve.stats().rejectedByReason.overload).toBe(2);
    gate.resolve();
    await a;
  });

  it('idle keys are evicted on the clock, but only once their bucket is full again', async () => {
    const clock = new ManualClock();
    const valve = new KeyedValve({
      concurrency: 5,
      size: 5,
      clock,
      idleMs: 100,
      perKey: { hz: 1000, rate: 1, tokenLimit: 1 },
    });
    await valve.run('a', () => 1);
    await valve.run('b', () => 1);
    expect(valve.stats().keys).toBe(2);
    await clock.advanceAsync(100);
    // Idle for 100 ms, but each bucket needs 1000 ms to refill: kept (else a key could reset its limit).
    expect(valve.stats().keys).toBe(2);
    await clock.advanceAsync(1000);
    expect(valve.stats()).toMatchObject({ keys: 0, evictedKeys: 2 });
    expect(clock.refedTimers).toBe(0);
  });

  it("buckets live in one array: keys keep their tokens as it grows, a new key reuses an evicted key's slot full", async () => {
    const { clock, valve } = bucketsValve(300, 3);
    // 'k0' takes 2 of its 3 tokens, then 199 more keys one each: the array grows 64 -> 128 -> 256 slots.
    await valve.run('k0', () => 1);
    await valve.run('k0', () => 1);
    for (let i = 1; i < 200; i++) await valve.run(`k${i}`, () => 1);
    expect(valve.keyStats('k0')?.tokens).toBe(1);
    expect(valve.keyStats('k199')?.tokens).toBe(2);
    clock.advance(500);
    expect(valve.keyStats('k0')?.tokens).toBe(1.5);
    expect(valve.keyStats('k1')?.tokens).toBe(2.5);
    // Every key idle and refilled: all 200 evicted, their slots free.
    await clock.advanceAsync(2000);
    expect(valve.stats()).toMatchObject({ keys: 0, evictedKeys: 200 });
    // New keys take the freed slots and start full, whatever the evicted keys held there.
    await valve.run('x', () => 1);
    await valve.run('y', () => 1);
    await valve.run('y', () => 1);
    expect(valve.keyStats('x')?.tokens).toBe(2);
    expect(valve.keyStats('y')?.tokens).toBe(1);
    await valve.run('y', () => 1);
    await expect(valve.run('y', () => 1)).rejects.toMatchObject({ reason: 'rate_limited' });
    expect(valve.retryAfterMs('y')).toBe(1000);
    expect(valve.keyStats('x')?.tokens).toBe(2);
    // A refused job gives its token back into its own slot only.
    const gate = deferred();
    const held = [0, 1, 2, 3, 4].map((i) => valve.run(`busy${i}`, () => gate.promise));
    const queued = [0, 1, 2, 3, 4].map((i) => valve.run(`q${i}`, () => 1));
    await expect(valve.run('x', () => 1)).rejects.toMatchObject({ reason: 'queue_full' });
    expect(valve.keyStats('x')?.tokens).toBe(2);
    expect(valve.keyStats('q0')?.tokens).toBe(2);
    gate.resolve();
    await Promise.all([...held, ...queued]);
  });

  it('a new key finding the table full of buckets not yet refilled is refused; once refilled it takes the place', async () => {
    const { clock, valve } = bucketsValve(1, 2);
    await valve.run('a', () => 1);
    // Idle (112.5 ms = 9 ticks), but its bucket needs 1000 ms to be full: kept, 'b' refused.
    clock.advance(112.5);
    await expect(valve.run('b', () => 1)).rejects.toMatchObject({ reason: 'overload' });
    clock.advance(800);
    await expect(valve.run('b', () => 1)).rejects.toMatchObject({ reason: 'overload' });
    // A sweep looks at an idle key again 9 ticks after it moved it to the back: at 1012.5 ms 'a'
    // is full again and goes; 'b' starts with a full bucket of its own (in 'a's bucket slot).
    clock.advance(100);
    expect(valve.stats().keys).toBe(0);
    await expect(valve.run('b', () => 'b')).resolves.toBe('b');
    expect(valve.keyStats('a')).toBeUndefined();
    expect(valve.keyStats('b')?.tokens).toBe(1);
    expect(valve.stats()).toMatchObject({ keys: 1, evictedKeys: 1 });
  });

  it('metrics: the safety series with the valve label only (no key label), and a keys gauge', async () => {
    const metrics = new MetricsRegistry();
    const valve = new KeyedValve({ name: 'api', metrics, concurrency: 2, size: 2, clock: new ManualClock() });
    for (let i = 0; i < 20; i++) await valve.run(`tenant-${i}`, () => 1);
    const text = metrics.toPrometheus();
    expect(text).toContain('valve_safety_admitted_total{valve="api"} 20');
    expect(text).toContain('valve_safety_keys{valve="api"} 20');
    expect(text).not.toContain('tenant-');
    await valve.close();
  });

  it('close() refuses waiters with shutdown and new jobs; running jobs finish', async () => {
    const valve = new KeyedValve({ concurrency: 1, size: 5, clock: new ManualClock() });
    const gate = deferred<string>();
    const running = valve.run('a', () => gate.promise);
    const waiting = valve.run('b', () => 1);
    const closed = valve.close();
    await expect(waiting).rejects.toMatchObject({ reason: 'shutdown', code: 'ERR_VALVE_CLOSED' });
    await expect(valve.run('c', () => 1)).rejects.toMatchObject({ reason: 'shutdown' });
    gate.resolve('done');
    await expect(running).resolves.toBe('done');
    await closed;
  });

  it('validates options and calls: TypeError/RangeError naming the option, value and what is allowed', () => {
    const base = { concurrency: 1, size: 1 };
    expect(() => new KeyedValve({ ...base, perKey: { hz: 100, rate: 1 } })).toThrow(
      /perKey.hz, perKey.rate and perKey.tokenLimit go together/,
    );
    expect(() => new KeyedValve({ ...base, perKey: { hz: 0, rate: 1, tokenLimit: 1 } })).toThrow(
      new RangeError('perKey.hz must be a finite number > 0, got 0'),
    );
    expect(() => new KeyedValve({ ...base, perKey: { concurrency: 0 } })).toThrow(
      new RangeError('perKey.concurrency must be an integer or Infinity >= 1, got 0'),
    );
    expect(() => new KeyedValve({ ...base, perKey: { share: 1 } as never })).toThrow(
      /perKey.share is not a known option/,
    );
    expect(() => new KeyedValve({ ...base, idleMs: 0 })).toThrow(
      new RangeError('idleMs must be a finite number > 0, got 0'),
    );
    expect(() => new KeyedValve({ ...base, priorities: [] })).toThrow(TypeError);
    expect(() => new KeyedValve({ ...base, priorities: [{ deadlineMs: -1 }] })).toThrow(
      new RangeError('priorities[0].deadlineMs must be a finite number >= 0, got -1'),
    );
    expect(() => new KeyedValve({ ...base, priorities: [{}, {}], defaultPriority: 2 })).toThrow(
      new RangeError('defaultPriority must be an integer >= 0 and <= 1, got 2'),
    );
    const valve = new KeyedValve({ ...base, priorities: [{}, {}] });
    expect(() => valve.run(5 as never, () => 1)).toThrow(new TypeError('key must be a string, got 5'));
    expect(() => valve.run('k', 5 as never)).toThrow(TypeError);
    expect(() => valve.run('k', () => 1, { priority: 2 })).toThrow(
      new RangeError('options.priority must be an integer >= 0 and <= 1, got 2'),
    );
    expect(() => valve.run('k', () => 1, { weight: 1 } as never)).toThrow(/options.weight is not a known option/);
  });
});
