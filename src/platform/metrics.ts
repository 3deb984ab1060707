/*
 * Metrics
 * =======
 * One prom-client registry per server instance (tests run several in one process), with
 * the default process metrics, the HTTP and tool figures the seed's alert rules use, and
 * every engine's figures. Each metric is defined here once, with its help text, so an
 * engine only calls it: engines get this object from App (`app.metrics`, passed to their
 * constructor in App.open()), operation handlers get it as `ctx.metrics`.
 */
import type * as PromClient from 'prom-client';
import type { Counter, Gauge, Histogram, Registry } from 'prom-client';
import { lazyRequire } from './lazy-require.js';

// prom-client (with @opentelemetry/api, which it loads) took about a tenth of the CPU a stdio
// server spends before answering `initialize`, and nothing counts before the first call or
// scrape. It is required on first use instead; synchronously (it is CommonJS), so that
// Metrics stays a plain object its users call without awaiting.
const prom = lazyRequire<typeof PromClient>('prom-client');

const LATENCY_BUCKETS = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];
// DAG nodes run other engines' operations, some of them long (ingest, promotion gates).
const NODE_BUCKETS = [0.005, 0.025, 0.1, 0.25, 1, 2.5, 10, 30, 60, 300, 900];

/** Connection figures of a database pool, read on each scrape. */
export interface PoolFigures {
  total: number;
  idle: number;
  waiting: number;
  max: number;
}

/** The executor's queue and slots, read on each scrape. */
export interface ExecutorFigures {
  queued: number;
  inFlight: number;
  maxConcurrency: number;
  maxQueued: number;
}

export interface Metrics {
  registry: Registry;
  httpRequestDuration: Histogram<'method' | 'route' | 'status'>;
  httpRequestsTotal: Counter<'method' | 'route' | 'status'>;
  toolCallsTotal: Counter<'tool' | 'outcome'>;
  toolDuration: Histogram<'tool'>;
  /** Resource reads and lists, prompt gets, completions and subscriptions, by surface, name and outcome. */
  surfaceCallsTotal: Counter<'surface' | 'name' | 'outcome'>;
  /** rag: chunks written by ingest. */
  ragIngestedChunks: Counter;
  /** rag: query duration by retrieval mode (hybrid, vector, fulltext, graph...). */
  ragQueryDuration: Histogram<'mode'>;
  /** cache: look-ups answered, by backend (memory, redis) and key space (the key's first segment). */
  cacheHits: Counter<'backend' | 'keyspace'>;
  cacheMisses: Counter<'backend' | 'keyspace'>;
  /** dag: finished runs by final status (succeeded, failed, cancelled...). */
  dagRunsTotal: Counter<'status'>;
  /** dag: one node's execution, by the operation it ran and its status. */
  dagNodeDuration: Histogram<'operation' | 'status'>;
  /** execution: tasks waiting for a slot. */
  executionQueueDepth: Gauge;
  /** execution: tasks running now. */
  executionInflight: Gauge;
  /** promotion: requests by outcome (approved, rejected, expired, rolled_back...). */
  promotionRequestsTotal: Counter<'outcome'>;
  /** governance: audit records appended. */
  auditRecordsTotal: Counter;
  /** governance: audit chain verifications by result (ok, broken); both series exist from start-up at 0. */
  auditChainVerifications: Counter<'result'>;
  /** Names the pool whose figures `db_pool_*` report on each scrape (the postgres adapter's). */
  observePool(read: () => PoolFigures): void;
  /** Names the executor whose queue and in-flight counts the execution_* gauges report on each scrape. */
  observeExecutor(read: () => ExecutorFigures): void;
}

export function createMetrics(): Metrics {
  const { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } = prom();
  const registry = new Registry();
  collectDefaultMetrics({ register: registry });
  let readPool: (() => PoolFigures) | undefined;
  let readExecutor: (() => ExecutorFigures) | undefined;
  const registers = [registry];
  registerPoolGauges(registry, () => readPool?.());
  // The bounds execution_queue_depth and execution_inflight are measured against
  // (execution.settings), so an alert compares them without copying the configuration.
  registerExecutorBounds(registry, () => readExecutor?.());
  return {
    registry,
    httpRequestDuration: new Histogram({
      name: 'http_request_duration_seconds',
      help: 'HTTP request duration in seconds, by method, route and status',
      labelNames: ['method', 'route', 'status'],
      buckets: LATENCY_BUCKETS,
      registers,
    }),
    httpRequestsTotal: new Counter({
      name: 'http_requests_total',
      help: 'HTTP requests served, by method, route and status',
      labelNames: ['method', 'route', 'status'],
      registers,
    }),
    toolCallsTotal: new Counter({
      name: 'mcp_tool_calls_total',
      help: 'Operation calls, by tool and outcome (ok, error, denied)',
      labelNames: ['tool', 'outcome'],
      registers,
    }),
    surfaceCallsTotal: new Counter({
      name: 'mcp_surface_calls_total',
      help: 'MCP calls other than tools (resource reads and lists, prompt gets, completions, subscriptions), by surface, name and outcome',
      labelNames: ['surface', 'name', 'outcome'],
      registers,
    }),
    toolDuration: new Histogram({
      name: 'mcp_tool_duration_seconds',
      help: 'Operation duration in seconds, by tool',
      labelNames: ['tool'],
      buckets: LATENCY_BUCKETS,
      registers,
    }),
    ragIngestedChunks: new Counter({
      name: 'rag_ingested_chunks_total',
      help: 'Chunks written to RAG collections by ingest',
      registers,
    }),
    ragQueryDuration: new Histogram({
      name: 'rag_query_duration_seconds',
      help: 'RAG retrieval duration in seconds, by mode (hybrid, vector, fulltext, ...)',
      labelNames: ['mode'],
      buckets: LATENCY_BUCKETS,
      registers,
    }),
    cacheHits: new Counter({
      name: 'cache_hits_total',
      help: 'Cache look-ups that found a value, by backend (memory, redis, memory+redis) and key space (rag, registry, emb, ...)',
      labelNames: ['backend', 'keyspace'],
      registers,
    }),
    cacheMisses: new Counter({
      name: 'cache_misses_total',
      help: 'Cache look-ups that found nothing (a Redis failure counts as a miss), by backend and key space',
      labelNames: ['backend', 'keyspace'],
      registers,
    }),
    dagRunsTotal: new Counter({
      name: 'dag_runs_total',
      help: 'DAG runs finished, by final status (succeeded, failed, cancelled)',
      labelNames: ['status'],
      registers,
    }),
    dagNodeDuration: new Histogram({
      name: 'dag_node_duration_seconds',
      help: 'DAG node execution duration in seconds, by the operation it ran and its status',
      labelNames: ['operation', 'status'],
      buckets: NODE_BUCKETS,
      registers,
    }),
    executionQueueDepth: new Gauge({
      name: 'execution_queue_depth',
      help: 'Execution tasks waiting for a slot (back-pressure when it stays high)',
      registers,
      collect() {
        const status = readExecutor?.();
        if (status) this.set(status.queued);
      },
    }),
    executionInflight: new Gauge({
      name: 'execution_inflight',
      help: 'Execution tasks running now (at most execution.maxConcurrency)',
      registers,
      collect() {
        const status = readExecutor?.();
        if (status) this.set(status.inFlight);
      },
    }),
    promotionRequestsTotal: new Counter({
      name: 'promotion_requests_total',
      help: 'Promotions decided, by outcome: promoted, rejected (by a gate or an approver), rolled_back',
      labelNames: ['outcome'],
      registers,
    }),
    auditRecordsTotal: new Counter({
      name: 'audit_records_total',
      help: 'Audit records appended to the hash-chained audit log',
      registers,
    }),
    auditChainVerifications: initialised(
      new Counter({
        name: 'audit_chain_verifications_total',
        help: 'Audit hash-chain verifications (governance_audit_verify), by result: ok, or broken (a record altered, missing or removed)',
        labelNames: ['result'],
        registers,
      }),
      [{ result: 'ok' }, { result: 'broken' }],
    ),
    observePool(read) {
      readPool = read;
    },
    observeExecutor(read) {
      readExecutor = read;
    },
  };
}

// Read on each scrape (prom-client calls collect()), so the figures are never stale and
// nothing polls the pool between scrapes. With no pool (PGlite) they report no series.
function registerPoolGauges(registry: Registry, read: () => PoolFigures | undefined): void {
  const gauge = (name: string, help: string, extraLabels: string[], set: (gauge: Gauge, figures: PoolFigures) => void) =>
    new (prom().Gauge)({
      name,
      help,
      labelNames: ['pool', ...extraLabels],
      registers: [registry],
      collect() {
        this.reset();
        const figures = read();
        if (figures) set(this, figures);
      },
    });
  gauge('db_pool_connections', 'Database pool connections by state: idle, or used (checked out)', ['state'], (g, f) => {
    g.set({ pool: 'postgres', state: 'idle' }, f.idle);
    g.set({ pool: 'postgres', state: 'used' }, f.total - f.idle);
  });
  gauge('db_pool_pending_requests', 'Queries waiting for a database pool connection', [], (g, f) => g.set({ pool: 'postgres' }, f.waiting));
  gauge('db_pool_max_connections', 'Most connections the database pool opens (database.pool.max)', [], (g, f) => g.set({ pool: 'postgres' }, f.max));
}

// A labelled counter has no series until its first inc(), and Prometheus' increase() cannot
// see that first step (there is no earlier sample); starting the series at 0 lets an alert
// on increase(...{result="broken"}) fire on the very first broken verification.
function initialised<T extends string>(counter: Counter<T>, labelSets: Array<Partial<Record<T, string>>>): Counter<T> {
  for (const labels of labelSets) counter.inc(labels, 0);
  return counter;
}

function registerExecutorBounds(registry: Registry, read: () => ExecutorFigures | undefined): void {
  for (const [name, help, pick] of [
    ['execution_max_concurrency', 'Execution slots (execution.settings.maxConcurrency); execution_inflight is at most this', (f: ExecutorFigures) => f.maxConcurrency],
    ['execution_max_queued', 'Tasks the executor queues before refusing submissions as busy (execution.settings.maxQueued)', (f: ExecutorFigures) => f.maxQueued],
  ] as const) {
    new (prom().Gauge)({
      name,
      help,
      registers: [registry],
      collect() {
        this.reset();
        const figures = read();
        if (figures) this.set(pick(figures));
      },
    });
  }
}
