import { describe, expect, it } from 'vitest';
import { BoundedRingBuffer, RingBuffer } from '../../src/index.js';

describe('RingBuffer', () => {
  it('rounds the initial capacity up to a power of two, at least 4', () => {
    expect(new RingBuffer().capacity).toBe(16);
    expect(new RingBuffer(0).capacity).toBe(4);
    expect(new RingBuffer(5).capacity).toBe(8);
    expect(new RingBuffer(1024).capacity).toBe(1024);
  });

  it('keeps FIFO order when it grows while wrapped around (Node fixed_queue 2047+1 boundary)', () => {
    const b = new RingBuffer<number>(2048);
    for (let i = 0; i < 2047; i++) b.push(i);
    for (let i = 0; i < 1000; i++) expect(b.shift()).toBe(i);
    for (let i = 2047; i < 2047 + 1001; i++) b.push(i); // exactly fills the store, wrapping around
    expect(b.size).toBe(2048);
    expect(b.capacity).toBe(2048);
    b.push(3048); // +1: grows while head is mid-array
    expect(b.capacity).toBe(4096);
    for (let i = 1000; i <= 3048; i++) expect(b.shift()).toBe(i);
    expect(b.shift()).toBeUndefined();
  });

  it('unshift and pop work across the wrap point', () => {
    const b = new RingBuffer<string>(4);
    b.unshift('b');
    b.unshift('a');
    b.push('c');
    b.push('d');
    b.push('e');
    expect(b.toArray()).toEqual(['a', 'b', 'c', 'd', 'e']);
    expect(b.pop()).toBe('e');
    expect(b.at(-1)).toBe('d');
    expect(b.at(1.5)).toBeUndefined();
    expect(b.at(4)).toBeUndefined();
  });

  it('take() with a negative, NaN or fractional max (a negative max used to throw from new Array)', () => {
    const b = new RingBuffer<number>();
    for (let i = 0; i < 5; i++) b.push(i);
    expect(b.take(-1)).toEqual([]);
    expect(b.take(Number.NaN)).toEqual([]);
    expect(b.take(1.7)).toEqual([0]);
    expect(b.take(Number.POSITIVE_INFINITY)).toEqual([1, 2, 3, 4]);
    expect(b.size).toBe(0);
  });

  it('compact() shrinks to the smallest power of two holding the items; clear() keeps capacity', () => {
    const b = new RingBuffer<number>();
    for (let i = 0; i < 100; i++) b.push(i);
    for (let i = 0; i < 95; i++) b.shift();
    expect(b.capacity).toBe(128);
    b.compact();
    expect(b.capacity).toBe(8);
    expect(b.toArray()).toEqual([95, 96, 97, 98, 99]);
    b.clear();
    expect(b.size).toBe(0);
    expect(b.capacity).toBe(8);
    expect(b.peek()).toBeUndefined();
    expect(b.peekLast()).toBeUndefined();
  });
});

describe('BoundedRingBuffer', () => {
  it('validates capacity', () => {
    expect(() => new BoundedRingBuffer(0)).toThrow(new RangeError('capacity must be an integer >= 1, got 0'));
    expect(() => new BoundedRingBuffer(1.5)).toThrow(RangeError);
    expect(() => new BoundedRingBuffer('3' as never)).toThrow(TypeError);
  });

  it('allocates lazily: a large bound reserves nothing up front', () => {
    const b = new BoundedRingBuffer<number>(1_000_000);
    expect(b.capacity).toBe(1024);
    expect(b.limit).toBe(1_000_000);
  });

  it('refuses push and unshift when full, and pushEvict returns the oldest', () => {
    const b = new BoundedRingBuffer<number>(3);
    expect(b.pushEvict(1)).toBeUndefined();
    expect(b.push(2)).toBe(true);
    expect(b.unshift(0)).toBe(true);
    expect(b.isFull).toBe(true);
    expect(b.utilization).toBe(1);
    expect(b.push(9)).toBe(false);
    expect(b.unshift(9)).toBe(false);
    expect(b.toArray()).toEqual([0, 1, 2]);
    expect(b.pushEvict(3)).toBe(0);
    expect(b.toArray()).toEqual([1, 2, 3]);
    b.shift();
    expect(b.utilization).toBeCloseTo(2 / 3, 12);
  });
});
