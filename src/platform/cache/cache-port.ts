/*
 * Cache port
 * ==========
 * String values under string keys with a time to live. A cache is an optimisation: the
 * adapters turn backend failures into misses (and say so in the log) instead of failing the
 * request; `ping` is what /ready uses to report the backend's health.
 */

export interface CachePort {
  readonly kind: 'memory' | 'redis' | 'memory+redis';
  get(key: string): Promise<string | undefined>;
  set(key: string, value: string, ttlSeconds?: number): Promise<void>;
  delete(key: string): Promise<void>;
  ping(): Promise<void>;
  close(): Promise<void>;
}
