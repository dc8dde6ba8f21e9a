import { describe, expect, it } from 'vitest';
import { spreadOffsets } from '../load/measure.js';

describe('spreadOffsets (the overload scenario spreads autocannon over waves)', () => {
  it('splits connections and rate over the waves, started evenly over one second', () => {
    const waves = spreadOffsets(600, 1775, 20);
    expect(waves).toHaveLength(20);
    expect(waves.map((w) => w.offsetMs)).toEqual(Array.from({ length: 20 }, (_, i) => i * 50));
    expect(waves.reduce((a, w) => a + w.connections, 0)).toBe(600);
    expect(waves.reduce((a, w) => a + w.overallRate, 0)).toBe(1775);
    const rates = waves.map((w) => w.overallRate);
    expect(Math.max(...rates) - Math.min(...rates)).toBeLessThanOrEqual(1);
  });

  it('never makes a wave without a connection or a request per second', () => {
    expect(spreadOffsets(5, 1000, 20)).toHaveLength(5);
    expect(spreadOffsets(600, 3, 20)).toHaveLength(3);
    expect(spreadOffsets(600, 3, 20).every((w) => w.connections >= 1 && w.overallRate >= 1)).toBe(true);
    expect(spreadOffsets(10, 10, 1)).toEqual([{ offsetMs: 0, connections: 10, overallRate: 10 }]);
  });
});
