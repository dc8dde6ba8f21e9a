/**
 * The settlement of one `pushDurable()`: resolved once its item is written, rejected once it is
 * dead-lettered or dropped. Carried next to the item (a ring parallel to the buffer, then an
 * array parallel to the batch), so items need no identity of their own and an acknowledgement
 * can never be settled by another occurrence of an equal item.
 */
export interface Ack {
  resolve(): void;
  reject(error: unknown): void;
}

/** Settles every acknowledgement in `acks` (holes are items pushed without one) as failed. */
export function rejectAcks(acks: readonly (Ack | undefined)[] | undefined, error: unknown): void {
  if (acks === undefined) return;
  for (const ack of acks) ack?.reject(error);
}
