import { ManualClock, TokenBucket } from '@valve/core';
import { describe, expect, it } from 'vitest';
import { PromisePool } from '../src/index.js';
import { FakeLimit } from './fakes.js';

describe('PromisePool options are validated at construction', () => {
  const cases: [string, unknown, string][] = [
    ['maxWorkers 0', { maxWorkers: 0 }, 'maxWorkers must be an integer or Infinity >= 1, got 0'],
    ['maxWorkers 1.5', { maxWorkers: 1.5 }, 'maxWorkers must be an integer or Infinity >= 1, got 1.5'],
    ['maxWorkers "4"', { maxWorkers: '4' }, 'maxWorkers must be an integer or Infinity >= 1, got "4"'],
    ['maxWorkers NaN', { maxWorkers: Number.NaN }, 'maxWorkers must be an integer or Infinity >= 1, got NaN'],
    ['maxWorkers {}', { maxWorkers: {} }, 'maxWorkers must be an integer >= 1, Infinity or a Limit'],
    ['unknown key', { maxWorker: 2 }, 'options.maxWorker is not a known option'],
    ['options not an object', 5, 'options must be an object, got 5'],
    ['taskTimeoutMs 0', { taskTimeoutMs: 0 }, 'taskTimeoutMs must be a finite number > 0, got 0'],
    ['runtimeLimitMs -1', { runtimeLimitMs: -1 }, 'runtimeLimitMs must be a finite number > 0, got -1'],
    ['idleTimeoutMs Infinity', { idleTimeoutMs: Infinity }, 'idleTimeoutMs must be a finite number > 0, got Infinity'],
    ['maxErrors -1', { maxErrors: -1 }, 'maxErrors must be an integer >= 0, got -1'],
    ['onError not a function', { onError: 1 }, 'onError must be a function, got 1'],
    ['name empty', { name: '' }, 'name must be a non-empty string, got ""'],
    ['retry.retries -1', { retry: { retries: -1 } }, 'retry.retries must be an integer or Infinity >= 0, got -1'],
    ['rate without hz', { rate: 5 }, 'rate and hz must be set together'],
    ['hz 0', { rate: 5, hz: 0 }, 'hz must be a finite number > 0, got 0'],
    ['rate 0', { rate: 0, hz: 1000 }, 'rate must be an integer >= 1, got 0'],
    ['tokenLimit 0', { rate: 1, hz: 1000, tokenLimit: 0 }, 'tokenLimit must be an integer >= 1, got 0'],
    [
      'clock without setTimeout',
      { clock: { now: () => 0 } },
      'clock must be a Clock (an object with now() and setTimeout())',
    ],
    ['rateSource not a source', { rateSource: {} }, 'rateSource.tryAcquire must be a function'],
    ['concurrencySource not a source', { concurrencySource: 3 }, 'concurrencySource must be an object, got 3'],
  ];
  for (const [name, options, message] of cases) {
    it(`rejects ${name}`, () => {
      expect(() => new PromisePool(options as never)).toThrow(message);
    });
  }

  it('rejects maxWorkers together with concurrencySource', () => {
    const source = { limit: 1, inUse: 0, tryAcquire() {}, acquire() {}, onAvailable() {} };
    expect(() => new PromisePool({ maxWorkers: 2, concurrencySource: source as never })).toThrow(
      'maxWorkers and concurrencySource cannot both be set',
    );
  });

  it('rejects rate/hz/tokenLimit together with rateSource', () => {
    const clock = new ManualClock();
    const rateSource = new TokenBucket({ tokenLimit: 1, clock });
    expect(() => new PromisePool({ rate: 1, hz: 10, rateSource, clock })).toThrow(
      'rate/hz/tokenLimit and rateSource cannot both be set',
    );
  });

  it('accepts the boundaries', () => {
    expect(new PromisePool({ maxWorkers: 1 }).limit).toBe(1);
    expect(new PromisePool({ maxWorkers: Infinity }).limit).toBe(Infinity);
    expect(new PromisePool({ maxWorkers: new FakeLimit(3) }).limit).toBe(3);
    expect(() => new PromisePool({ maxErrors: 0, taskTimeoutMs: 0.5, retry: 0, rate: 1, hz: 0.5 })).not.toThrow();
    expect(() => new PromisePool(undefined)).not.toThrow();
  });
});

describe('a rejected construction leaves nothing behind', () => {
  it('subscribes to no source or limit when a later option is invalid', () => {
    let subscribed = 0;
    const onAvailable = () => {
      subscribed++;
      return { dispose() {} };
    };
    const source = { limit: 1, inUse: 0, tryAcquire() {}, acquire() {}, onAvailable };
    expect(() => new PromisePool({ concurrencySource: source as never, rate: 0, hz: 10 })).toThrow('rate must be');
    const limit = new FakeLimit(2);
    const onChange = limit.onChange;
    let limitSubs = 0;
    Object.defineProperty(limit, 'onChange', {
      value: (l: (n: number) => void) => {
        limitSubs++;
        return onChange(l);
      },
    });
    expect(() => new PromisePool({ maxWorkers: limit, rate: 1 })).toThrow('rate and hz must be set together');
    expect(subscribed + limitSubs).toBe(0);
    // A valid pool listens to its sources only while something waits (core's Admission).
    const pool = new PromisePool({ concurrencySource: source as never });
    expect(subscribed).toBe(0);
    void pool.run(async () => {});
    expect(subscribed).toBe(1);
  });
});
