import { describe, expect, it } from 'vitest';
import { KeepAlive, ManualClock } from '../../src/index.js';

describe('KeepAlive', () => {
  it("holds one ref'd timer while kept, none otherwise; idempotent both ways", () => {
    const clock = new ManualClock();
    const keepAlive = new KeepAlive(clock);
    expect(keepAlive.held).toBe(false);
    keepAlive.hold(true);
    keepAlive.hold(true);
    expect(keepAlive.held).toBe(true);
    expect(clock.refedTimers).toBe(1);
    keepAlive.hold(false);
    keepAlive.hold(false);
    expect(keepAlive.held).toBe(false);
    expect(clock.pendingTimers).toBe(0);
  });

  it('re-arms itself if its timer ever fires (after about 24.8 days)', () => {
    const clock = new ManualClock();
    const keepAlive = new KeepAlive(clock);
    keepAlive.hold(true);
    clock.advance(2 ** 31 - 1);
    expect(keepAlive.held).toBe(true);
    expect(clock.refedTimers).toBe(1);
    keepAlive.hold(false);
    expect(clock.pendingTimers).toBe(0);
  });
});
