/*
 * Cache hit and miss counting
 * ===========================
 * Wraps any cache adapter so every look-up counts as a hit or a miss in
 * cache_hits_total / cache_misses_total, by backend and key space (the key's first
 * segment: `rag`, `registry`, `emb`). The adapters stay unaware of metrics, and every
 * engine's look-ups are counted without the engine doing anything.
 */
import type { Counter } from 'prom-client';
import type { CachePort } from './cache-port.js';

export interface CacheCounters {
  cacheHits: Counter<'backend' | 'keyspace'>;
  cacheMisses: Counter<'backend' | 'keyspace'>;
}

function keyspace(key: string): string {
  const colon = key.indexOf(':');
  return colon > 0 ? key.slice(0, colon) : 'other';
}

export function countedCache(cache: CachePort, counters: CacheCounters): CachePort {
  return {
    kind: cache.kind,
    async get(key) {
      const value = await cache.get(key);
      (value === undefined ? counters.cacheMisses : counters.cacheHits).inc({ backend: cache.kind, keyspace: keyspace(key) });
      return value;
    },
    set: (key, value, ttlSeconds) => cache.set(key, value, ttlSeconds),
    delete: (key) => cache.delete(key),
    ping: () => cache.ping(),
    close: () => cache.close(),
  };
}
