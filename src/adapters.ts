/*
 * Adapters from configuration
 * ===========================
 * Opens what each port's configuration names: PGlite or PostgreSQL, the in-process cache
 * or Redis (alone or behind the LRU), SQL tables or Neo4j for GraphRAG, the embedder and
 * the optional reranker.
 * Drivers are imported here on first use, not at start, so a stdio client's `initialize`
 * is answered before they have loaded.
 */
import { join } from 'node:path';
import type { LoadedConfig } from './config/load-config.js';
import type { CachePort } from './platform/cache/cache-port.js';
import { lockDataDir } from './platform/data-dir-lock.js';
import type { EmbedderChoice } from './platform/embeddings/embedder-choice.js';
import type { Embedders } from './platform/embeddings/embedder-set.js';
import type { EmbeddingsPort } from './platform/embeddings/embeddings-port.js';
import type { GraphStore } from './platform/graph/graph-store.js';
import type { Logger } from './platform/log.js';
import type { Metrics } from './platform/metrics.js';
import type { RerankChoice } from './platform/rerank/rerank-choice.js';
import type { CandidateReranker } from './engines/rag/rerank.js';
import type { SqlPort } from './platform/sql/sql-port.js';

export const MEMORY_DATA_DIR = 'memory://';

export interface AdapterSettings {
  config: LoadedConfig;
  env: Record<string, string | undefined>;
  log: Logger;
  metrics: Metrics;
  dataDir: string;
  databaseUrl?: string;
  redisUrl?: string;
  databaseSchema?: string;
  cacheKeyPrefix?: string;
}

/** The SQL database, and the data-dir lock to release when it closes (embedded only). */
export async function openSql(settings: AdapterSettings): Promise<{ sql: SqlPort; releaseLock?: () => void }> {
  const url = settings.databaseUrl ?? settings.env.DATABASE_URL;
  if (url) {
    const { openPostgres } = await import('./platform/sql/postgres-adapter.js');
    return { sql: await openPostgres(url, settings.config.engineMap.database.pool, settings.databaseSchema) };
  }
  const { openPglite } = await import('./platform/sql/pglite-adapter.js');
  const embedded = settings.config.engineMap.database.embedded;
  if (settings.dataDir === MEMORY_DATA_DIR) return { sql: await openPglite(undefined, embedded) };
  const releaseLock = lockDataDir(settings.dataDir);
  try {
    return { sql: await openPglite(join(settings.dataDir, 'pgdata'), embedded), releaseLock };
  } catch (error) {
    releaseLock();
    throw error;
  }
}

export async function openCache(settings: AdapterSettings): Promise<CachePort> {
  const { countedCache } = await import('./platform/cache/counted-cache.js');
  return countedCache(await openCacheBackend(settings), settings.metrics);
}

async function openCacheBackend(settings: AdapterSettings): Promise<CachePort> {
  const { cache } = settings.config.engineMap;
  const url = settings.redisUrl ?? settings.env.REDIS_URL;
  if (url && cache.redis.enabled) {
    const log = settings.log.child({ component: 'cache' });
    if (cache.memory.enabled) {
      const { openTieredCache } = await import('./platform/cache/tiered-cache.js');
      return openTieredCache(url, { ttlSeconds: cache.redis.ttl, memoryMaxSize: cache.memory.maxSize, keyPrefix: settings.cacheKeyPrefix, log });
    }
    const { openRedisCache } = await import('./platform/cache/redis-cache.js');
    return openRedisCache(url, { ttlSeconds: cache.redis.ttl, keyPrefix: settings.cacheKeyPrefix, log });
  }
  const { createMemoryCache } = await import('./platform/cache/memory-cache.js');
  return createMemoryCache({ maxSize: cache.memory.maxSize, ttlSeconds: cache.redis.ttl });
}

/** The configured embedder as the default, and the ones existing collections recorded (embedder-set.ts). */
export async function openEmbedders(choice: EmbedderChoice, settings: AdapterSettings, cache: CachePort): Promise<Embedders> {
  const { createEmbedders } = await import('./platform/embeddings/embedder-set.js');
  if (choice.provider === 'offline' && choice.fallback) {
    settings.log.warn(
      { embedder: 'offline', reason: choice.fallback },
      'no local embedding model: new collections are embedded with the offline hashed embedder, a lexical signal (run `npm run model:fetch`, then restart, for semantic retrieval)',
    );
  }
  return createEmbedders(await openEmbedder(choice, settings, cache), choice.provider === 'offline' ? choice.fallback : undefined);
}

async function openEmbedder(choice: EmbedderChoice, settings: AdapterSettings, cache: CachePort): Promise<EmbeddingsPort> {
  switch (choice.provider) {
    case 'openai':
      return (await import('./platform/embeddings/openai-embedder.js')).createOpenAiEmbedder({
        url: choice.url,
        model: settings.env.EMBEDDINGS_MODEL || 'text-embedding-3-small',
        apiKey: settings.env.EMBEDDINGS_API_KEY || undefined,
        cache,
        cacheTtlSeconds: settings.config.engineMap.cache.redis.ttl,
      });
    case 'onnx':
      return (await import('./platform/embeddings/worker-onnx-embedder.js')).createWorkerOnnxEmbedder({
        modelDir: choice.modelDir,
        workers: choice.workers,
        onLoad: (ms) => settings.log.info({ modelDir: choice.modelDir, ms }, 'embedding model loaded'),
      });
    case 'offline':
      return (await import('./platform/embeddings/offline-embedder.js')).createOfflineEmbedder();
  }
}

/** The HTTP reranker RAG_engine.settings.rerank names, wrapped for hybrid queries; none without a URL. */
export async function openReranker(choice: RerankChoice | undefined, log: Logger): Promise<CandidateReranker | undefined> {
  if (!choice) return undefined;
  const [{ createHttpReranker }, { createCandidateReranker }] = await Promise.all([import('./platform/rerank/http-reranker.js'), import('./engines/rag/rerank.js')]);
  const port = createHttpReranker({ url: choice.url, api: choice.api, model: choice.model, apiKey: choice.apiKey, timeoutMs: choice.timeoutMs });
  log.info({ reranker: port.id, candidates: choice.candidates, timeoutMs: choice.timeoutMs }, 'hybrid queries are reranked');
  return createCandidateReranker(port, { candidates: choice.candidates, timeoutMs: choice.timeoutMs, log });
}

/** Neo4j when NEO4J_URI is set or graphStore says so; else tables in the SQL database. */
export async function openGraphStore(settings: AdapterSettings, sql: SqlPort, configured: 'postgres' | 'neo4j'): Promise<GraphStore> {
  const uri = settings.env.NEO4J_URI;
  if (configured === 'neo4j' || uri) {
    if (!uri) throw new Error('RAG_engine.settings.graphStore is "neo4j" but NEO4J_URI is not set; set NEO4J_URI (and NEO4J_USER, NEO4J_PASSWORD) or use graphStore "postgres"');
    const { openNeo4jGraphStore } = await import('./platform/graph/neo4j-graph-store.js');
    return openNeo4jGraphStore({ uri, user: settings.env.NEO4J_USER || 'neo4j', password: settings.env.NEO4J_PASSWORD || '' });
  }
  const { createSqlGraphStore } = await import('./platform/graph/sql-graph-store.js');
  return createSqlGraphStore(sql);
}
