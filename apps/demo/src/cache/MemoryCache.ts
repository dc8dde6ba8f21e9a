/**
 * An in-process TTL cache: a Map in insertion order, so the oldest entry is evicted first when
 * `maxEntries` is reached (O(1): Map iteration starts at the oldest key). Expired entries are
 * removed when read; a full map evicts before it grows.
 */
import type { Cache } from './Cache.js';

export interface MemoryCacheOptions {
  /** Upper bound on entries. @default 100_000 */
  maxEntries?: number;
  /** Milliseconds now; injectable for tests. @default performance.now */
  now?: () => number;
}

export class MemoryCache implements Cache {
  readonly kind = 'memory' as const;
  private readonly entries = new Map<string, { value: string; expiresAt: number }>();
  private readonly maxEntries: number;
  private readonly now: () => number;

  constructor(options: MemoryCacheOptions = {}) {
    this.maxEntries = options.maxEntries ?? 100_000;
    if (!Number.isInteger(this.maxEntries) || this.maxEntries < 1) {
      throw new RangeError(`maxEntries must be an integer >= 1, got ${options.maxEntries}`);
    }
    this.now = options.now ?? (() => performance.now());
  }

  get size(): number {
    return this.entries.size;
  }

  async get(key: string): Promise<string | undefined> {
    const entry = this.entries.get(key);
    if (entry === undefined) return undefined;
    if (entry.expiresAt <= this.now()) {
      this.entries.delete(key);
      return undefined;
    }
    return entry.value;
  }

  async set(key: string, value: string, ttlMs: number): Promise<void> {
    // Re-inserting moves the key to the newest end, so eviction order stays oldest-written first.
    this.entries.delete(key);
    if (this.entries.size >= this.maxEntries) {
      const oldest = this.entries.keys().next().value;
      if (oldest !== undefined) this.entries.delete(oldest);
    }
    this.entries.set(key, { value, expiresAt: this.now() + ttlMs });
  }

  async delete(key: string): Promise<void> {
    this.entries.delete(key);
  }

  async close(): Promise<void> {
    this.entries.clear();
  }
}
