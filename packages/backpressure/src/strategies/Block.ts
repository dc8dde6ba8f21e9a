import type { DropStrategy } from './DropStrategy.js';

/**
 * Slows producers down: a push into a full buffer waits (FIFO, no polling) until space frees,
 * up to `maxBlockTimeMs`. The synchronous `offer()` cannot wait and refuses instead.
 */
export class Block implements DropStrategy {
  readonly name = 'block' as const;

  admit(full: boolean): 'accept' | 'wait' {
    return full ? 'wait' : 'accept';
  }
}
