// Issue 14: the pool's gates against a conservation model, with sources that disagree.
import { gateOps, runGateModel } from '@valve/testkit';
import fc from 'fast-check';
import { expect, it } from 'vitest';
import { PromisePool } from '../src/index.js';

it('no token or slot is lost or duplicated, and every task settles once, whatever the sources say', async () => {
  await fc.assert(
    fc.asyncProperty(gateOps, fc.integer({ min: 1, max: 3 }), async (ops, limit) => {
      const r = await runGateModel(ops, limit, (conc, rate) => {
        const pool = new PromisePool({ concurrencySource: conc, rateSource: rate });
        return {
          offer: (fn, signal) => pool.run(fn, signal === undefined ? undefined : { signal }),
          queued: () => pool.size,
        };
      });
      expect(r.settled).toBe(r.offered);
      expect(r.settledTwice).toBe(0);
      expect(r.tokensTaken).toBe(r.started); // a token per started task, none lost
      // A slot taken before a refused token is given back unused: granted counts those too.
      expect(r.released).toBe(r.granted);
      expect(r.granted).toBeGreaterThanOrEqual(r.started);
      expect(r.maxInUse).toBeLessThanOrEqual(r.limit);
    }),
    { numRuns: 150 },
  );
});
