// Issue 14: the safety valve's gates against a conservation model, with sources that disagree.
import { gateOps, runGateModel } from '@valve/testkit';
import fc from 'fast-check';
import { expect, it } from 'vitest';
import { SafetyValve } from '../src/index.js';

it('no token or slot is lost or duplicated, and every job settles once, whatever the sources say', async () => {
  await fc.assert(
    fc.asyncProperty(gateOps, fc.integer({ min: 1, max: 3 }), async (ops, limit) => {
      const r = await runGateModel(ops, limit, (conc, rate) => {
        const valve = new SafetyValve({ concurrencySource: conc, rateSource: rate, size: Number.POSITIVE_INFINITY });
        return {
          offer: (fn, signal) => valve.run(fn, signal === undefined ? undefined : { signal }),
          queued: () => valve.stats().queued,
        };
      });
      expect(r.settled).toBe(r.offered);
      expect(r.settledTwice).toBe(0);
      expect(r.tokensTaken).toBe(r.started);
      // Safety gives a slot back unused when the rate refuses: granted counts those too.
      expect(r.released).toBe(r.granted);
      expect(r.maxInUse).toBeLessThanOrEqual(r.limit);
    }),
    { numRuns: 150 },
  );
});
