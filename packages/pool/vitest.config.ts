import { defineConfig } from 'vitest/config';

// Tests drive a ManualClock and never wait on real time, so a timeout only fires when CI's two
// cores are saturated by parallel turbo tasks; property tests get room for that.
export default defineConfig({ test: { include: ['test/**/*.test.ts'], testTimeout: 30_000 } });
