import { defineConfig } from 'vitest/config';

// Tests drive a ManualClock and never wait on real time, so a timeout only fires when CI's two
// cores are saturated by parallel turbo tasks; property tests get room for that.
//
// Three projects (issue 16, item 6):
// - `redis`: every file, on the single server (REDIS_URL);
// - `cluster`: the suites that hold for any topology, again, with VALVE_REDIS_TOPOLOGY=cluster so
//   that test/helpers.ts hands them an ioredis Cluster on VALVE_REDIS_CLUSTER_NODES, plus the
//   cluster-only file. Not here: the files that put a TCP proxy or a child process in front of
//   the single server (faults, the issue-7/18 regressions on proxies, processes, readme);
// - `failover`: stops a primary of that same cluster, so it runs alone, after the other two.
const shared = [
  'test/RedisTokenBucket.test.ts',
  'test/RedisSemaphore.test.ts',
  'test/RedisCoalescer.test.ts',
  'test/RedisTokenBucket.property.test.ts',
  'test/RedisSemaphore.property.test.ts',
  'test/SafetyValve.integration.test.ts',
  'test/PromisePool.integration.test.ts',
  'test/regression/issue-7-coalescer-channels.test.ts',
];
export default defineConfig({
  test: {
    testTimeout: 30_000,
    projects: [
      {
        extends: true,
        test: { name: 'redis', include: ['test/**/*.test.ts'], exclude: ['test/cluster/**'] },
      },
      {
        extends: true,
        test: {
          name: 'cluster',
          include: [...shared, 'test/cluster/topology.test.ts'],
          env: { VALVE_REDIS_TOPOLOGY: 'cluster' },
        },
      },
      {
        extends: true,
        test: {
          name: 'failover',
          include: ['test/cluster/failover.test.ts'],
          env: { VALVE_REDIS_TOPOLOGY: 'cluster' },
          sequence: { groupOrder: 1 },
        },
      },
    ],
  },
});
