/*
 * Two-level cache (replicas)
 * ==========================
 * An in-process LRU in front of Redis. Reads that hit the LRU cost no round trip; every
 * write and delete is published on a Redis channel so the other replicas drop the key
 * from their LRU. The LRU is only trusted while the invalidation channel is subscribed:
 * when the subscriber connection drops, the LRU is cleared and bypassed until it is back,
 * because invalidations sent meanwhile are lost. An LRU entry never outlives the Redis
 * entry it was read from (its TTL is the remaining Redis TTL).
 */
import type { Logger } from '../log.js';
import { createRedisBroadcast } from '../redis-broadcast.js';
import type { CachePort } from './cache-port.js';
import { createMemoryCache } from './memory-cache.js';
import { openRedisCache } from './redis-cache.js';

export interface TieredCacheOptions {
  ttlSeconds: number;
  memoryMaxSize: number;
  keyPrefix?: string;
  log: Logger;
}

interface Invalidation {
  key: string;
}

export async function openTieredCache(url: string, options: TieredCacheOptions): Promise<CachePort> {
  const keyPrefix = options.keyPrefix ?? 'mcp-level3:';
  const remote = await openRedisCache(url, { ttlSeconds: options.ttlSeconds, keyPrefix, log: options.log });
  const local = createMemoryCache({ maxSize: options.memoryMaxSize, ttlSeconds: options.ttlSeconds });
  // Bumped on every invalidation received: a Redis read that raced with one is not kept locally.
  let invalidations = 0;
  const channel = createRedisBroadcast<Invalidation>(url, `${keyPrefix}cache-invalidate`, {
    onMessage(invalidation) {
      invalidations++;
      void local.delete(invalidation.key);
    },
    onLost(wasListening) {
      if (wasListening) options.log.warn('cache invalidation channel lost; in-process cache bypassed until it is back');
      invalidations++;
      local.clear();
    },
    // Invalidations sent meanwhile were missed: the LRU starts empty.
    onListening: () => local.clear(),
  });
  await channel.start();
  const listening = () => channel.listening;

  const announce = async (key: string): Promise<void> => {
    try {
      await channel.publish({ key });
    } catch {
      // Redis is down: the other replicas lost their channel too and bypass their LRU.
    }
  };

  return {
    kind: 'memory+redis',
    async get(key) {
      if (listening()) {
        const hit = await local.get(key);
        if (hit !== undefined) return hit;
      }
      const seen = invalidations;
      const found = await remote.getWithTtl(key);
      if (!found) return undefined;
      if (listening() && seen === invalidations) await local.set(key, found.value, found.ttlMs / 1000);
      return found.value;
    },
    async set(key, value, ttlSeconds) {
      await remote.set(key, value, ttlSeconds);
      if (listening()) await local.set(key, value, ttlSeconds);
      else await local.delete(key);
      await announce(key);
    },
    async delete(key) {
      await remote.delete(key);
      await local.delete(key);
      await announce(key);
    },
    ping: () => remote.ping(),
    async close() {
      channel.close();
      await remote.close();
      await local.close();
    },
  };
}
