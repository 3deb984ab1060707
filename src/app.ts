/*
 * The composition root
 * ====================
 * Reads the configuration, then wires the adapters it names (src/adapters.ts) and the
 * engines: logging, metrics and change events at once; the database, cache and engines in
 * the background, so a transport can answer `initialize` before they are open. Every
 * surface reaches the engines through the invoke path (src/invoke-pipeline.ts), which this
 * root builds and hands to the server modules as a ServerHost.
 */
import { randomUUID } from 'node:crypto';
import { resolve } from 'node:path';
import type { z } from 'zod';
import { MEMORY_DATA_DIR, openCache, openEmbedders, openGraphStore, openReranker, openSql, type AdapterSettings } from './adapters.js';
import { loadConfig, type LoadedConfig } from './config/load-config.js';
import { ENGINE_NAMES } from './engines/engine-names.js';
import type { Engines } from './engines/engines.js';
import type { ContentGate } from './engines/registry/registry-engine.js';
import { EngineError, invalidInput } from './errors.js';
import { InvokePipeline, type CallContext, type Invocation } from './invoke-pipeline.js';
import type { CachePort } from './platform/cache/cache-port.js';
import { chooseEmbedder, type EmbedderChoice } from './platform/embeddings/embedder-choice.js';
import { chooseReranker, type RerankChoice } from './platform/rerank/rerank-choice.js';
import { EventHub } from './platform/events/event-hub.js';
import { createLogger, type Logger } from './platform/log.js';
import { createMetrics, type Metrics } from './platform/metrics.js';
import { withoutPaths } from './platform/redact.js';
import type { MigrationStatus } from './platform/sql/migrations.js';
import type { SqlPort } from './platform/sql/sql-port.js';
import type { GraphStore } from './platform/graph/graph-store.js';
import type { ApiKeyStore } from './server/auth/api-key-store.js';
import type { Readiness, ServerHost } from './server/host.js';
import type { AnyOperation, EngineId } from './surface/operation.js';
import type { AnyPrompt } from './surface/prompt.js';
import type { AnyResource } from './surface/resource.js';
import { POLICIES_URI, runUri, workflowUri } from './surface/uris.js';
import { selectPrompts } from '../prompts/index.js';
import { selectResources } from '../resources/index.js';
import { selectOperations } from '../tools/index.js';

export { MEMORY_DATA_DIR } from './adapters.js';
export type { CallContext } from './invoke-pipeline.js';
export type { Readiness } from './server/host.js';

/** How often a process says it is alive, and after how long without it its audit intents count as interrupted. */
const AUDIT_BEAT_MS = 10_000;
const AUDIT_STALE_SECONDS = 60;


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
  /**
   * false for one-shot commands (`apikey`, `ingest`): the DAG scheduler is not started, so a
   * command never claims or resumes workflow runs it would abandon when it exits.
   */
  runsWorkflows?: boolean;
}

export interface Services {
  sql: SqlPort;
  cache: CachePort;
  /** GraphRAG's store, when GraphRAG is among the rag modules. */
  graph?: GraphStore;
  engines: Engines;
  migrations: MigrationStatus;
}

export class App implements ServerHost {
  readonly config: LoadedConfig;
  readonly log: Logger;
  readonly operations: AnyOperation[];
  readonly resources: AnyResource[];
  readonly prompts: AnyPrompt[];
  readonly dataDir: string;
  /** This process, in audit intents. */
  readonly instance = randomUUID();
  /**
   * MCP change events (resource updates, list changes) of every replica: what
   * `subscriptions/listen` streams and stdio subscribers hear. Open from the start, so
   * transports can subscribe before storage is; Redis joins it when storage opens.
   */
  readonly events: EventHub;
  /** The environment config and URLs are read from (tests pass their own). */
  private readonly env: Record<string, string | undefined>;
  private readonly embedderChoice: EmbedderChoice;
  private readonly rerankChoice?: RerankChoice;
  private readonly pipeline: InvokePipeline;
  private settings?: AdapterSettings;
  private madeMetrics?: Metrics;
  private auditBeat?: NodeJS.Timeout;
  private apiKeyStore?: Promise<ApiKeyStore>;
  private opening?: Promise<Services>;
  private opened?: Services;
  private releaseLock?: () => void;
  private closed = false;

  constructor(private readonly options: AppOptions = {}) {
    const env = (this.env = options.env ?? process.env);
    this.config = loadConfig({ configDir: options.configDir ?? './config', explicit: options.configExplicit ?? false, env });
    this.log = options.logger ?? createLogger(this.config.engineMap.logging.level, undefined, { redact: this.config.engineMap.logging.redact });
    const engineMap = this.config.engineMap.engine_map;
    this.operations = selectOperations({
      toolsets: options.toolsets,
      readOnly: options.readOnly,
      enabled: (engine) => engineMap[ENGINE_NAMES[engine]].enabled,
    });
    // Resources and prompts follow the engines whose tools are served.
    const served = new Set(this.operations.map((op) => op.engine));
    this.resources = selectResources(served);
    this.prompts = selectPrompts(served);
    this.events = new EventHub((error) => this.log.warn({ err: error.message }, 'change-event listener failed'));
    this.embedderChoice = chooseEmbedder(env);
    this.rerankChoice = chooseReranker(this.config.engineMap.engine_map.RAG_engine.settings.rerank, env);
    const dataDir = options.dataDir ?? env.MCP_DATA_DIR ?? './data';
    this.dataDir = dataDir === MEMORY_DATA_DIR ? dataDir : resolve(dataDir);
    this.pipeline = new InvokePipeline({
      engines: async () => (await this.services()).engines,
      metrics: () => this.metrics,
      log: (engine) => this.engineLog(engine),
      instance: this.instance,
    });
  }

  /**
   * The metrics registry, made on first use (a call, a scrape, opening storage): a stdio
   * server answers `initialize` without loading prom-client (platform/metrics.ts).
   */
  get metrics(): Metrics {
    return (this.madeMetrics ??= createMetrics());
  }

  /** The adapters' settings; `metrics` is read when an adapter counts, so opening the database (and its lock check) does not wait for prom-client. */
  private adapterSettings(): AdapterSettings {
    const metrics = (): Metrics => this.metrics;
    return (this.settings ??= {
      config: this.config,
      env: this.env,
      log: this.log,
      get metrics() {
        return metrics();
      },
      dataDir: this.dataDir,
      databaseUrl: this.options.databaseUrl,
      redisUrl: this.options.redisUrl,
      databaseSchema: this.options.databaseSchema,
      cacheKeyPrefix: this.options.cacheKeyPrefix,
    });
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
          // Clients learn what is wrong, but not where the files are (the log has the full message).
          throw new EngineError('UNAVAILABLE', `storage is not available: ${withoutPaths((error as Error).message)}`);
        },
      );
    }
    return this.opening;
  }

  // Drivers and engines are imported here, not at the top, so that building the app (which
  // a stdio client's first requests after `initialize` wait for) does not wait for them.
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
    const { sql, releaseLock } = await openSql(this.adapterSettings());
    this.releaseLock = releaseLock;
    if (sql.poolFigures) this.metrics.observePool(sql.poolFigures);
    let cache: CachePort | undefined;
    let graph: GraphStore | undefined;
    try {
      const migrations = await migrate(sql);
      cache = await openCache(this.adapterSettings());
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
        return (tx) => validation.confirmBinding(tx, mediaType, result);
      };
      const registry = new RegistryEngine(
        sql,
        cache,
        gate,
        { maxContentBytes: engineMap.engine_map.registry.settings.maxContentBytes, cacheTtlSeconds: engineMap.cache.redis.ttl, exclusiveDatabase: sql.kind === 'pglite' },
        this.engineLog('registry'),
      );
      const ragSettings = engineMap.engine_map.RAG_engine.settings;
      graph = engineMap.engine_map.RAG_engine.modules.includes('GraphRAG') ? await openGraphStore(this.adapterSettings(), sql, ragSettings.graphStore) : undefined;
      const rag = new RagEngine(
        sql,
        cache,
        await openEmbedders(this.embedderChoice, this.adapterSettings(), cache),
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
          sources: { roots: this.env.RAG_INGEST_ROOTS, urlHosts: this.env.RAG_INGEST_URL_HOSTS, urlAllowCidrs: this.env.RAG_INGEST_URL_ALLOW_CIDRS },
        },
        this.engineLog('rag'),
        graph && { store: graph, extractor: await this.graphExtractor() },
        await openReranker(this.rerankChoice, this.engineLog('rag')),
      );
      const { dag, execution } = await this.openDag(sql);
      const governance = new GovernanceEngine(sql, engineMap.engine_map.governance.settings, this.engineLog('governance'), engineMap.logging.redact);
      this.announceChanges(rag, dag, governance);
      await this.openEventRelay(dag, governance);
      this.log.info(
        { database: sql.kind, cache: cache.kind, schemaVersion: migrations.current, applied: migrations.applied, ms: Math.round(performance.now() - started) },
        'storage ready',
      );
      await this.startAuditBeat(governance, sql.kind === 'pglite');
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
        ...settings,
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
    // A disabled engine is not opened: its operations are not offered and its scheduler never runs.
    if (engineMap.DAG_engine.enabled && this.options.runsWorkflows !== false) await dag.start();
    return { dag, execution };
  }

  /**
   * What the engines change becomes MCP change events: every state change of a run is an
   * update of dag://runs/{id}; a new workflow version updates dag://workflows/{name}, and a
   * new workflow name or collection changes the resource list. New runs and artifact
   * versions are not announced as list changes: under load they come many times a second,
   * and each would send every listening client to re-list (runs are followed by URI).
   * A policy change is an update of governance://policies: each replica that hears it,
   * this one included, drops the policy set its call gate trusts.
   */
  private announceChanges(rag: Engines['rag'], dag: Engines['dag'], governance: Engines['governance']): void {
    dag.scheduler.events.on('run', (id: string) => this.events.publish({ kind: 'resource_updated', uri: runUri(id) }));
    dag.scheduler.events.on('workflow', (name: string, version: number) => {
      this.events.publish({ kind: 'resource_updated', uri: workflowUri(name) });
      if (version === 1) this.events.publish({ kind: 'resources_list_changed' });
    });
    rag.events.on('collection', () => this.events.publish({ kind: 'resources_list_changed' }));
    governance.events.on('policies', () => this.events.publish({ kind: 'resource_updated', uri: POLICIES_URI }));
    this.events.subscribe((event) => {
      if (event.kind === 'resource_updated' && event.uri === POLICIES_URI) governance.policiesChanged();
    });
  }

  /**
   * With REDIS_URL, change events travel between replicas on Redis pub/sub. After an outage
   * of the channel, the runs that may have changed meanwhile (not over, or ended since it
   * was lost) are announced again to this replica's listeners, with a list change.
   */
  private async openEventRelay(dag: Engines['dag'], governance: Engines['governance']): Promise<void> {
    const url = this.options.redisUrl ?? this.env.REDIS_URL;
    if (!url) return;
    const { attachRedisEventRelay } = await import('./platform/events/redis-event-relay.js');
    const log = this.log.child({ component: 'events' });
    await attachRedisEventRelay(this.events, url, {
      keyPrefix: this.options.cacheKeyPrefix,
      log,
      onResync: (lostAt) => {
        governance.policiesChanged();
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

  /** The chat endpoint's extractor when GRAPH_EXTRACTION_URL is set. */
  private async graphExtractor() {
    const url = this.env.GRAPH_EXTRACTION_URL;
    if (!url) return undefined;
    const model = this.env.GRAPH_EXTRACTION_MODEL || 'gpt-4o-mini';
    const [{ createOpenAiChat }, { createModelExtractor }] = await Promise.all([import('./platform/chat/openai-chat.js'), import('./engines/rag/graph/model-extractor.js')]);
    const complete = createOpenAiChat({ url, model, apiKey: this.env.GRAPH_EXTRACTION_API_KEY || undefined, apiKeyVariable: 'GRAPH_EXTRACTION_API_KEY' });
    return createModelExtractor({ id: `chat:${model}`, complete, log: this.engineLog('rag') });
  }

  /** Runs one operation for a caller; throws EngineError with a message that says what to change. */
  invoke<O extends AnyOperation>(operation: O, args: unknown, call: CallContext): Promise<z.output<O['output']>> {
    return this.pipeline.invoke(operation, args, call);
  }

  /** Runs a call of any surface (a resource read, a prompt, a completion) through the same path. */
  run<P, T>(invocation: Invocation<P, T>, call: CallContext): Promise<T> {
    return this.pipeline.run(invocation, call);
  }

  apiKeys(): Promise<ApiKeyStore> {
    this.apiKeyStore ??= Promise.all([import('./server/auth/api-key-store.js'), this.services()]).then(([{ ApiKeyStore }, { sql }]) => new ApiKeyStore(sql));
    return this.apiKeyStore;
  }

  /**
   * This process beats while it runs, and the audit intents of processes that stopped
   * beating become `interrupted` records. An embedded database belongs to one process (the
   * data-dir lock), so there every intent but this process's own is interrupted at once.
   */
  private async startAuditBeat(governance: Engines['governance'], embedded: boolean): Promise<void> {
    const { audit } = governance;
    const sweep = async (othersAreDead: boolean) => {
      await audit.beat(this.instance);
      const interrupted = await audit.recordInterrupted(this.instance, { staleSeconds: AUDIT_STALE_SECONDS, othersAreDead });
      if (interrupted > 0) this.log.warn({ interrupted }, 'calls interrupted by a stopped process are now in the audit log as interrupted');
    };
    await sweep(embedded);
    this.auditBeat = setInterval(() => {
      sweep(false).catch((error: unknown) => this.log.warn({ err: (error as Error).message }, 'audit heartbeat failed'));
    }, AUDIT_BEAT_MS);
    this.auditBeat.unref();
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
    clearInterval(this.auditBeat);
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
