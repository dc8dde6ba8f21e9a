// Issue 17 item 3, "composable with CoDel per key": CoDel on each key's own queue (FQ-CoDel,
// RFC 8290). Simulated on a ManualClock (seeded Poisson arrivals): 4 slots, 10 ms per job
// (400 jobs/s), 9 light keys and one heavy key that overloads the valve on its own, 20 s. The heavy
// key's standing queue is dropped by CoDel (reason `overload`); while the light keys are light
// their jobs never are, and their p99 wait is asserted. The same valve without CoDel (its queue
// bounded by `size` 1000 only) is run beside it.
import { ManualClock } from '@valve/core';
import { describe, expect, it } from 'vitest';
import { KeyedValve, type PerKeyOptions } from '../../src/index.js';
import { type Arrival, lightAndHeavy, type Outcome, percentile, simulate, waits } from './simulate.js';

const SLOTS = 4;
const SERVICE_MS = 10;
const DURATION_MS = 20_000;
const SIZE = 1000;
const LIGHT = Array.from({ length: 9 }, (_, i) => `light-${i}`);

function arrivals(lightPerSecond: number, heavyPerSecond: number, seed: number): Arrival[] {
  return lightAndHeavy(LIGHT, lightPerSecond, heavyPerSecond, DURATION_MS, seed);
}

async function keyed(list: Arrival[], perKey: PerKeyOptions) {
  const clock = new ManualClock();
  const valve = new KeyedValve({ concurrency: SLOTS, size: SIZE, clock, perKey });
  const out = await simulate(clock, list, SERVICE_MS, (a, fn) => valve.run(a.key, fn));
  const stats = valve.stats();
  await valve.close();
  return { out, stats };
}

const isLight = (a: Arrival) => a.key !== 'heavy';
const isHeavy = (a: Arrival) => a.key === 'heavy';
const refused = (o: Outcome[], keep: (a: Arrival) => boolean, reason?: string) =>
  o.filter((x) => keep(x.arrival) && x.reason !== undefined && (reason === undefined || x.reason === reason)).length;

describe('CoDel per key in the fair line (simulation, ManualClock)', () => {
  const codel = { targetMs: 5, intervalMs: 100 };
  // Light keys at 15/s each (34 % of capacity together) with the heavy key at 450/s (146 % in
  // all: the heavy key alone overloads), and at 30/s each (68 %) with the heavy key at 10x, 300/s
  // (143 %). Each key's share of the 4 slots: none, or 2.
  const loads = [
    [15, 450],
    [30, 300],
  ] as const;
  for (const share of [Number.POSITIVE_INFINITY, 2])
    for (const [lightPerSecond, heavyPerSecond] of loads) {
      it(`share ${share}, light keys at ${lightPerSecond}/s each, heavy at ${heavyPerSecond}/s`, {
        timeout: 60_000,
      }, async () => {
        const seed = 17_300 + lightPerSecond;
        const perKey: PerKeyOptions = share === Number.POSITIVE_INFINITY ? {} : { concurrency: share };
        const alone = await keyed(arrivals(lightPerSecond, 0, seed), { ...perKey, codel });
        const mixed = arrivals(lightPerSecond, heavyPerSecond, seed);
        const withCoDel = await keyed(mixed, { ...perKey, codel });
        const without = await keyed(mixed, perKey);
        const heavyCount = mixed.filter(isHeavy).length;
        const lightCount = mixed.length - heavyCount;
        const p99 = (o: Outcome[], keep: (a: Arrival) => boolean) => percentile(waits(o, keep), 99);
        const lightAlone = p99(alone.out, isLight);
        const lightCoDel = p99(withCoDel.out, isLight);
        const lightPlain = p99(without.out, isLight);
        const heavyCoDel = p99(withCoDel.out, isHeavy);
        const heavyPlain = p99(without.out, isHeavy);
        const heavyDrops = refused(withCoDel.out, isHeavy, 'overload');
        const started = (o: Outcome[]) => o.filter((x) => isHeavy(x.arrival) && x.waitMs !== undefined).length;
        // The figures the README quotes.
        console.log(
          `[codel] share ${share}, light ${lightPerSecond}/s x9, heavy ${heavyPerSecond}/s (${heavyCount} jobs): ` +
            `light p99 wait alone ${lightAlone.toFixed(2)} ms, with heavy + CoDel ${lightCoDel.toFixed(2)} ms, without CoDel ${lightPlain.toFixed(2)} ms; ` +
            `light refused ${refused(withCoDel.out, isLight)} of ${lightCount} (overload ${refused(withCoDel.out, isLight, 'overload')}) (without ${refused(without.out, isLight)}); ` +
            `heavy p99 wait with CoDel ${heavyCoDel.toFixed(2)} ms, without ${heavyPlain.toFixed(2)} ms; ` +
            `heavy dropped by CoDel ${heavyDrops}, other refusals ${refused(withCoDel.out, isHeavy) - heavyDrops} ` +
            `(without CoDel: ${refused(without.out, isHeavy)} refused); heavy started ${started(withCoDel.out)} (without ${started(without.out)})`,
        );
        expect(refused(alone.out, isLight)).toBe(0);
        expect(withCoDel.stats.rejectedByReason.overload).toBe(refused(withCoDel.out, () => true, 'overload'));
        // The heavy key's standing queue is what CoDel drops, and the heavy jobs it keeps wait
        // far less than without CoDel (where the queue stands at `size`).
        expect(heavyDrops).toBeGreaterThan(heavyCount / 4);
        expect(heavyCoDel).toBeLessThan(heavyPlain / 2);
        // The light keys wait no longer than without CoDel.
        expect(lightCoDel).toBeLessThanOrEqual(lightPlain);
        if (lightPerSecond === 15) {
          // Light keys that are light (34 % of capacity together): none of their jobs is dropped
          // or refused, and their p99 wait stays below one job's service time (a light job waits
          // for the next slot to free, not behind the heavy key's queue).
          expect(refused(withCoDel.out, isLight)).toBe(0);
          expect(lightCoDel).toBeLessThan(SERVICE_MS);
        } else {
          // Light keys at 68 % of capacity together wait >= target for a whole interval now and
          // then themselves: CoDel drops a handful of their jobs (printed; at most 0.25 %).
          expect(refused(withCoDel.out, isLight)).toBeLessThanOrEqual(lightCount * 0.0025);
        }
      });
    }
});
