import { rejectExtraArguments, rejectUnknownOptions, validateObject, validateOneOf } from '@valve/core';
import type { BackpressureStrategy } from '../types.js';
import { Block } from './Block.js';
import { DropNewest } from './DropNewest.js';
import { DropOldest } from './DropOldest.js';
import type { DropStrategy } from './DropStrategy.js';
import { Sample } from './Sample.js';

export const STRATEGIES: readonly BackpressureStrategy[] = Object.freeze([
  'block',
  'drop_oldest',
  'drop_newest',
  'sample',
]);

/** The strategy object for a `strategy` option value. */
export function createStrategy(name: BackpressureStrategy, options: { sampleRate?: number } = {}): DropStrategy {
  // biome-ignore lint/complexity/noArguments: counts the arguments to refuse an extra one; a rest parameter would allocate
  rejectExtraArguments(arguments.length, 2, 'createStrategy()');
  validateObject(options, 'options');
  rejectUnknownOptions(options, 'options', ['sampleRate']);
  switch (validateOneOf(name, 'strategy', STRATEGIES)) {
    case 'block':
      return new Block();
    case 'drop_oldest':
      return new DropOldest();
    case 'drop_newest':
      return new DropNewest();
    case 'sample':
      return new Sample(options.sampleRate);
  }
}
