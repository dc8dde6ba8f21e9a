import { describe as suite, expect, it } from 'vitest';
import {
  describeValue,
  rejectExtraArguments,
  rejectUnknownOptions,
  ManualClock,
  MetricsRegistry,
  systemClock,
  validateBoolean,
  validateClock,
  validateFunction,
  validateInteger,
  validateMetrics,
  validateNumber,
  validateObject,
  validateOneOf,
  validateSignal,
  validateString,
} from '../src/index.js';

const throws = (fn: () => unknown, type: ErrorConstructor, message: string) => {
  expect(fn).toThrow(type);
  expect(fn).toThrow(message);
};

suite('validators', () => {
  it('describe() renders received values', () => {
    expect(
      [1, 'x', 2n, null, undefined, [], {}, Symbol('s'), () => {}, function named() {}].map(describeValue),
    ).toEqual([
      '1',
      '"x"',
      '2n',
      'null',
      'undefined',
      'an array',
      'an object',
      'Symbol(s)',
      'function (anonymous)',
      'function named',
    ]);
  });

  it('validateInteger: every boundary', () => {
    expect(validateInteger(1, 'maxWorkers', { min: 1 })).toBe(1);
    throws(() => validateInteger(0, 'maxWorkers', { min: 1 }), RangeError, 'maxWorkers must be an integer >= 1, got 0');
    throws(
      () => validateInteger(1.5, 'maxWorkers', { min: 1 }),
      RangeError,
      'maxWorkers must be an integer >= 1, got 1.5',
    );
    throws(() => validateInteger(Number.NaN, 'n'), TypeError, 'n must be an integer, got NaN');
    throws(
      () => validateInteger('1', 'n', { min: 0, max: 5 }),
      TypeError,
      'n must be an integer >= 0 and <= 5, got "1"',
    );
    throws(() => validateInteger(6, 'n', { min: 0, max: 5 }), RangeError, 'n must be an integer >= 0 and <= 5, got 6');
    expect(validateInteger(5, 'n', { max: 5 })).toBe(5);
    throws(() => validateInteger(2 ** 53, 'n'), RangeError, 'n must be an integer, got 9007199254740992');
    throws(
      () => validateInteger(Number.POSITIVE_INFINITY, 'n', { min: 1 }),
      RangeError,
      'n must be an integer >= 1, got Infinity',
    );
    expect(validateInteger(Number.POSITIVE_INFINITY, 'n', { min: 1, allowInfinity: true })).toBe(
      Number.POSITIVE_INFINITY,
    );
    throws(
      () => validateInteger(Number.NEGATIVE_INFINITY, 'n', { allowInfinity: true }),
      RangeError,
      'n must be an integer or Infinity, got -Infinity',
    );
    throws(() => validateInteger(0, 'n', { above: 0 }), RangeError, 'n must be an integer > 0, got 0');
  });

  it('validateNumber: every boundary', () => {
    expect(validateNumber(0, 'ratio', { min: 0, max: 1 })).toBe(0);
    expect(validateNumber(1, 'ratio', { min: 0, max: 1 })).toBe(1);
    throws(
      () => validateNumber(1.0001, 'ratio', { min: 0, max: 1 }),
      RangeError,
      'ratio must be a finite number >= 0 and <= 1, got 1.0001',
    );
    throws(() => validateNumber(-0.1, 'ratio', { min: 0 }), RangeError, 'ratio must be a finite number >= 0, got -0.1');
    throws(() => validateNumber(0, 'hz', { above: 0 }), RangeError, 'hz must be a finite number > 0, got 0');
    expect(validateNumber(1e-9, 'hz', { above: 0 })).toBe(1e-9);
    throws(() => validateNumber(null, 'hz'), TypeError, 'hz must be a finite number, got null');
    throws(
      () => validateNumber(Number.POSITIVE_INFINITY, 'ms'),
      RangeError,
      'ms must be a finite number, got Infinity',
    );
    expect(validateNumber(Number.POSITIVE_INFINITY, 'ms', { allowInfinity: true })).toBe(Number.POSITIVE_INFINITY);
    throws(() => validateNumber(Number.NaN, 'ms', { allowInfinity: true }), TypeError, 'ms must be a number, got NaN');
  });

  it('the other validators name the option, the value and what is allowed', () => {
    expect(validateFunction(Math.max, 'fn')).toBe(Math.max);
    throws(() => validateFunction('f', 'onDrop'), TypeError, 'onDrop must be a function, got "f"');
    expect(validateBoolean(false, 'unref')).toBe(false);
    throws(() => validateBoolean(0, 'unref'), TypeError, 'unref must be a boolean, got 0');
    expect(validateString('', 'name')).toBe('');
    throws(() => validateString('', 'name', { nonEmpty: true }), TypeError, 'name must be a non-empty string, got ""');
    throws(() => validateString(1, 'name'), TypeError, 'name must be a string, got 1');
    expect(validateOneOf('drop_oldest', 'strategy', ['drop_oldest', 'block'])).toBe('drop_oldest');
    throws(
      () => validateOneOf('drop', 'strategy', ['drop_oldest', 'block']),
      TypeError,
      'strategy must be one of "drop_oldest", "block", got "drop"',
    );
    expect(validateObject({ a: 1 }, 'options')).toEqual({ a: 1 });
    throws(() => validateObject([], 'options'), TypeError, 'options must be an object, got an array');
    throws(() => validateObject(null, 'options'), TypeError, 'options must be an object, got null');
    const signal = new AbortController().signal;
    expect(validateSignal(signal, 'signal')).toBe(signal);
    expect(validateSignal(undefined, 'signal')).toBeUndefined();
    expect(validateSignal(AbortSignal.abort(), 'signal')?.aborted).toBe(true);
    // A signal-like object (another realm's, a polyfill's) is checked by shape.
    const like = { aborted: false, addEventListener() {} };
    expect(validateSignal(like, 'signal')).toBe(like);
    throws(() => validateSignal({ aborted: 'no', addEventListener() {} }, 'signal'), TypeError, 'signal must be');
    throws(() => validateSignal({}, 'signal'), TypeError, 'signal must be an AbortSignal, got an object');
  });

  it('rejectUnknownOptions names the typo and the known options', () => {
    expect(() => rejectUnknownOptions({ maxWorkers: 1 }, 'options', ['maxWorkers'])).not.toThrow();
    throws(
      () => rejectUnknownOptions({ maxWorker: 1 }, 'options', ['maxWorkers', 'clock']),
      TypeError,
      'options.maxWorker is not a known option; known options are maxWorkers, clock',
    );
  });

  it('rejectExtraArguments names the call and how many arguments it takes', () => {
    expect(() => rejectExtraArguments(1, 1, 'new Pool()')).not.toThrow();
    expect(() => rejectExtraArguments(0, 2, 'new Pool()')).not.toThrow();
    throws(() => rejectExtraArguments(2, 1, 'new Pool()'), TypeError, 'new Pool() takes at most 1 argument, got 2');
    throws(() => rejectExtraArguments(3, 2, 'new Pool()'), TypeError, 'new Pool() takes at most 2 arguments, got 3');
    throws(() => rejectExtraArguments(1, 0, 'new Pool()'), TypeError, 'new Pool() takes no arguments, got 1');
  });

  it('validateClock: undefined is systemClock; anything without now() and setTimeout() throws', () => {
    expect(validateClock(undefined)).toBe(systemClock);
    const clock = new ManualClock();
    expect(validateClock(clock)).toBe(clock);
    const own = { now: () => 0, setTimeout: () => ({ clear() {}, ref() {}, unref() {} }) };
    expect(validateClock(own)).toBe(own);
    throws(
      () => validateClock({ now: () => 0 }),
      TypeError,
      'clock must be a Clock (an object with now() and setTimeout()), got an object',
    );
    throws(() => validateClock(null), TypeError, 'clock must be a Clock');
    throws(() => validateClock(Date.now, 'options.clock'), TypeError, 'options.clock must be a Clock');
  });

  it('validateMetrics: undefined or a MetricsRegistry', () => {
    expect(validateMetrics(undefined)).toBeUndefined();
    const registry = new MetricsRegistry();
    expect(validateMetrics(registry)).toBe(registry);
    throws(() => validateMetrics({}), TypeError, 'metrics must be a MetricsRegistry, got an object');
    throws(() => validateMetrics(true), TypeError, 'metrics must be a MetricsRegistry, got true');
    throws(() => validateMetrics({ counter() {} }, 'options.metrics'), TypeError, 'options.metrics must be');
  });
});
