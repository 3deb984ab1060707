/*
 * One contract for the cache port, run against every reachable backend.
 */
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { CachePort } from '../../src/platform/cache/cache-port.js';
import { createMemoryCache } from '../../src/platform/cache/memory-cache.js';
import { openRedisCache } from '../../src/platform/cache/redis-cache.js';
import { openTieredCache } from '../../src/platform/cache/tiered-cache.js';
import { REDIS_URL, silentLogger, title, uniqueId } from '../helpers/backends.js';
import { eventually, sleep } from '../helpers/timing.js';

const backends: { name: string; skip?: string; open(prefix: string): Promise<CachePort> }[] = [
  { name: 'memory', open: async () => createMemoryCache({ maxSize: 3, ttlSeconds: 60 }) },
  {
    name: 'redis',
    skip: REDIS_URL ? undefined : 'set REDIS_URL to a Redis server',
    open: (prefix) => openRedisCache(REDIS_URL!, { ttlSeconds: 60, keyPrefix: prefix, log: silentLogger }),
  },
  {
    name: 'memory in front of redis',
    skip: REDIS_URL ? undefined : 'set REDIS_URL to a Redis server',
    open: (prefix) => openTieredCache(REDIS_URL!, { ttlSeconds: 60, memoryMaxSize: 100, keyPrefix: prefix, log: silentLogger }),
  },
];

for (const backend of backends) {
  describe.skipIf(backend.skip)(`cache port contract on ${title(backend)}`, () => {
    let cache: CachePort;
    const prefix = `${uniqueId('cache')}:`;

    beforeAll(async () => {
      cache = await backend.open(prefix);
    });
    afterAll(async () => cache?.close());

    it('returns what was set, and undefined for what was not', async () => {
      await cache.set('a', 'value a');
      expect(await cache.get('a')).toBe('value a');
      expect(await cache.get('never-set')).toBeUndefined();
    });

    it('forgets a deleted key', async () => {
      await cache.set('b', 'value b');
      await cache.delete('b');
      expect(await cache.get('b')).toBeUndefined();
    });

    it('expires entries after their time to live', async () => {
      await cache.set('short', 'x', 1);
      expect(await cache.get('short')).toBe('x');
      await sleep(1200);
      expect(await cache.get('short')).toBeUndefined();
    });

    it('keeps instances with different key prefixes apart', async () => {
      const other = await backend.open(`${uniqueId('other')}:`);
      try {
        await cache.set('shared-name', 'mine');
        expect(await other.get('shared-name')).toBeUndefined();
      } finally {
        await other.close();
      }
    });

    it('answers ping when healthy', async () => {
      await expect(cache.ping()).resolves.toBeUndefined();
    });
  });
}

describe.skipIf(!REDIS_URL)(`redis cache after losing its connection${REDIS_URL ? '' : ' (skipped: set REDIS_URL to a Redis server)'}`, () => {
  it('turns failures into misses instead of failing the caller, while ping reports the fault', async () => {
    const cache = await openRedisCache(REDIS_URL!, { ttlSeconds: 60, keyPrefix: `${uniqueId('down')}:`, log: silentLogger });
    await cache.close();
    await expect(cache.get('x')).resolves.toBeUndefined();
    await expect(cache.set('x', 'y')).resolves.toBeUndefined();
    await expect(cache.ping()).rejects.toThrow();
  });
});


describe.skipIf(!REDIS_URL)(`two replicas sharing a two-level cache${REDIS_URL ? '' : ' (skipped: set REDIS_URL to a Redis server)'}`, () => {
  const open = (prefix: string) => openTieredCache(REDIS_URL!, { ttlSeconds: 60, memoryMaxSize: 100, keyPrefix: prefix, log: silentLogger });

  it('does not serve a value another replica has replaced or deleted', async () => {
    const prefix = `${uniqueId('replicas')}:`;
    const [a, b] = await Promise.all([open(prefix), open(prefix)]);
    try {
      await a.set('alias', 'v1');
      // Once a's announcement has reached b, b keeps what it reads in process: removing the key
      // from Redis behind both caches' backs shows that b answers from its own memory.
      await sleep(50);
      expect(await b.get('alias')).toBe('v1');
      const raw = new Redis(REDIS_URL!);
      await raw.del(`${prefix}alias`);
      raw.disconnect();
      expect(await b.get('alias')).toBe('v1');
      await a.set('alias', 'v2');
      await eventually(async () => (await b.get('alias')) === 'v2', 'the new value reaching the other replica', { timeoutMs: 1000, intervalMs: 20 });
      expect(await b.get('alias')).toBe('v2');
      await a.delete('alias');
      await eventually(async () => (await b.get('alias')) === undefined, 'the deletion reaching the other replica', { timeoutMs: 1000, intervalMs: 20 });
      expect(await b.get('alias')).toBeUndefined();
    } finally {
      await Promise.all([a.close(), b.close()]);
    }
  });

  it('does not keep a value in process longer than Redis keeps it', async () => {
    const prefix = `${uniqueId('ttl')}:`;
    const [a, b] = await Promise.all([open(prefix), open(prefix)]);
    try {
      await a.set('short', 'x', 1);
      expect(await b.get('short')).toBe('x');
      await sleep(1200);
      expect(await b.get('short')).toBeUndefined();
    } finally {
      await Promise.all([a.close(), b.close()]);
    }
  });
});
