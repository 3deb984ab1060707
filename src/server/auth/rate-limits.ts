/*
 * Rate limits
 * ===========
 * Two fixed one-minute windows: operations per authenticated principal (a request costs one,
 * a JSON-RPC or MCP batch one per call), and refused credentials per client address (so guessing keys or tokens is slow). Counters live in
 * Redis when REDIS_URL is set, so every replica sees the same counts, with an in-process
 * fallback while Redis is unreachable; otherwise in process memory.
 */
import type * as IoRedis from 'ioredis';
import type { Redis } from 'ioredis';
import { RateLimiterMemory, RateLimiterRedis, RateLimiterRes, type RateLimiterAbstract } from 'rate-limiter-flexible';
import { lazyRequire } from '../../platform/lazy-require.js';
import type { Logger } from '../../platform/log.js';

export interface RateLimitSettings {
  /** Per principal; 0 turns the limit off. */
  requestsPerMinute: number;
  failedAuthPerMinute: number;
  /** Redis shared by replicas; absent: process memory. */
  redisUrl?: string;
  /** Prefix of the Redis keys (tests share one Redis this way). */
  keyPrefix?: string;
  log: Logger;
}

export interface RateLimits {
  /** Seconds the address must wait because of refused credentials; 0 when it may try. */
  failedAuthBlock(address: string): Promise<number>;
  /** Counts refused credentials from the address; the seconds to wait when that crossed the limit, else 0. */
  recordFailedAuth(address: string): Promise<number>;
  /**
   * Counts `calls` operations (default 1) by the principal; the seconds to wait when that
   * went over the limit, else 0. A batch costs its calls.
   */
  recordRequest(principalId: string, calls?: number): Promise<number>;
  /**
   * Resolves once the shared store is connected, or after `timeoutMs`. Until then requests
   * are counted in process, and those counts do not carry over to Redis.
   */
  ready(timeoutMs: number): Promise<void>;
  close(): Promise<void>;
}

// A server without Redis never loads its client (about 20 MB of idle RSS).
const ioredis = lazyRequire<typeof IoRedis>('ioredis');

const WINDOW_SECONDS = 60;

const retryAfter = (res: RateLimiterRes) => Math.max(1, Math.ceil(res.msBeforeNext / 1000));

async function consume(limiter: RateLimiterAbstract, key: string, points = 1): Promise<number> {
  try {
    await limiter.consume(key, points);
    return 0;
  } catch (rejection) {
    if (rejection instanceof RateLimiterRes) return retryAfter(rejection);
    throw rejection;
  }
}

export function createRateLimits(settings: RateLimitSettings): RateLimits {
  let redis: Redis | undefined;
  const limiter = (name: string, points: number): RateLimiterAbstract => {
    const memory = new RateLimiterMemory({ keyPrefix: name, points, duration: WINDOW_SECONDS });
    if (!redis) return memory;
    return new RateLimiterRedis({
      storeClient: redis,
      keyPrefix: `${settings.keyPrefix ?? 'mcp-level3:'}rl:${name}`,
      points,
      duration: WINDOW_SECONDS,
      rejectIfRedisNotReady: true,
      // While Redis is down each replica limits on its own rather than not at all.
      insuranceLimiter: memory,
    });
  };
  if (settings.redisUrl) {
    const { Redis: RedisClient } = ioredis();
    redis = new RedisClient(settings.redisUrl, { enableOfflineQueue: false, maxRetriesPerRequest: 1, lazyConnect: false });
    redis.on('error', (error: Error) => settings.log.debug({ err: error.message }, 'rate-limit store unreachable; limiting in process'));
  }
  const failed = limiter('auth-fail', settings.failedAuthPerMinute);
  const requests = settings.requestsPerMinute > 0 ? limiter('principal', settings.requestsPerMinute) : undefined;

  return {
    async failedAuthBlock(address) {
      try {
        const res = await failed.get(address);
        return res && res.consumedPoints >= settings.failedAuthPerMinute ? retryAfter(res) : 0;
      } catch (error) {
        // The store is unreachable: recordFailedAuth still counts through the fallback.
        settings.log.debug({ err: (error as Error).message }, 'rate-limit look-up failed');
        return 0;
      }
    },
    recordFailedAuth: (address) => consume(failed, address),
    recordRequest: async (principalId, calls = 1) => (requests && calls > 0 ? consume(requests, principalId, calls) : 0),
    async ready(timeoutMs) {
      if (!redis || redis.status === 'ready') return;
      let timer: NodeJS.Timeout | undefined;
      let onReady: (() => void) | undefined;
      await new Promise<void>((resolve) => {
        onReady = resolve;
        redis!.once('ready', onReady);
        timer = setTimeout(resolve, timeoutMs);
      });
      clearTimeout(timer);
      redis.off('ready', onReady!);
    },
    async close() {
      redis?.disconnect();
    },
  };
}
