import type { DropStrategy } from './DropStrategy.js';

/** Keeps what is buffered: a push into a full buffer is refused (reason `queue_full`). */
export class DropNewest implements DropStrategy {
  readonly name = 'drop_newest' as const;

  admit(full: boolean): 'accept' | 'reject' {
    return full ? 'reject' : 'accept';
  }
}
