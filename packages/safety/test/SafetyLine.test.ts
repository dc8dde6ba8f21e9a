// SafetyLine alone: the WaitLine core's Admission serves (FIFO, adaptive LIFO, CoDel's dequeue).
import { AsyncResource } from 'node:async_hooks';
import { describe, expect, it } from 'vitest';
import { CoDel } from '../src/CoDel.js';
import { type QueuedJob, SafetyLine } from '../src/SafetyLine.js';

function job(name: string, enqueuedAt: number): QueuedJob & { name: string } {
  return {
    name,
    gone: false,
    enqueuedAt,
    fn: undefined,
    weight: 1,
    timeoutMs: undefined,
    resolve: () => {},
    reject: () => {},
    signal: undefined,
    signalGroup: undefined,
    signalPrev: undefined,
    signalNext: undefined,
    context: new AsyncResource('test'),
    timer: undefined,
  };
}

const nameOf = (j: QueuedJob | undefined) => (j as (QueuedJob & { name: string }) | undefined)?.name;
const names = (jobs: (QueuedJob | undefined)[]) => jobs.map(nameOf);

describe('SafetyLine', () => {
  it('FIFO: takes in arrival order, reads no clock, puts a refused job back at the front', () => {
    const line = new SafetyLine(undefined, undefined, false, () => {});
    expect(line.timed).toBe(false);
    for (const [i, n] of ['a', 'b', 'c'].entries()) line.push(job(n, i), i);
    const a = line.take(0)!;
    line.putBack(a);
    expect(names([line.take(0), line.take(0), line.take(0), line.take(0)])).toEqual(['a', 'b', 'c', undefined]);
    expect(line.size).toBe(0);
  });

  it('is timed when a sojourn is recorded, or the discipline needs the time', () => {
    expect(new SafetyLine(undefined, undefined, true, () => {}).timed).toBe(true);
    expect(new SafetyLine(undefined, 100, false, () => {}).timed).toBe(true);
    expect(new SafetyLine(new CoDel(5, 100), undefined, false, () => {}).timed).toBe(true);
  });

  it('removal from the middle is skipped; nonEmptySince is when the line last became non-empty', () => {
    const line = new SafetyLine(undefined, undefined, false, () => {});
    const [a, b, c] = [job('a', 10), job('b', 11), job('c', 12)];
    line.push(a, 10);
    line.push(b, 11);
    line.push(c, 12);
    expect(line.nonEmptySince).toBe(10);
    expect(line.remove(b)).toBe(true);
    expect(line.remove(b)).toBe(false);
    expect(names([line.take(0), line.take(0)])).toEqual(['a', 'c']);
    line.push(job('d', 50), 50);
    expect(line.nonEmptySince).toBe(50);
  });

  it('adaptive LIFO: the oldest until the line has stood for intervalMs, then the newest', () => {
    const line = new SafetyLine(undefined, 100, false, () => {});
    for (const [i, n] of ['a', 'b', 'c', 'd'].entries()) line.push(job(n, i), i);
    expect(names([line.take(99)])).toEqual(['a']);
    expect(names([line.take(100), line.take(100)])).toEqual(['d', 'c']);
    // One left: no choice to make.
    expect(names([line.take(100)])).toEqual(['b']);
  });

  it('CoDel: heads it drops are handed to drop() before take returns', () => {
    const dropped: string[] = [];
    const line = new SafetyLine(new CoDel(5, 100), undefined, false, (j) => dropped.push(nameOf(j)!));
    for (const [i, n] of ['a', 'b', 'c', 'd'].entries()) line.push(job(n, i), i);
    // First sojourn above target starts the interval; none dropped yet.
    expect(names([line.take(10)])).toEqual(['a']);
    // An interval later still above target: CoDel enters dropping, drops the head and serves the next.
    expect(names([line.take(200)])).toEqual(['c']);
    expect(dropped).toEqual(['b']);
  });
});
