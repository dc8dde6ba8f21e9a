// Issue 17 item 4: under overload the lowest class is shed first. Simulated on a ManualClock
// (seeded Poisson arrivals): 4 slots, 10 ms per job (400 jobs/s), offered 3x that: the top class
// at 0.6x capacity, the middle at 0.9x, the bottom at 1.5x, each spread over 5 keys. The top class
// must keep >= 99 % goodput (jobs finished within the client's 1 s timeout, over jobs offered)
// while the bottom absorbs the shedding. A FIFO SafetyValve on the same load is printed beside it.
import { ManualClock } from '@valve/core';
import { describe, expect, it } from 'vitest';
import { KeyedValve, SafetyValve } from '../../src/index.js';
import { type Arrival, type Outcome, percentile, poisson, prng, simulate, waits } from './simulate.js';

const SLOTS = 4;
const SERVICE_MS = 10;
const CAPACITY = (SLOTS * 1000) / SERVICE_MS;
const DURATION_MS = 20_000;
const CLIENT_TIMEOUT_MS = 1000;
const SHARES = [1.5, 0.9, 0.6]; // bottom, middle, top (x capacity)

function arrivals(seed: number): Arrival[] {
  const rand = prng(seed);
  const all: Arrival[] = [];
  SHARES.forEach((share, priority) => {
    for (let k = 0; k < 5; k++)
      all.push(...poisson(rand, `c${priority}-k${k}`, (share * CAPACITY) / 5, DURATION_MS, priority));
  });
  return all.sort((a, b) => a.at - b.at);
}

function goodput(out: Outcome[], priority: number): number {
  const mine = out.filter((o) => o.arrival.priority === priority);
  const good = mine.filter((o) => o.doneMs !== undefined && o.doneMs <= CLIENT_TIMEOUT_MS).length;
  return (100 * good) / mine.length;
}

function reasons(out: Outcome[], priority: number): string {
  const by = new Map<string, number>();
  for (const o of out)
    if (o.arrival.priority === priority && o.reason !== undefined) by.set(o.reason, (by.get(o.reason) ?? 0) + 1);
  return [...by].map(([r, n]) => `${r} ${n}`).join(', ') || 'none';
}

describe('priority classes with a shedding order (simulation, ManualClock)', () => {
  // Shedding by shorter deadlines for the lower classes, and by eviction alone (one deadline for
  // all: a full queue evicts a lower class's waiter to admit a higher one).
  const configs = {
    'class deadlines 50/200/1000 ms': {
      priorities: [{ deadlineMs: 50 }, { deadlineMs: 200 }, { deadlineMs: CLIENT_TIMEOUT_MS }],
    },
    'eviction only (deadline 1000 ms for all)': { priorities: [{}, {}, {}], deadlineMs: CLIENT_TIMEOUT_MS },
  };
  for (const [label, config] of Object.entries(configs)) {
    it(`${label}: at 3x overload the top class keeps >= 99 % goodput, the bottom absorbs the shedding`, {
      timeout: 60_000,
    }, async () => {
      const list = arrivals(0x17_4);
      let clock = new ManualClock();
      const keyed = new KeyedValve({
        concurrency: SLOTS,
        size: 200,
        clock,
        ...config,
      });
      const classes = await simulate(clock, list, SERVICE_MS, (a, fn) =>
        keyed.run(a.key, fn, { priority: a.priority }),
      );
      await keyed.close();
      clock = new ManualClock();
      const fifoValve = new SafetyValve({ concurrency: SLOTS, size: 200, deadlineMs: CLIENT_TIMEOUT_MS, clock });
      const fifo = await simulate(clock, list, SERVICE_MS, (_a, fn) => fifoValve.run(fn));
      await fifoValve.close();

      const names = ['bottom', 'middle', 'top'];
      for (let p = 2; p >= 0; p--) {
        const offered = list.filter((a) => a.priority === p).length;
        console.log(
          `[priority] ${label}: ${names[p]} (${SHARES[p]}x capacity, ${offered} offered): goodput ${goodput(classes, p).toFixed(2)} % ` +
            `(FIFO ${goodput(fifo, p).toFixed(2)} %), p99 wait ${percentile(
              waits(classes, (a) => a.priority === p),
              99,
            ).toFixed(1)} ms, ` +
            `refused: ${reasons(classes, p)} (FIFO: ${reasons(fifo, p)})`,
        );
      }
      expect(goodput(classes, 2)).toBeGreaterThanOrEqual(99);
      // The shedding falls on the bottom class first: it loses more than the middle, the middle more than the top.
      expect(goodput(classes, 0)).toBeLessThan(goodput(classes, 1));
      expect(goodput(classes, 1)).toBeLessThan(goodput(classes, 2));
      // Without classes the top class gets no better than anyone else.
      expect(goodput(fifo, 2)).toBeLessThan(50);
    });
  }
});
