/*
 * Cache port
 * ==========
 * String values under string keys with a time to live. A cache is an optimisation: the
 * adapters turn backend failures into misses (and say so in the log) instead of failing the
 * request; `ping` is what /ready uses to report the backend's health.
 *
 * A value must never change under its key (a digest, or a generation read from SQL with the
 * data, in the key): a fill racing a write then stores a value that is still true for its key,
 * so no cache level can serve a stale one and nothing needs invalidating. `delete` drops a key
 * on every replica but does not stop a fill already under way from writing it again.
 */

export interface CachePort {
  readonly kind: 'memory' | 'redis' | 'memory+redis';
  get(key: string): Promise<string | undefined>;
  set(key: string, value: string, ttlSeconds?: number): Promise<void>;
  delete(key: string): Promise<void>;
  ping(): Promise<void>;
  close(): Promise<void>;
}
