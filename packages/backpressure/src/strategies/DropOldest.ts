import type { DropStrategy } from './DropStrategy.js';

/** Keeps the newest data: a full buffer evicts its oldest item (reported, reason `evicted`). */
export class DropOldest implements DropStrategy {
  readonly name = 'drop_oldest' as const;

  admit(full: boolean): 'accept' | 'evict' {
    return full ? 'evict' : 'accept';
  }
}
