import { RingBuffer } from '@valve/core';

/** What the queue needs to know about a waiting job. */
export interface QueuedEntry {
  /** Set once the job left the queue (started, dropped, aborted, expired); written by the valve. */
  gone: boolean;
  /** When the job entered the queue, by the valve's clock. */
  readonly enqueuedAt: number;
}

/**
 * The valve's waiting jobs in arrival order, served from either end (FIFO from the front,
 * adaptive LIFO from the back).
 *
 * A job that leaves from the middle (abort, deadline) is only marked `gone` and skipped when it
 * reaches an end, so removal is O(1); once dead entries outnumber live ones (and there are at
 * least 64) the buffer is compacted, so abort storms cannot grow it without bound. Invariant:
 * `live` counts the entries with `gone === false`.
 */
export class JobQueue<J extends QueuedEntry> {
  private readonly items = new RingBuffer<J>();
  private live = 0;

  get size(): number {
    return this.live;
  }

  push(job: J): void {
    this.items.push(job);
    this.live++;
  }

  /** Puts a job taken by `shift` back at the front (CoDel served it, but LIFO serves another). */
  unshift(job: J): void {
    job.gone = false;
    this.items.unshift(job);
    this.live++;
  }

  /** Removes and returns the oldest live job. */
  shift(): J | undefined {
    for (;;) {
      const job = this.items.shift();
      if (job === undefined) return undefined;
      if (job.gone) continue;
      job.gone = true;
      this.live--;
      return job;
    }
  }

  /** Removes and returns the newest live job. */
  pop(): J | undefined {
    for (;;) {
      const job = this.items.pop();
      if (job === undefined) return undefined;
      if (job.gone) continue;
      job.gone = true;
      this.live--;
      return job;
    }
  }

  /** The oldest live job, without removing it. */
  peek(): J | undefined {
    for (;;) {
      const job = this.items.peek();
      if (job === undefined) return undefined;
      if (!job.gone) return job;
      this.items.shift();
    }
  }

  /** Marks a job that left from the middle; the caller checked `job.gone === false`. */
  remove(job: J): void {
    job.gone = true;
    this.live--;
    const total = this.items.size;
    if (total >= 64 && total >= this.live * 2) {
      const keep: J[] = [];
      for (const j of this.items) if (!j.gone) keep.push(j);
      this.items.clear();
      for (const j of keep) this.items.push(j);
    }
  }

  /** Removes and returns every live job, oldest first. */
  drain(): J[] {
    const out: J[] = [];
    for (let job = this.shift(); job !== undefined; job = this.shift()) out.push(job);
    return out;
  }

  /** Entries held, dead ones included (for the no-unbounded-growth tests). */
  get capacityUsed(): number {
    return this.items.size;
  }
}
