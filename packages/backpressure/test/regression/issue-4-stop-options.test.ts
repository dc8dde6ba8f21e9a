/**
 * Review of issue 4 (P3): `stop(null)` failed on `options.drain` of null. Options of `stop()` and
 * `push()` are validated, leaving the controller as it was. Issue 14 made one rule for bad input
 * in every valve: a bad option throws a TypeError synchronously (it used to reject here).
 */
import { describe, expect, it } from 'vitest';
import { recordingSink, setup } from '../helpers.js';

describe('issue 4 review, issue 14: bad options throw and change nothing', () => {
  it('stop(null) throws a TypeError and does not stop', async () => {
    const { controller } = setup(recordingSink<number>().flush);
    expect(() => controller.stop(null as never)).toThrow(new TypeError('options must be an object, got null'));
    expect(controller.offer(1)).toBe(true);
    await controller.stop({ drain: true });
    expect(controller.offer(2)).toBe(false);
  });

  it.each([
    [5, 'options must be an object, got 5'],
    [{ drain: 'yes' }, 'options.drain must be a boolean, got "yes"'],
    [{ drian: true }, 'options.drian is not a known option; known options are drain'],
  ])('stop(%o) throws: %s', (options, message) => {
    const { controller } = setup(recordingSink<number>().flush);
    expect(() => controller.stop(options as never)).toThrow(message);
  });

  it('stop() after stop() still validates its options', async () => {
    const { controller } = setup(recordingSink<number>().flush);
    await controller.stop();
    expect(() => controller.stop(null as never)).toThrow(TypeError);
    await expect(controller.stop()).resolves.toBeUndefined();
  });

  it('push(item, null) and push(item, { signal: 1 }) throw a TypeError and accept nothing', () => {
    const { controller } = setup(recordingSink<number>().flush);
    expect(() => controller.push(1, null as never)).toThrow(new TypeError('options must be an object, got null'));
    expect(() => controller.push(1, { signal: 1 as never })).toThrow('options.signal must be an AbortSignal');
    expect(() => controller.push(1, { sginal: undefined } as never)).toThrow('options.sginal is not a known option');
    expect(() => controller.pushDurable(1, null as never)).toThrow('options must be an object, got null');
    expect(controller.stats()).toMatchObject({ accepted: 0, refused: 0 });
  });
});
