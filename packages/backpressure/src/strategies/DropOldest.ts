import { rejectExtraArguments } from '@valve/core';
import type { DropStrategy } from './DropStrategy.js';

/** Keeps the newest data: a full buffer evicts its oldest item (reported, reason `evicted`). */
export class DropOldest implements DropStrategy {
  readonly name = 'drop_oldest' as const;

  constructor() {
    // biome-ignore lint/complexity/noArguments: counts the arguments to refuse an extra one; a rest parameter would allocate
    rejectExtraArguments(arguments.length, 0, 'new DropOldest()');
  }

  admit(full: boolean): 'accept' | 'evict' {
    return full ? 'evict' : 'accept';
  }
}
