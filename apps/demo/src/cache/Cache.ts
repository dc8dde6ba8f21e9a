/**
 * The cached routes' TTL cache (the seed's cached variant put memcached in front of MySQL):
 * Redis when `REDIS_URL` is set, else an in-process map. Values are strings (JSON), as in the seed.
 */
export interface Cache {
  readonly kind: 'memory' | 'redis';
  get(key: string): Promise<string | undefined>;
  set(key: string, value: string, ttlMs: number): Promise<void>;
  delete(key: string): Promise<void>;
  close(): Promise<void>;
}
