import { describe, expect, it } from 'vitest';
import {
  abortReason,
  ClosedError,
  DroppedError,
  errorForReason,
  isValveError,
  QueueFullError,
  REASONS,
  type Reason,
  TimeoutError,
  ValveError,
} from '../../src/index.js';

describe('errors', () => {
  it('each class has its stable code, reason, name and default message', () => {
    const cases: [ValveError, string, Reason, string][] = [
      [new ClosedError(), 'ERR_VALVE_CLOSED', 'shutdown', 'ClosedError'],
      [new QueueFullError(), 'ERR_VALVE_QUEUE_FULL', 'queue_full', 'QueueFullError'],
      [new TimeoutError(), 'ERR_VALVE_TIMEOUT', 'timeout', 'TimeoutError'],
      [new TimeoutError('late', { reason: 'deadline' }), 'ERR_VALVE_TIMEOUT', 'deadline', 'TimeoutError'],
      [new DroppedError('sampled'), 'ERR_VALVE_DROPPED', 'sampled', 'DroppedError'],
    ];
    for (const [error, code, reason, name] of cases) {
      expect(error).toBeInstanceOf(ValveError);
      expect(error).toBeInstanceOf(Error);
      expect(error.code).toBe(code);
      expect(error.reason).toBe(reason);
      expect(error.name).toBe(name);
      expect(error.message.length).toBeGreaterThan(0);
      expect(isValveError(error, code)).toBe(true);
    }
    expect(new DroppedError('evicted').message).toBe('dropped (evicted)');
    expect(String(new QueueFullError('full: 10 waiting'))).toBe('QueueFullError: full: 10 waiting');
  });

  it('carries cause only when there is one', () => {
    const cause = new Error('root');
    expect(new ClosedError('closed', { cause }).cause).toBe(cause);
    expect('cause' in new ClosedError()).toBe(false);
    expect(errorForReason('overload', 'x', { cause }).cause).toBe(cause);
    expect(new ValveError('ERR_CUSTOM', 'm', { cause: 0 }).cause).toBe(0);
  });

  it('errorForReason maps every Reason once to a class and code', () => {
    const expected: Record<Reason, [new (...args: never[]) => ValveError, string]> = {
      queue_full: [QueueFullError, 'ERR_VALVE_QUEUE_FULL'],
      shutdown: [ClosedError, 'ERR_VALVE_CLOSED'],
      timeout: [TimeoutError, 'ERR_VALVE_TIMEOUT'],
      deadline: [TimeoutError, 'ERR_VALVE_TIMEOUT'],
      overload: [DroppedError, 'ERR_VALVE_DROPPED'],
      rate_limited: [DroppedError, 'ERR_VALVE_DROPPED'],
      evicted: [DroppedError, 'ERR_VALVE_DROPPED'],
      sampled: [DroppedError, 'ERR_VALVE_DROPPED'],
    };
    expect([...REASONS].sort()).toEqual(Object.keys(expected).sort());
    for (const reason of REASONS) {
      const e = errorForReason(reason, `because ${reason}`);
      const [cls, code] = expected[reason];
      expect(e).toBeInstanceOf(cls);
      expect(e.code).toBe(code);
      expect(e.reason).toBe(reason);
      expect(e.message).toBe(`because ${reason}`);
    }
    expect(Object.isFrozen(REASONS)).toBe(true);
  });

  it('isValveError recognises an error from a second copy of the module by its Symbol.for brand', () => {
    // What a CJS copy of ValveError would produce: a different class, the same global brand.
    class OtherCopyError extends Error {
      readonly code = 'ERR_VALVE_CLOSED';
      constructor() {
        super('closed elsewhere');
        Object.defineProperty(this, Symbol.for('@valve/core.ValveError'), { value: true });
      }
    }
    const foreign = new OtherCopyError();
    expect(foreign instanceof ValveError).toBe(false);
    expect(isValveError(foreign)).toBe(true);
    expect(isValveError(foreign, 'ERR_VALVE_CLOSED')).toBe(true);
    expect(isValveError(foreign, 'ERR_VALVE_TIMEOUT')).toBe(false);
  });

  it('isValveError rejects look-alikes without the brand', () => {
    expect(isValveError(Object.assign(new Error('x'), { code: 'ERR_VALVE_CLOSED' }))).toBe(false);
    for (const v of [null, undefined, 'ERR_VALVE_CLOSED', 42, {}]) expect(isValveError(v)).toBe(false);
  });

  it('abortReason returns signal.reason, or an AbortError DOMException when there is none', () => {
    const c = new AbortController();
    const reason = new Error('mine');
    c.abort(reason);
    expect(abortReason(c.signal)).toBe(reason);
    const fake = { reason: undefined } as AbortSignal;
    const e = abortReason(fake) as DOMException;
    expect(e.name).toBe('AbortError');
  });
});
