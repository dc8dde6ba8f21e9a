// The README's KeyedValve example, run as a test. Keep it in sync with README.md: the code
// between the markers is the README's.
import { ManualClock } from '@valve/core';
import { expect, it } from 'vitest';
import { KeyedValve } from '../src/index.js';

it('README: KeyedValve', async () => {
  const clock = new ManualClock();
  const buildReport = async (tenant: string) => ({ tenant, rows: 3 });
  const tenantId = 'acme';
  // --- README: KeyedValve ---
  const api = new KeyedValve({
    name: 'api',
    concurrency: 64, // one global cap over every tenant
    size: 500, // jobs allowed to wait, over all tenants
    // Each tenant: 10 jobs/s with bursts of 20, and at most 8 of the 64 slots.
    perKey: { hz: 1000, rate: 10, tokenLimit: 20, concurrency: 8 },
    maxKeys: 100_000,
    // Class 0 (batch) waits 100 ms at most and is shed first; class 1 (interactive) 1 s.
    priorities: [{ deadlineMs: 100 }, { deadlineMs: 1000 }],
    clock,
  });
  const report = await api.run(tenantId, () => buildReport(tenantId), { priority: 1 });
  // --- end ---
  expect(report).toEqual({ tenant: 'acme', rows: 3 });
  expect(api.keyStats('acme')).toEqual({ tokens: 19, running: 0, queued: 0 });
  await api.close();
});

it('README: CoDel per key', async () => {
  const clock = new ManualClock();
  const runSearch = async (tenant: string) => `results for ${tenant}`;
  // --- README: CoDel per key ---
  const search = new KeyedValve({
    concurrency: 4,
    size: 1000,
    // A tenant whose jobs have waited >= 5 ms for 100 ms has its queue thinned from the head.
    perKey: { concurrency: 2, codel: { targetMs: 5, intervalMs: 100 } },
    clock,
  });
  await search.run('tenant-a', () => runSearch('tenant-a'));
  // --- end ---
  expect(await search.run('tenant-b', () => runSearch('tenant-b'))).toBe('results for tenant-b');
  await search.close();
});
