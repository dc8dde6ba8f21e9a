import { rejectExtraArguments } from '@valve/core';
import type { DropStrategy } from './DropStrategy.js';

/** Keeps what is buffered: a push into a full buffer is refused (reason `queue_full`). */
export class DropNewest implements DropStrategy {
  readonly name = 'drop_newest' as const;

  constructor() {
    // biome-ignore lint/complexity/noArguments: counts the arguments to refuse an extra one; a rest parameter would allocate
    rejectExtraArguments(arguments.length, 0, 'new DropNewest()');
  }

  admit(full: boolean): 'accept' | 'reject' {
    return full ? 'reject' : 'accept';
  }
}
