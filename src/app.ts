/*
 * Application assembly
 * ====================
 * The composition root: configuration, logging and metrics at once; the database, cache
 * and engines in the background, so a transport can answer `initialize` before they are
 * open. Every surface runs operations through `invoke`, which validates input at the edge,
 * checks the scope, waits for the engines, checks the output and records metrics.
 */
import { randomUUID } from 'node:crypto';
import { join, resolve } from 'node:path';
import type { z } from 'zod';
import { ConfigError, loadConfig, type LoadedConfig } from './config/load-config.js';
import { ENGINE_NAMES } from './engines/engine-names.js';
import type { Engines } from './engines/engines.js';
import type { AuditEntry } from './engines/governance/audit-log.js';
import type { ContentGate } from './engines/registry/registry-engine.js';
import { EngineError, invalidInput, isEngineError } from './errors.js';
import { runUri, workflowUri } from './operations/dag.js';
import { selectOperations } from './operations/index.js';
import { rejectUnknownArguments } from './operations/unknown-arguments.js';
import type { AnyOperation, EngineId, Principal, SampleModel } from './operations/operation.js';
import type { CachePort } from './platform/cache/cache-port.js';
import type { EmbeddingsPort } from './platform/embeddings/embeddings-port.js';
import { DEFAULT_ONNX_MODEL_DIR, findOnnxModel } from './platform/embeddings/onnx-embedder.js';
import { lockDataDir } from './platform/data-dir-lock.js';
import { EventHub } from './platform/events/event-hub.js';
import { createLogger, type Logger } from './platform/log.js';
import { createMetrics } from './platform/metrics.js';
import { currentTraceId, withSpan, type SpanHandle } from './platform/tracing.js';
import type { MigrationStatus } from './platform/sql/migrations.js';
import type { SqlPort } from './platform/sql/sql-port.js';
import type { GraphStore } from './platform/graph/graph-store.js';
import { formatIssues } from './zod-issues.js';

export const MEMORY_DATA_DIR = 'memory://';

export interface AppOptions {
  configDir?: string;
  /** true when the user named the config dir: then it must exist. */
  configExplicit?: boolean;
  /** Embedded database directory, or `memory://`. */
  dataDir?: string;
  databaseUrl?: string;
  redisUrl?: string;
  toolsets?: readonly EngineId[];
  readOnly?: boolean;
  env?: Record<string, string | undefined>;
  /** PostgreSQL schema for all tables (tests share one database this way). */
  databaseSchema?: string;
  /** Redis key prefix (tests share one Redis this way). */
  cacheKeyPrefix?: string;
  logger?: Logger;
}

export interface Services {
  sql: SqlPort;
  cache: CachePort;
  /** GraphRAG's store, when GraphRAG is among the rag modules. */
  graph?: GraphStore;
  engines: Engines;
  migrations: MigrationStatus;
}

export interface CallContext {
  principal: Principal;
  signal?: AbortSignal;
  progress?: (progress: number, total?: number, message?: string) => Promise<void>;
  /** W3C trace id of the caller's trace, when it sent one; kept in the audit record. */
  traceId?: string;
  sample?: SampleModel;
}

export interface Readiness {
  ready: boolean;
  checks: {
    database: { ok: boolean; backend: string; schemaVersion?: number; error?: string };
    cache: { ok: boolean; backend: string; error?: string };
    /** Change events (subscriptions): `redis` with replicas; not ok while other replicas' events are missed. */
    events: { ok: boolean; backend: string };
  };
}

const UNAVAILABLE_CODES = new Set(['ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'EPIPE', '57P01', '57P02', '57P03', '08000', '08001', '08003', '08006']);

function isConnectionFailure(error: unknown): boolean {
  const code = (error as { code?: unknown }).code;
  if (typeof code === 'string' && UNAVAILABLE_CODES.has(code)) return true;
  return /Connection terminated|timeout exceeded when trying to connect/i.test((error as Error).message ?? '');
}

// PostgreSQL refuses NUL (\u0000) in text and jsonb: 22P05 untranslatable character, 22021
// invalid byte sequence. It comes from the caller's input, so it is the caller's to fix.
const UNSTORABLE_TEXT_CODES = new Set(['22P05', '22021']);

function isUnstorableText(error: unknown): boolean {
  const code = (error as { code?: unknown }).code;
  return typeof code === 'string' && UNSTORABLE_TEXT_CODES.has(code);
}

type EmbedderChoice = { provider: 'offline' } | { provider: 'openai'; url: string } | { provider: 'onnx'; modelDir: string; threads?: number };

/**
 * EMBEDDINGS_PROVIDER picks the embedder: `offline` (the default), `openai` (the default
 * when EMBEDDINGS_URL is set) or `onnx` (EMBEDDINGS_MODEL_DIR, EMBEDDINGS_THREADS). Checked
 * at start-up, so a missing model stops the server with the command that fetches it.
 */
function chooseEmbedder(env: Record<string, string | undefined>): EmbedderChoice {
  const provider = env.EMBEDDINGS_PROVIDER || (env.EMBEDDINGS_URL ? 'openai' : 'offline');
  switch (provider) {
    case 'offline':
      return { provider };
    case 'openai':
      if (!env.EMBEDDINGS_URL) throw new ConfigError(['EMBEDDINGS_PROVIDER=openai needs EMBEDDINGS_URL (the OpenAI-compatible endpoint)']);
      return { provider, url: env.EMBEDDINGS_URL };
    case 'onnx': {
      const threads = env.EMBEDDINGS_THREADS ? Number(env.EMBEDDINGS_THREADS) : undefined;
      if (threads !== undefined && !(Number.isInteger(threads) && threads > 0)) {
        throw new ConfigError([`EMBEDDINGS_THREADS: expected a positive integer, got "${env.EMBEDDINGS_THREADS}"`]);
      }
      const modelDir = env.EMBEDDINGS_MODEL_DIR || DEFAULT_ONNX_MODEL_DIR;
      try {
        findOnnxModel(modelDir);
      } catch (error) {
        throw new ConfigError([`EMBEDDINGS_PROVIDER=onnx: ${(error as Error).message}`]);
      }
      return { provider, modelDir, threads };
    }
    default:
      throw new ConfigError([`EMBEDDINGS_PROVIDER: expected offline, openai or onnx, got "${provider}"`]);
  }
}

export function hasScope(principal: Principal, scope: string): boolean {
  return principal.scopes.includes('*') || principal.scopes.includes(scope);
}

export class App {
  readonly config: LoadedConfig;
  readonly log: Logger;
  readonly metrics = createMetrics();
  readonly operations: AnyOperation[];
  readonly dataDir: string;
  /**
   * MCP change events (resource updates, list changes) of every replica: what
   * `subscriptions/listen` streams and stdio subscribers hear. Open from the start, so
   * transports can subscribe before storage is; Redis joins it when storage opens.
   */
  readonly events: EventHub;
  /** The environment config and URLs are read from (tests pass their own). */
  private readonly env: Record<string, string | undefined>;
  private readonly embedderChoice: EmbedderChoice;
  private opening?: Promise<Services>;
  private opened?: Services;
  private releaseLock?: () => void;
  private closed = false;

  constructor(private readonly options: AppOptions = {}) {
    const env = (this.env = options.env ?? process.env);
    this.config = loadConfig({ configDir: options.configDir ?? './config', explicit: options.configExplicit ?? false, env });
    this.log = options.logger ?? createLogger(this.config.engineMap.logging.level);
    const engineMap = this.config.engineMap.engine_map;
    this.operations = selectOperations({
      toolsets: options.toolsets,
      readOnly: options.readOnly,
      enabled: (engine) => engineMap[ENGINE_NAMES[engine]].enabled,
    });
    this.events = new EventHub((error) => this.log.warn({ err: error.message }, 'change-event listener failed'));
    this.embedderChoice = chooseEmbedder(env);
    const dataDir = options.dataDir ?? env.MCP_DATA_DIR ?? './data';
    this.dataDir = dataDir === MEMORY_DATA_DIR ? dataDir : resolve(dataDir);
  }

  /** Starts opening the database and cache without waiting; failures surface on first use. */
  start(): void {
    this.services().catch(() => undefined);
  }

  private readonly engineLogs = new Map<EngineId, Logger>();

  engineLog(engine: EngineId): Logger {
    let log = this.engineLogs.get(engine);
    if (!log) {
      log = this.log.child({ engine: ENGINE_NAMES[engine] });
      this.engineLogs.set(engine, log);
    }
    return log;
  }

  services(): Promise<Services> {
    if (this.closed) return Promise.reject(new EngineError('UNAVAILABLE', 'the server is shutting down'));
    if (!this.opening) {
      this.opening = this.open().then(
        (services) => (this.opened = services),
        (error: unknown) => {
          // Forget the failure so the next call tries again (the database may come back).
          this.opening = undefined;
          this.log.error({ err: (error as Error).message }, 'cannot open storage');
          throw new EngineError('UNAVAILABLE', `storage is not available: ${(error as Error).message}`);
        },
      );
    }
    return this.opening;
  }

  // Drivers and engines are imported here, not at the top, so that a stdio client's
  // `initialize` is answered before they have loaded.
  private async open(): Promise<Services> {
    const started = performance.now();
    const { engineMap } = this.config;
    const [{ migrate }, { RegistryEngine }, { ValidationEngine }, { parseStructuredContent }, { RagEngine }, { GovernanceEngine }, taxonomyModule, { PromotionEngine }] = await Promise.all([
      import('./platform/sql/migrations.js'),
      import('./engines/registry/registry-engine.js'),
      import('./engines/validation/validation-engine.js'),
      import('./engines/validation/structured-content.js'),
      import('./engines/rag/rag-engine.js'),
      import('./engines/governance/governance-engine.js'),
      import('./engines/taxonomy/load-taxonomy.js'),
      import('./engines/promotion/promotion-engine.js'),
    ]);
    const sql = await this.openSql();
    if (sql.poolFigures) this.metrics.observePool(sql.poolFigures);
    let cache: CachePort | undefined;
    let graph: GraphStore | undefined;
    try {
      const migrations = await migrate(sql);
      cache = await this.openCache();
      const validation = new ValidationEngine(sql, engineMap.engine_map.validation.settings, this.engineLog('validation'));
      const taxonomyEnabled = engineMap.engine_map.taxonomy.enabled;
      const taxonomy = await taxonomyModule.loadTaxonomy(taxonomyEnabled ? this.config.ontologyPath : undefined);
      const gate: ContentGate = async (mediaType, content, labels) => {
        if (taxonomyEnabled) taxonomyModule.checkDeclaredClasses(taxonomy, labels);
        const result = await validation.validateForMediaType(mediaType, () => parseStructuredContent(mediaType, content, 'content'));
        if (result && !result.valid) {
          const lines = result.errors.map((e) => `${e.pointer}: ${e.message}`).join('; ');
          throw invalidInput(`content does not match schema "${result.schemaId}" bound to ${mediaType}: ${lines}`, { errors: result.errors });
        }
      };
      const registry = new RegistryEngine(
        sql,
        cache,
        gate,
        { maxContentBytes: engineMap.engine_map.registry.settings.maxContentBytes, cacheTtlSeconds: engineMap.cache.redis.ttl },
        this.engineLog('registry'),
      );
      const ragSettings = engineMap.engine_map.RAG_engine.settings;
      graph = engineMap.engine_map.RAG_engine.modules.includes('GraphRAG') ? await this.openGraphStore(sql, ragSettings.graphStore) : undefined;
      const rag = new RagEngine(
        sql,
        cache,
        await this.openEmbedder(cache),
        {
          chunkSize: ragSettings.chunkSize,
          chunkOverlap: ragSettings.chunkOverlap,
          efSearch: ragSettings.efSearch,
          exactScanMaxChunks: ragSettings.exactScanMaxChunks,
          fusion: ragSettings.fusion,
          vectorIndexQuietMs: ragSettings.vectorIndexQuietMs,
          rrfK: ragSettings.rrfK,
          weights: ragSettings.fusionWeights,
          maxDocumentBytes: ragSettings.maxDocumentBytes,
          cacheTtlSeconds: engineMap.cache.redis.ttl,
        },
        this.engineLog('rag'),
        graph && { store: graph, extractor: await this.graphExtractor() },
      );
      const { dag, execution } = await this.openDag(sql);
      this.announceChanges(rag, dag);
      await this.openEventRelay(dag);
      this.log.info(
        { database: sql.kind, cache: cache.kind, schemaVersion: migrations.current, applied: migrations.applied, ms: Math.round(performance.now() - started) },
        'storage ready',
      );
      const governance = new GovernanceEngine(sql, engineMap.engine_map.governance.settings, this.engineLog('governance'));
      const promotion = new PromotionEngine(sql, registry, validation, governance, taxonomy, engineMap.engine_map.promotion.settings, this.engineLog('promotion'));
      return { sql, cache, graph, engines: { rag, registry, validation, dag, execution, governance, taxonomy, promotion }, migrations };
    } catch (error) {
      await this.events.detach().catch(() => undefined);
      await graph?.close().catch(() => undefined);
      await cache?.close().catch(() => undefined);
      await sql.close().catch(() => undefined);
      this.releaseLock?.();
      this.releaseLock = undefined;
      throw error;
    }
  }

  /**
   * The executor and the DAG engine, whose actions are the operations of the enabled
   * engines (but not dag_* or execution_*: a node waiting on a nested run would hold an
   * executor slot), each run through invoke() with the run's principal.
   */
  private async openDag(sql: SqlPort): Promise<Pick<Engines, 'dag' | 'execution'>> {
    const [{ Executor }, { DagEngine }] = await Promise.all([import('./engines/execution/executor.js'), import('./engines/dag/dag-engine.js')]);
    const { engine_map: engineMap } = this.config.engineMap;
    const execution = new Executor({ maxConcurrency: engineMap.execution.settings.maxConcurrency, maxQueued: engineMap.execution.settings.maxQueued });
    this.metrics.observeExecutor(() => execution.status());
    const actions = new Map(
      selectOperations({ enabled: (engine) => engineMap[ENGINE_NAMES[engine]].enabled })
        .filter((op) => op.engine !== 'dag' && op.engine !== 'execution')
        .map((op) => [op.name, op]),
    );
    const settings = engineMap.DAG_engine.settings;
    const dag = new DagEngine(
      sql,
      execution,
      {
        has: (name) => actions.has(name),
        names: () => [...actions.keys()],
        run: (name, input, { principal, signal }) => this.invoke(actions.get(name)!, input, { principal, signal }),
      },
      {
        maxNodes: settings.maxNodes,
        maxQueuedRuns: settings.maxQueuedRuns,
        httpAllowedHosts: settings.httpAllowedHosts,
        runConcurrency: engineMap.execution.settings.runConcurrency,
        leaseMs: settings.leaseSeconds * 1000,
        pollIntervalMs: settings.pollIntervalMs,
      },
      this.engineLog('dag'),
      this.metrics,
    );
    await dag.start();
    return { dag, execution };
  }

  /**
   * What the engines change becomes MCP change events: every state change of a run is an
   * update of dag://runs/{id}; a new workflow version updates dag://workflows/{name}, and a
   * new workflow name or collection changes the resource list. New runs and artifact
   * versions are not announced as list changes: under load they come many times a second,
   * and each would send every listening client to re-list (runs are followed by URI).
   */
  private announceChanges(rag: Engines['rag'], dag: Engines['dag']): void {
    dag.scheduler.events.on('run', (id: string) => this.events.publish({ kind: 'resource_updated', uri: runUri(id) }));
    dag.scheduler.events.on('workflow', (name: string, version: number) => {
      this.events.publish({ kind: 'resource_updated', uri: workflowUri(name) });
      if (version === 1) this.events.publish({ kind: 'resources_list_changed' });
    });
    rag.events.on('collection', () => this.events.publish({ kind: 'resources_list_changed' }));
  }

  /**
   * With REDIS_URL, change events travel between replicas on Redis pub/sub. After an outage
   * of the channel, the runs that may have changed meanwhile (not over, or ended since it
   * was lost) are announced again to this replica's listeners, with a list change.
   */
  private async openEventRelay(dag: Engines['dag']): Promise<void> {
    const url = this.options.redisUrl ?? this.env.REDIS_URL;
    if (!url) return;
    const { attachRedisEventRelay } = await import('./platform/events/redis-event-relay.js');
    const log = this.log.child({ component: 'events' });
    await attachRedisEventRelay(this.events, url, {
      keyPrefix: this.options.cacheKeyPrefix,
      log,
      onResync: (lostAt) => {
        // A little before the loss: replica and database clocks differ.
        dag.runsChangedSince(new Date(lostAt.getTime() - 5000)).then(
          (runs) => {
            for (const id of runs) this.events.deliver({ kind: 'resource_updated', uri: runUri(id) });
            this.events.deliver({ kind: 'resources_list_changed' });
          },
          (error: unknown) => log.warn({ err: (error as Error).message }, 'could not look up the runs that changed during the outage'),
        );
      },
    });
  }

  private async openSql(): Promise<SqlPort> {
    const url = this.options.databaseUrl ?? this.env.DATABASE_URL;
    if (url) {
      const { openPostgres } = await import('./platform/sql/postgres-adapter.js');
      return openPostgres(url, this.config.engineMap.database.pool, this.options.databaseSchema);
    }
    const { openPglite } = await import('./platform/sql/pglite-adapter.js');
    if (this.dataDir === MEMORY_DATA_DIR) return openPglite(undefined);
    this.releaseLock = lockDataDir(this.dataDir);
    return openPglite(join(this.dataDir, 'pgdata'));
  }

  private async openEmbedder(cache: CachePort): Promise<EmbeddingsPort> {
    const choice = this.embedderChoice;
    switch (choice.provider) {
      case 'openai':
        return (await import('./platform/embeddings/openai-embedder.js')).createOpenAiEmbedder({
          url: choice.url,
          model: this.env.EMBEDDINGS_MODEL || 'text-embedding-3-small',
          apiKey: this.env.EMBEDDINGS_API_KEY || undefined,
          cache,
          cacheTtlSeconds: this.config.engineMap.cache.redis.ttl,
        });
      case 'onnx': {
        const started = performance.now();
        const embedder = await (await import('./platform/embeddings/onnx-embedder.js')).createOnnxEmbedder({ modelDir: choice.modelDir, threads: choice.threads });
        this.log.info({ embedder: embedder.id, modelDir: choice.modelDir, ms: Math.round(performance.now() - started) }, 'embedding model loaded');
        return embedder;
      }
      case 'offline':
        return (await import('./platform/embeddings/offline-embedder.js')).createOfflineEmbedder();
    }
  }

  /** Neo4j when NEO4J_URI is set or graphStore says so; else tables in the SQL database. */
  private async openGraphStore(sql: SqlPort, configured: 'postgres' | 'neo4j'): Promise<GraphStore> {
    const uri = this.env.NEO4J_URI;
    if (configured === 'neo4j' || uri) {
      if (!uri) throw new Error('RAG_engine.settings.graphStore is "neo4j" but NEO4J_URI is not set; set NEO4J_URI (and NEO4J_USER, NEO4J_PASSWORD) or use graphStore "postgres"');
      const { openNeo4jGraphStore } = await import('./platform/graph/neo4j-graph-store.js');
      return openNeo4jGraphStore({ uri, user: this.env.NEO4J_USER || 'neo4j', password: this.env.NEO4J_PASSWORD || '' });
    }
    const { createSqlGraphStore } = await import('./platform/graph/sql-graph-store.js');
    return createSqlGraphStore(sql);
  }

  /** The chat endpoint's extractor when GRAPH_EXTRACTION_URL is set. */
  private async graphExtractor() {
    const url = this.env.GRAPH_EXTRACTION_URL;
    if (!url) return undefined;
    const model = this.env.GRAPH_EXTRACTION_MODEL || 'gpt-4o-mini';
    const [{ createOpenAiChat }, { createModelExtractor }] = await Promise.all([import('./platform/chat/openai-chat.js'), import('./engines/rag/graph/model-extractor.js')]);
    const complete = createOpenAiChat({ url, model, apiKey: this.env.GRAPH_EXTRACTION_API_KEY || undefined, apiKeyVariable: 'GRAPH_EXTRACTION_API_KEY' });
    return createModelExtractor({ id: `chat:${model}`, complete, log: this.engineLog('rag') });
  }

  private async openCache(): Promise<CachePort> {
    const { countedCache } = await import('./platform/cache/counted-cache.js');
    return countedCache(await this.openCacheBackend(), this.metrics);
  }

  private async openCacheBackend(): Promise<CachePort> {
    const { cache } = this.config.engineMap;
    const url = this.options.redisUrl ?? this.env.REDIS_URL;
    if (url && cache.redis.enabled) {
      const log = this.log.child({ component: 'cache' });
      if (cache.memory.enabled) {
        const { openTieredCache } = await import('./platform/cache/tiered-cache.js');
        return openTieredCache(url, { ttlSeconds: cache.redis.ttl, memoryMaxSize: cache.memory.maxSize, keyPrefix: this.options.cacheKeyPrefix, log });
      }
      const { openRedisCache } = await import('./platform/cache/redis-cache.js');
      return openRedisCache(url, { ttlSeconds: cache.redis.ttl, keyPrefix: this.options.cacheKeyPrefix, log });
    }
    const { createMemoryCache } = await import('./platform/cache/memory-cache.js');
    return createMemoryCache({ maxSize: cache.memory.maxSize, ttlSeconds: cache.redis.ttl });
  }

  /** Runs one operation for a caller; throws EngineError with a message that says what to change. */
  invoke<O extends AnyOperation>(operation: O, args: unknown, call: CallContext): Promise<z.output<O['output']>> {
    // One span per operation: the SQL, cache and HTTP spans of its work become its children.
    const attributes = { 'mcp_level3.operation': operation.name, 'mcp_level3.engine': ENGINE_NAMES[operation.engine], 'enduser.id': call.principal.id };
    return withSpan(`operation ${operation.name}`, attributes, (span) => this.runOperation(operation, args, call, span));
  }

  private async runOperation<O extends AnyOperation>(operation: O, args: unknown, call: CallContext, span: SpanHandle): Promise<z.output<O['output']>> {
    const started = performance.now();
    let outcome: 'ok' | 'error' | 'denied' = 'ok';
    let errorCode: string | undefined;
    const log = this.engineLog(operation.engine);
    try {
      rejectUnknownArguments(operation.input, args);
      const parsed = operation.input.safeParse(args ?? {}, { reportInput: true });
      if (!parsed.success) throw invalidInput(formatIssues(parsed.error.issues).join('; '));
      if (!hasScope(call.principal, operation.scope)) {
        outcome = 'denied';
        log.warn({ audit: 'access-denied', operation: operation.name, principal: call.principal.id, scope: operation.scope }, 'access denied: missing scope');
        throw new EngineError('FORBIDDEN', `${operation.name} needs the scope "${operation.scope}", which principal "${call.principal.id}" does not have`);
      }
      const { engines } = await this.services();
      await engines.governance.enforce(operation.name, call.principal, parsed.data);
      const result = await operation.handler(parsed.data, {
        engines,
        principal: call.principal,
        signal: call.signal ?? new AbortController().signal,
        log,
        metrics: this.metrics,
        progress: call.progress ?? (async () => undefined),
        ...(call.sample ? { sample: call.sample } : {}),
      });
      const checked = operation.output.safeParse(result);
      if (!checked.success) {
        throw new Error(`${operation.name} produced output that breaks its own schema: ${formatIssues(checked.error.issues).join('; ')}`);
      }
      return checked.data as z.output<O['output']>;
    } catch (error) {
      const engineError = this.toEngineError(operation, error, log);
      errorCode = engineError.code;
      if (outcome === 'ok') outcome = engineError.code === 'FORBIDDEN' ? 'denied' : 'error';
      span.setAttribute('error.type', engineError.code);
      throw engineError;
    } finally {
      const seconds = (performance.now() - started) / 1000;
      span.setAttribute('mcp_level3.outcome', outcome);
      this.metrics.toolCallsTotal.inc({ tool: operation.name, outcome });
      this.metrics.toolDuration.observe({ tool: operation.name }, seconds);
      log.debug({ operation: operation.name, principal: call.principal.id, outcome, ms: Math.round(seconds * 1000) }, 'operation');
      await this.audit({ principal: call.principal.id, operation: operation.name, outcome, errorCode, durationMs: seconds * 1000, traceId: call.traceId ?? currentTraceId(), arguments: args });
    }
  }

  /** Every call leaves an audit record; one that cannot be written is logged, the call's own result stands. */
  private async audit(entry: AuditEntry): Promise<void> {
    try {
      const { engines } = await this.services();
      await engines.governance.audit.append(entry);
      this.metrics.auditRecordsTotal.inc();
    } catch (error) {
      this.log.error({ operation: entry.operation, principal: entry.principal, err: (error as Error).message }, 'audit record could not be written');
    }
  }

  private toEngineError(operation: AnyOperation, error: unknown, log: Logger): EngineError {
    if (isEngineError(error)) return error;
    if (isConnectionFailure(error)) {
      log.warn({ operation: operation.name, err: (error as Error).message }, 'storage unavailable');
      return new EngineError('UNAVAILABLE', `${operation.name}: the database is not reachable right now (${(error as Error).message}); retry shortly`);
    }
    if (isUnstorableText(error)) {
      return invalidInput(`${operation.name}: the input holds a character the database cannot store (the NUL character, \\u0000); remove it`);
    }
    if ((error as { code?: unknown }).code === '22003') {
      // numeric_value_out_of_range: a number from the input is larger than its column takes.
      return invalidInput(`${operation.name}: a number in the input is too large to store (${(error as Error).message}); use a smaller value`);
    }
    const reference = randomUUID();
    log.error({ operation: operation.name, reference, err: error }, 'operation failed unexpectedly');
    return new EngineError('INTERNAL', `${operation.name} failed unexpectedly (reference ${reference}); the server log has the details`);
  }

  async readiness(): Promise<Readiness> {
    const dbBackend = this.options.databaseUrl ?? this.env.DATABASE_URL ? 'postgres' : 'pglite';
    const { cache: cacheConfig } = this.config.engineMap;
    const cacheBackend = (this.options.redisUrl ?? this.env.REDIS_URL) && cacheConfig.redis.enabled ? (cacheConfig.memory.enabled ? 'memory+redis' : 'redis') : 'memory';
    const services = this.opened;
    if (!services) {
      let error = 'opening';
      try {
        await Promise.race([this.services(), new Promise((_, reject) => setTimeout(() => reject(new Error('still opening')), 2000).unref())]);
      } catch (e) {
        error = (e as Error).message;
      }
      if (!this.opened) {
        return { ready: false, checks: { database: { ok: false, backend: dbBackend, error }, cache: { ok: false, backend: cacheBackend, error }, events: { ok: false, backend: this.events.kind } } };
      }
    }
    const { sql, cache, migrations } = this.opened!;
    const probe = async (check: () => Promise<void>) => {
      try {
        await Promise.race([check(), new Promise((_, reject) => setTimeout(() => reject(new Error('no answer within 2 s')), 2000).unref())]);
        return undefined;
      } catch (e) {
        return (e as Error).message;
      }
    };
    const [dbError, cacheError] = await Promise.all([probe(() => sql.ping()), probe(() => cache.ping())]);
    const events = { ok: this.events.connected, backend: this.events.kind };
    // The cache is an optimisation: a replica without Redis serves (slower), so it stays ready.
    return {
      ready: !dbError,
      checks: {
        database: { ok: !dbError, backend: sql.kind, schemaVersion: migrations.current, ...(dbError ? { error: dbError } : {}) },
        cache: { ok: !cacheError, backend: cache.kind, ...(cacheError ? { error: cacheError } : {}) },
        events,
      },
    };
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    const services = await this.opening?.catch(() => undefined);
    await services?.engines.dag.close().catch((error: unknown) => this.log.warn({ err: (error as Error).message }, 'stopping the dag scheduler failed'));
    // Stops the preparation worker, and lets a vector index build in the background finish before the database closes.
    await services?.engines.rag.close().catch((error: unknown) => this.log.warn({ err: (error as Error).message }, 'stopping the rag engine failed'));
    await this.events.detach().catch(() => undefined);
    await services?.graph?.close().catch(() => undefined);
    await services?.cache.close().catch(() => undefined);
    await services?.sql.close().catch((error: unknown) => this.log.warn({ err: (error as Error).message }, 'closing the database failed'));
    this.releaseLock?.();
  }
}
