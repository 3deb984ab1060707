/*
 * Redis cache (scale-out)
 * =======================
 * ioredis with an offline queue of zero: while Redis is down, calls fail at once and count
 * as misses, so a Redis restart slows requests down instead of stalling them. ioredis
 * reconnects by itself.
 */
import { Redis } from 'ioredis';
import type { Logger } from '../log.js';
import type { CachePort } from './cache-port.js';

export interface RedisCache extends CachePort {
  /** The value with its remaining time to live, in one round trip (the two-level cache needs both). */
  getWithTtl(key: string): Promise<{ value: string; ttlMs: number } | undefined>;
}

export async function openRedisCache(url: string, options: { ttlSeconds: number; keyPrefix?: string; log: Logger }): Promise<RedisCache> {
  const redis = new Redis(url, {
    keyPrefix: options.keyPrefix ?? 'mcp-level3:',
    lazyConnect: true,
    enableOfflineQueue: false,
    maxRetriesPerRequest: 1,
    connectTimeout: 5000,
    retryStrategy: (attempt) => Math.min(attempt * 200, 2000),
  });
  let lastWarning = 0;
  const degrade = (error: unknown): undefined => {
    const now = Date.now();
    if (now - lastWarning > 10_000) {
      lastWarning = now;
      options.log.warn({ err: (error as Error).message }, 'redis cache unavailable; serving without cache');
    }
    return undefined;
  };
  redis.on('error', degrade);
  await redis.connect();
  return {
    kind: 'redis',
    async get(key) {
      try {
        return (await redis.get(key)) ?? undefined;
      } catch (error) {
        return degrade(error);
      }
    },
    async getWithTtl(key) {
      try {
        const replies = await redis.multi().get(key).pttl(key).exec();
        const value = replies?.[0]?.[1];
        const ttlMs = replies?.[1]?.[1];
        return typeof value === 'string' && typeof ttlMs === 'number' && ttlMs > 0 ? { value, ttlMs } : undefined;
      } catch (error) {
        return degrade(error);
      }
    },
    async set(key, value, ttlSeconds) {
      try {
        await redis.set(key, value, 'EX', ttlSeconds ?? options.ttlSeconds);
      } catch (error) {
        degrade(error);
      }
    },
    async delete(key) {
      try {
        await redis.del(key);
      } catch (error) {
        degrade(error);
      }
    },
    async ping() {
      await redis.ping();
    },
    async close() {
      redis.disconnect();
    },
  };
}
