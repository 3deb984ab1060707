/*
 * In-process cache (embedded default)
 * ===================================
 * An LRU bounded by entry count (the seed's cache.memory.maxSize) with per-entry TTL.
 */
import { LRUCache } from 'lru-cache';
import type { CachePort } from './cache-port.js';

export interface MemoryCache extends CachePort {
  clear(): void;
}

export function createMemoryCache(options: { maxSize: number; ttlSeconds: number }): MemoryCache {
  const lru = new LRUCache<string, string>({ max: options.maxSize, ttl: options.ttlSeconds * 1000, ttlAutopurge: false });
  return {
    kind: 'memory',
    get: async (key) => lru.get(key),
    async set(key, value, ttlSeconds) {
      lru.set(key, value, { ttl: (ttlSeconds ?? options.ttlSeconds) * 1000 });
    },
    async delete(key) {
      lru.delete(key);
    },
    clear: () => lru.clear(),
    async ping() {},
    async close() {
      lru.clear();
    },
  };
}
