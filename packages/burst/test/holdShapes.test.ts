import { describe, expect, it } from 'vitest';
import { BurstValve } from '../src/BurstValve.js';
import { holdShapes } from '../src/holdShapes.js';

describe('holdShapes', () => {
  it('leaves one call in flight that never settles, with a joined caller and a caller waiting with a signal', async () => {
    let runs = 0;
    const valve = holdShapes(
      new BurstValve<never, number>(() => {
        runs++;
        return new Promise<never>(() => {});
      }),
    );
    const s = valve.stats();
    expect(runs).toBe(1);
    expect(s.inFlight).toBe(1);
    expect(s.calls).toBe(3);
    expect(s.coalesced).toBe(2);
    expect(s.running).toBe(1);
    expect(valve.size).toBe(1);
  });

  it('does not touch the valves users make', async () => {
    const valve = new BurstValve<number, number>((k) => Promise.resolve(k * 2));
    expect(valve.stats().calls).toBe(0);
    await expect(valve.fetch(1)).resolves.toBe(2);
    expect(valve.stats()).toMatchObject({ calls: 1, runs: 1, coalesced: 0, inFlight: 0 });
    await valve.close();
  });
});
