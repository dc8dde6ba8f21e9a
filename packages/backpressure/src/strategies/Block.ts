import { rejectExtraArguments } from '@valve/core';
import type { DropStrategy } from './DropStrategy.js';

/**
 * Slows producers down: a push into a full buffer waits (FIFO, no polling) until space frees,
 * up to `maxBlockTimeMs`. The synchronous `offer()` cannot wait and refuses instead.
 */
export class Block implements DropStrategy {
  readonly name = 'block' as const;

  constructor() {
    // biome-ignore lint/complexity/noArguments: counts the arguments to refuse an extra one; a rest parameter would allocate
    rejectExtraArguments(arguments.length, 0, 'new Block()');
  }

  admit(full: boolean): 'accept' | 'wait' {
    return full ? 'wait' : 'accept';
  }
}
