import { getEventListeners } from 'node:events';
import { describe, expect, it } from 'vitest';
import { SignalGroups, type SignalLinks } from '../../src/index.js';

class W implements SignalLinks<W> {
  signalGroup: unknown = undefined;
  signalPrev: W | undefined = undefined;
  signalNext: W | undefined = undefined;
  constructor(readonly id: number) {}
}

function setup() {
  const aborted: Array<[number, unknown]> = [];
  const groups = new SignalGroups<W>((w, reason) => aborted.push([w.id, reason]));
  return { groups, aborted };
}

describe('SignalGroups', () => {
  it('keeps one listener per distinct signal and hands every waiter to onAbort once', () => {
    const { groups, aborted } = setup();
    const a = new AbortController();
    const b = new AbortController();
    const ws = [0, 1, 2, 3].map((i) => new W(i));
    groups.add(a.signal, ws[0]!);
    groups.add(a.signal, ws[1]!);
    groups.add(b.signal, ws[2]!);
    groups.add(a.signal, ws[3]!);
    expect(getEventListeners(a.signal, 'abort')).toHaveLength(1);
    expect(getEventListeners(b.signal, 'abort')).toHaveLength(1);
    const reason = new Error('stop');
    a.abort(reason);
    expect(aborted.map(([id]) => id).sort()).toEqual([0, 1, 3]);
    expect(aborted.every(([, r]) => r === reason)).toBe(true);
    for (const w of [ws[0]!, ws[1]!, ws[3]!]) expect(w.signalGroup).toBeUndefined();
    expect(ws[2]!.signalGroup).toBeDefined();
  });

  it('remove() is O(1) from any position and an emptied group forgets its signal', () => {
    const { groups, aborted } = setup();
    const c = new AbortController();
    const ws = [0, 1, 2].map((i) => new W(i));
    for (const w of ws) groups.add(c.signal, w);
    groups.remove(ws[1]!); // middle
    groups.remove(ws[2]!); // head (most recent)
    groups.remove(ws[1]!); // not grouped any more: a no-op
    c.abort();
    expect(aborted.map(([id]) => id)).toEqual([0]);
    // A fresh waiter on a signal whose group emptied gets a new group; still one listener.
    const d = new AbortController();
    const x = new W(9);
    groups.add(d.signal, x);
    groups.remove(x);
    groups.add(d.signal, x);
    expect(getEventListeners(d.signal, 'abort')).toHaveLength(1);
    d.abort();
    expect(aborted.map(([id]) => id)).toEqual([0, 9]);
  });

  it('a reasonless abort hands over an AbortError', () => {
    const { groups, aborted } = setup();
    const c = new AbortController();
    groups.add(c.signal, new W(1));
    c.abort();
    expect((aborted[0]![1] as Error).name).toBe('AbortError');
  });

  it('a signal-like object gets its group as its one listener, kept while empty', () => {
    const { groups, aborted } = setup();
    const listeners: Array<{ handleEvent(): void }> = [];
    const like = {
      aborted: false,
      reason: 'why',
      addEventListener(_t: string, l: { handleEvent(): void }) {
        listeners.push(l);
      },
      removeEventListener() {},
    } as unknown as AbortSignal;
    const w1 = new W(1);
    groups.add(like, w1);
    groups.remove(w1);
    groups.add(like, new W(2));
    expect(listeners).toHaveLength(1);
    listeners[0]!.handleEvent();
    expect(aborted).toEqual([[2, 'why']]);
  });

  it('aborting 10^5 waiters on one signal is linear: one listener, every waiter once', () => {
    const { groups, aborted } = setup();
    const c = new AbortController();
    const n = 100_000;
    for (let i = 0; i < n; i++) groups.add(c.signal, new W(i));
    expect(getEventListeners(c.signal, 'abort')).toHaveLength(1);
    c.abort();
    expect(aborted).toHaveLength(n);
    expect(new Set(aborted.map(([id]) => id)).size).toBe(n);
  });
  it('the listener leaves a signal with its last waiter, so a long-lived signal holds no owner', () => {
    const { groups, aborted } = setup();
    const shutdown = new AbortController();
    const ws = [0, 1].map((i) => new W(i));
    for (const w of ws) groups.add(shutdown.signal, w);
    expect(getEventListeners(shutdown.signal, 'abort')).toHaveLength(1);
    groups.remove(ws[0]!);
    expect(getEventListeners(shutdown.signal, 'abort')).toHaveLength(1);
    groups.remove(ws[1]!);
    expect(getEventListeners(shutdown.signal, 'abort')).toHaveLength(0);
    // It comes back: listened to again, and its abort still reaches the new waiter.
    const again = new W(2);
    groups.add(shutdown.signal, again);
    expect(getEventListeners(shutdown.signal, 'abort')).toHaveLength(1);
    shutdown.abort();
    expect(aborted.map(([id]) => id)).toEqual([2]);
  });

  it('keepListening: the listener stays on an emptied signal (one, however often it comes back)', () => {
    const aborted: number[] = [];
    const groups = new SignalGroups<W>((w) => aborted.push(w.id), undefined, { keepListening: true });
    const c = new AbortController();
    const w = new W(1);
    for (let i = 0; i < 3; i++) {
      groups.add(c.signal, w);
      groups.remove(w);
      expect(getEventListeners(c.signal, 'abort')).toHaveLength(1);
    }
    groups.add(c.signal, w);
    c.abort();
    expect(aborted).toEqual([1]);
    expect(getEventListeners(c.signal, 'abort')).toHaveLength(0);
  });
  it('an onAbort that removes another waiter of the group does not cut the abort short', () => {
    // Found by review: the walk read the next waiter before onAbort, so a removed one was still
    // handed over and the waiters after it were never aborted (and stayed linked).
    const aborted: number[] = [];
    const ws = [1, 2, 3, 4].map((i) => new W(i));
    const groups = new SignalGroups<W>((w) => {
      aborted.push(w.id);
      if (w.id === 4) groups.remove(ws[2]!); // settles waiter 3 another way while handling 4
    });
    const c = new AbortController();
    for (const w of ws) groups.add(c.signal, w);
    c.abort();
    expect(aborted.sort()).toEqual([1, 2, 3, 4]);
    for (const w of ws) expect(w.signalGroup).toBeUndefined();
  });
});
