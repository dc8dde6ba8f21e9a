/**
 * Review of issue 4 (P3): `stop(null)` threw synchronously (`options.drain` of null) from a
 * method that returns a promise. Options of `stop()` and `push()` are validated and a bad value
 * rejects with a TypeError, leaving the controller as it was.
 */
import { describe, expect, it } from 'vitest';
import { recordingSink, setup } from '../helpers.js';

describe('issue 4 review: bad options reject, never throw', () => {
  it('stop(null) returns a promise rejected with a TypeError and does not stop', async () => {
    const { controller } = setup(recordingSink<number>().flush);
    let result: Promise<void> | undefined;
    expect(() => {
      result = controller.stop(null as never);
    }).not.toThrow();
    await expect(result).rejects.toThrow(new TypeError('options must be an object, got null'));
    expect(controller.offer(1)).toBe(true);
    await controller.stop({ drain: true });
    expect(controller.offer(2)).toBe(false);
  });

  it.each([
    [5, 'options must be an object, got 5'],
    [{ drain: 'yes' }, 'options.drain must be a boolean, got "yes"'],
  ])('stop(%o) rejects: %s', async (options, message) => {
    const { controller } = setup(recordingSink<number>().flush);
    await expect(controller.stop(options as never)).rejects.toThrow(message);
  });

  it('stop() after stop() still validates its options', async () => {
    const { controller } = setup(recordingSink<number>().flush);
    await controller.stop();
    await expect(controller.stop(null as never)).rejects.toBeInstanceOf(TypeError);
    await expect(controller.stop()).resolves.toBeUndefined();
  });

  it('push(item, null) rejects with a TypeError and accepts nothing', async () => {
    const { controller } = setup(recordingSink<number>().flush);
    await expect(controller.push(1, null as never)).rejects.toThrow(
      new TypeError('options must be an object, got null'),
    );
    expect(controller.stats()).toMatchObject({ accepted: 0, rejected: 0 });
  });
});
