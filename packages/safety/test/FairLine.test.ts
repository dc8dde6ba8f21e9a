// FairLine and PriorityClasses alone: the order they serve in, parking, eviction, put-back.
import { describe, expect, it } from 'vitest';
import { FairFlow, FairLine, PriorityClasses } from '../src/index.js';

interface Item {
  gone: boolean;
  flow: FairFlow;
  name: string;
  priority: number;
  cost?: number;
}

function items(line: { push(i: Item): void }, flow: FairFlow, prefix: string, n: number, priority = 0): Item[] {
  const out: Item[] = [];
  for (let i = 0; i < n; i++) {
    const item = { gone: false, flow, name: `${prefix}${i}`, priority };
    line.push(item);
    out.push(item);
  }
  return out;
}

function takeAll(line: { take(): Item | undefined }): string[] {
  const out: string[] = [];
  for (let i = line.take(); i !== undefined; i = line.take()) out.push(i.name);
  return out;
}

describe('FairLine', () => {
  it('serves flows round robin: a heavy flow gets one turn per round like the others', () => {
    const line = new FairLine<Item>();
    const [a, b, c] = [new FairFlow(), new FairFlow(), new FairFlow()];
    items(line, a, 'a', 5);
    items(line, b, 'b', 2);
    items(line, c, 'c', 1);
    expect(line.size).toBe(8);
    expect(takeAll(line)).toEqual(['a0', 'b0', 'c0', 'a1', 'b1', 'a2', 'a3', 'a4']);
  });

  it('a flow that becomes active is served before the backlogged round (sparse flows first)', () => {
    const line = new FairLine<Item>();
    const [heavy, light] = [new FairFlow(), new FairFlow()];
    items(line, heavy, 'h', 4);
    expect(line.take()?.name).toBe('h0');
    expect(line.take()?.name).toBe('h1');
    items(line, light, 'l', 1);
    expect(line.take()?.name).toBe('l0');
    expect(takeAll(line)).toEqual(['h2', 'h3']);
  });

  it('deficit round robin: quantum 2 gets two starts per round, a cost-2 waiter one per two rounds', () => {
    const line = new FairLine<Item>();
    const [big, small] = [new FairFlow(2), new FairFlow()];
    items(line, big, 'B', 5);
    items(line, small, 's', 3);
    // Fresh turns first (one quantum each), then rounds of 2 for B and 1 for s.
    expect(takeAll(line)).toEqual(['B0', 'B1', 's0', 'B2', 'B3', 's1', 'B4', 's2']);
    const costly = new FairFlow();
    const plain = new FairFlow();
    line.push({ gone: false, flow: costly, name: 'x', priority: 0, cost: 2 });
    items(line, plain, 'p', 3);
    expect(takeAll(line)).toEqual(['p0', 'x', 'p1', 'p2']);
  });

  it('putBack restores the waiter at the front of its flow with its credit', () => {
    const line = new FairLine<Item>();
    const [a, b] = [new FairFlow(), new FairFlow()];
    items(line, a, 'a', 2);
    items(line, b, 'b', 1);
    const first = line.take()!;
    line.putBack(first);
    expect(line.size).toBe(3);
    expect(takeAll(line)).toEqual(['a0', 'b0', 'a1']);
    const only = new FairFlow();
    const [z] = items(line, only, 'z', 1);
    expect(line.take()).toBe(z);
    line.putBack(z!);
    expect(line.size).toBe(1);
    expect(line.take()).toBe(z);
  });

  it('a parked flow keeps its waiters but is not served; unpark puts it back', () => {
    const line = new FairLine<Item>();
    const [a, b] = [new FairFlow(), new FairFlow()];
    items(line, a, 'a', 2);
    items(line, b, 'b', 1);
    line.park(a);
    expect(line.size).toBe(1);
    expect(line.queued).toBe(3);
    expect(takeAll(line)).toEqual(['b0']);
    items(line, a, 'a', 1);
    expect(line.take()).toBeUndefined();
    line.unpark(a);
    expect(line.size).toBe(3);
    expect(takeAll(line).length).toBe(3);
  });

  it('remove from the middle; an emptied flow leaves the round and forgets its credit', () => {
    const line = new FairLine<Item>();
    const [a, b] = [new FairFlow(), new FairFlow()];
    const as = items(line, a, 'a', 3);
    items(line, b, 'b', 1);
    expect(line.remove(as[1]!)).toBe(true);
    expect(line.remove(as[1]!)).toBe(false);
    for (const i of as) line.remove(i);
    expect(a.listed).toBe(0);
    expect(a.deficit).toBe(0);
    expect(takeAll(line)).toEqual(['b0']);
  });

  it('evictNewest takes the newest waiter of the longest flow, only when longer than asked', () => {
    const line = new FairLine<Item>();
    const [a, b] = [new FairFlow(), new FairFlow()];
    items(line, a, 'a', 3);
    items(line, b, 'b', 1);
    expect(line.evictNewest(3)).toBeUndefined();
    expect(line.evictNewest(2)?.name).toBe('a2');
    expect(line.queued).toBe(3);
  });
});

describe('PriorityClasses', () => {
  it('serves the highest class first and evicts from the lowest class below the newcomer', () => {
    const line = new PriorityClasses<Item>(3);
    const f = [new FairFlow(), new FairFlow(), new FairFlow()];
    items(line, f[0]!, 'low', 2, 0);
    items(line, f[1]!, 'mid', 1, 1);
    items(line, f[2]!, 'top', 1, 2);
    expect(line.size).toBe(4);
    expect(line.evictBelow(0)).toBeUndefined();
    expect(line.evictBelow(2)?.name).toBe('low1');
    expect(takeAll(line)).toEqual(['top0', 'mid0', 'low0']);
    expect(line.queued).toBe(0);
  });
});
