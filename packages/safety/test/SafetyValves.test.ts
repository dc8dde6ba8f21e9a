// Named queues, as in safetyvalve's application config, and the seed's Postgres example.
import { ManualClock } from '@valve/core';
import { deferred } from '@valve/testkit';
import { afterEach, describe, expect, it } from 'vitest';
import { configure, defaultValves, run, SafetyValves, stats, tryRun, valve } from '../src/index.js';

afterEach(() => defaultValves.close());

describe('named queues', () => {
  it("configure({ queues }) then run('pg_q', fn), like sv:run(pg_q, Fun)", async () => {
    configure({
      queues: { pg_q: { hz: 500, rate: 20, tokenLimit: 30, size: 30, concurrency: 32 } },
      clock: new ManualClock(),
    });
    expect(await run('pg_q', () => 'rows')).toBe('rows');
    expect(stats('pg_q')).toMatchObject({
      name: 'pg_q',
      tokens: 29,
      configuration: { hz: 500, rate: 20, tokenLimit: 30, size: 30, concurrency: 32, queue: 'fifo' },
    });
    expect(valve('pg_q').name).toBe('pg_q');
  });

  it('32 run, 30 wait, number 63 is told the queue is full', async () => {
    configure({ queues: { pg_q: { tokenLimit: 100, rate: 1, size: 30, concurrency: 32 } }, clock: new ManualClock() });
    const gate = deferred();
    const held = Array.from({ length: 62 }, () => run('pg_q', () => gate.promise));
    expect(stats('pg_q')).toMatchObject({ running: 32, queued: 30 });
    expect(await tryRun('pg_q', () => 1)).toMatchObject({ ok: false, reason: 'queue_full' });
    gate.resolve();
    await Promise.all(held);
  });

  it('rejects unknown names and duplicate or bad configuration, all or nothing', async () => {
    const group = new SafetyValves();
    await expect(group.run('nope', () => 1)).rejects.toThrow('no queue named "nope"; configured: none');
    expect(() =>
      group.configure({ queues: { a: { size: 1, concurrency: 1 }, b: { size: -1, concurrency: 1 } } }),
    ).toThrow('size must be an integer or Infinity >= 0, got -1');
    expect(group.has('a')).toBe(false);
    group.configure({ queues: { a: { size: 1, concurrency: 1 } } });
    // An existing name is updated (issue 17 item 5), but only its run-time limits may change.
    expect(() => group.configure({ queues: { a: { size: 1, concurrency: 1, queue: 'codel' } } })).toThrow(
      'queue "a" is already configured: only rate, tokenLimit, concurrency, size, deadlineMs change at run time, not queue',
    );
    // All or nothing: the bad update of b leaves a's new limits unapplied.
    group.configure({ queues: { b: { size: 0, concurrency: 1 } } });
    expect(() => group.configure({ queues: { a: { size: 5, concurrency: 3 }, b: { concurrency: 0 } } })).toThrow(
      'concurrency must be an integer or Infinity >= 1, got 0',
    );
    expect(group.stats('a').configuration).toMatchObject({ size: 1, concurrency: 1 });
    group.configure({ queues: { a: { size: 1, concurrency: 2 } } });
    expect(group.stats('a').configuration).toMatchObject({ size: 1, concurrency: 2 });
    group.close();
    expect(group.has('a')).toBe(false);
  });
});
