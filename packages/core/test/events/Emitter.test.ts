import { describe, expect, it, vi } from 'vitest';
import { flush } from '@valve/testkit';
import { Emitter } from '../../src/index.js';

describe('Emitter', () => {
  it('delivers to listeners in subscription order until disposed', () => {
    const e = new Emitter<number>();
    const seen: string[] = [];
    const a = e.event((v) => seen.push(`a${v}`));
    e.event((v) => seen.push(`b${v}`));
    expect(e.hasListeners).toBe(true);
    expect(e.size).toBe(2);
    e.emit(1);
    a.dispose();
    a.dispose(); // idempotent: must not remove another listener
    e.emit(2);
    expect(seen).toEqual(['a1', 'b1', 'b2']);
    expect(e.size).toBe(1);
  });

  it('the same function subscribed twice is two subscriptions', () => {
    const e = new Emitter<void>();
    let n = 0;
    const f = () => n++;
    const first = e.event(f);
    e.event(f);
    e.emit();
    first.dispose();
    e.emit();
    expect(n).toBe(3);
  });

  it('a listener disposed or added during emit does not disturb that delivery', () => {
    const e = new Emitter<number>();
    const seen: string[] = [];
    e.event((v) => {
      seen.push(`a${v}`);
      later.dispose();
      e.event((w) => seen.push(`c${w}`));
    });
    const later = e.event((v) => seen.push(`b${v}`));
    e.emit(1);
    expect(seen).toEqual(['a1', 'b1']);
    e.emit(2);
    expect(seen).toEqual(['a1', 'b1', 'a2', 'c2']);
  });

  it('a throwing listener does not stop the others; its error surfaces on a microtask', async () => {
    const e = new Emitter<number>();
    const boom = new Error('listener bug');
    const seen: number[] = [];
    e.event(() => {
      throw boom;
    });
    e.event((v) => seen.push(v));
    const queued: (() => void)[] = [];
    const spy = vi.spyOn(globalThis, 'queueMicrotask').mockImplementation((cb) => {
      queued.push(cb);
    });
    e.emit(7);
    spy.mockRestore();
    expect(seen).toEqual([7]);
    expect(queued).toHaveLength(1);
    expect(() => queued[0]!()).toThrow(boom);
    await flush();
  });

  it('hasListeners follows the listeners: none, one, two, each disposed (a listener disposing itself mid-emit too)', () => {
    const e = new Emitter<number>();
    expect(e.hasListeners).toBe(false);
    const a = e.event(() => {});
    const b = e.event(() => b.dispose());
    expect(e.hasListeners).toBe(true);
    e.emit(1);
    expect([e.hasListeners, e.size]).toEqual([true, 1]);
    a.dispose();
    expect(e.hasListeners).toBe(false);
  });

  it('rejects a non-function listener; clear() removes everyone', () => {
    const e = new Emitter<void>();
    expect(() => e.event(42 as never)).toThrow(new TypeError('listener must be a function, got number'));
    e.event(() => {});
    e.clear();
    expect(e.hasListeners).toBe(false);
  });
});
