import { describe, expect, it } from 'vitest';
import {
  coalescedShareOf,
  HOT_CEILING_SHARE,
  HOT_MIN_COALESCED,
  HOT_RATIO_TARGET,
  HOT_TARGET_TEXT,
  hotCustomerVerdict,
} from '../load/targets.js';

describe('hot-customer target, restated from the Express ceiling of the same run', () => {
  it('is met by the ratio alone when the BurstValve route is >= 1.9x the direct route', () => {
    // 2026-11-23 full run, PGlite: direct 3,187, BurstValve 7,386, ceiling 6,488.
    const v = hotCustomerVerdict({ ratio: 7386 / 3187, burstOkPerSec: 7386, ceiling: 6488, coalescedShare: undefined });
    expect(v.met).toBe(true);
    expect(v.why).toMatch(/^Met by the ratio \(2\.32x/);
  });

  it('is met by the ceiling rule when the route is at the ceiling and coalesces (2026-12-04 MariaDB)', () => {
    // direct 8,411, BurstValve 13,222, ceiling 12,214: 1.57x, capped by ceiling / direct = 1.45x.
    const v = hotCustomerVerdict({ ratio: 13222 / 8411, burstOkPerSec: 13222, ceiling: 12214, coalescedShare: 0.99 });
    expect(v.met).toBe(true);
    expect(v.why).toContain('Met by the ceiling rule');
    expect(v.why).toContain('1.08x of the Express ceiling, 99.0% of its calls coalesced');
    expect(v.why).toContain('bounded by Express, not by the database');
  });

  it('meets the ceiling rule exactly at both thresholds', () => {
    const v = hotCustomerVerdict({
      ratio: 1.2,
      burstOkPerSec: HOT_CEILING_SHARE * 10_000,
      ceiling: 10_000,
      coalescedShare: HOT_MIN_COALESCED,
    });
    expect(v.met).toBe(true);
  });

  it('fails with coalescing broken: the BurstValve route runs at the direct route, far below the ceiling', () => {
    // The fastest direct route in the committed results: 0.70x of the ceiling (2026-11-23, PostgreSQL).
    const v = hotCustomerVerdict({ ratio: 1.02, burstOkPerSec: 0.7 * 10_000, ceiling: 10_000, coalescedShare: 0 });
    expect(v.met).toBe(false);
    expect(v.why).toContain('below 0.85x of the ceiling');
    expect(v.why).toContain('fewer than 90.0% coalesced');
  });

  it('fails without coalescing even when the ceiling measurement came out low', () => {
    // 2026-11-23 quick, PostgreSQL: a route at 1.64x of the ceiling measured in the same run.
    const v = hotCustomerVerdict({ ratio: 1.1, burstOkPerSec: 8825, ceiling: 5384, coalescedShare: 0.02 });
    expect(v.met).toBe(false);
    expect(v.why).not.toContain('below 0.85x');
    expect(v.why).toContain('fewer than 90.0% coalesced');
  });

  it('fails below 85% of the ceiling even when coalescing (2026-12-04 PGlite: 0.69x, 1.53x)', () => {
    const v = hotCustomerVerdict({ ratio: 7942 / 5182, burstOkPerSec: 7942, ceiling: 11443, coalescedShare: 0.99 });
    expect(v.met).toBe(false);
    expect(v.why).toMatch(/^Not met: the ratio is 1\.53x/);
    expect(v.why).toContain('0.69x of the Express ceiling');
  });

  it('claims nothing from the ceiling when the counters or the ceiling are unknown', () => {
    const unknownShare = hotCustomerVerdict({
      ratio: 1.5,
      burstOkPerSec: 11_000,
      ceiling: 11_000,
      coalescedShare: undefined,
    });
    expect(unknownShare.met).toBe(false);
    expect(unknownShare.why).toContain('coalesced share unknown');
    const noCeiling = hotCustomerVerdict({
      ratio: 1.5,
      burstOkPerSec: 11_000,
      ceiling: Number.NaN,
      coalescedShare: 0.99,
    });
    expect(noCeiling.met).toBe(false);
    expect(noCeiling.why).toContain('an unknown share');
    expect(hotCustomerVerdict({ ratio: 1.5, burstOkPerSec: 11_000, ceiling: 0, coalescedShare: 0.99 }).met).toBe(false);
  });

  it('states the restated target in the table', () => {
    expect(HOT_RATIO_TARGET).toBe(1.9);
    expect(HOT_TARGET_TEXT).toBe(
      '>= 1.9x, or the BurstValve route >= 85% of the Express ceiling of this run with >= 90% of its calls coalesced',
    );
  });
});

describe('coalescedShareOf', () => {
  it('is coalesced calls over every call (fetches, coalesced and linger hits)', () => {
    expect(coalescedShareOf({ fetches: 10, coalesced: 980, linger: 10 })).toBeCloseTo(0.98, 10);
    expect(coalescedShareOf({ fetches: 5, coalesced: 0, linger: 0 })).toBe(0);
  });

  it('is undefined without counters or without calls', () => {
    expect(coalescedShareOf(undefined)).toBeUndefined();
    expect(coalescedShareOf({ fetches: 0, coalesced: 0, linger: 0 })).toBeUndefined();
  });
});
