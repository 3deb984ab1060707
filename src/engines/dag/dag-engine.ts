/*
 * dag engine
 * ==========
 * Workflows: define (versioned, immutable), validate, run, follow, cancel and list runs.
 * A run is written to SQL in one transaction (the run and all its nodes) and moved
 * forward by the scheduler of whichever replica claims its nodes; its state survives a
 * restart. Actions are the builtins plus the operations the composition root offers
 * through the ActionPort, run with the identity and scopes of the caller who started
 * the run.
 */
import { randomUUID } from 'node:crypto';
import { conflict, EngineError, invalidInput, notFound } from '../../errors.js';
import type { Logger } from '../../platform/log.js';
import type { Metrics } from '../../platform/metrics.js';
import { isoTimestamp, type SqlExecutor, type SqlPort } from '../../platform/sql/sql-port.js';
import { sha256Digest } from '../../platform/digest.js';
import { decodeCursor, isSeq, keysetPage } from '../../platform/sql/keyset.js';
import { carrierFromContext } from '../../platform/tracing.js';
import type { Executor } from '../execution/executor.js';
import { BUILTIN_ACTIONS, isBuiltin, runBuiltin } from './builtins.js';
import { DEFAULT_EXPRESSION_LIMITS } from './expressions.js';
import { environmentSecrets } from './secrets.js';
import { DefinitionSyntaxError, parseDefinitionText, type WorkflowDefinition } from './definition.js';
import { RUN_COLUMNS, type NodeRow, type NodeStatus, type RunRow, type RunStatus } from './run-store.js';
import { Scheduler, type ActionPort, type RunPrincipal } from './scheduler.js';
import { validateDefinition, type Plan, type ValidationIssue } from './validate.js';

export type { ActionPort, RunPrincipal } from './scheduler.js';

export interface DagSettings {
  maxNodes: number;
  maxQueuedRuns: number;
  httpAllowedHosts: readonly string[];
  /** CIDRs http_request may reach although loopback, private or link-local. */
  httpAllowedNetworks?: readonly string[];
  /** $secret("NAME") reads the environment variable of this prefix + NAME. */
  secretEnvPrefix?: string;
  runConcurrency: number;
  leaseMs: number;
  pollIntervalMs: number;
  expressionTimeoutMs?: number;
  expressionMaxDepth?: number;
  maxInterruptedAttempts?: number;
}

/**
 * Who is looking at runs: a run belongs to the principal that started it, and anyone else
 * is told it does not exist, unless an administrator (the operations layer decides who is
 * one: `dag:admin` or `*`).
 */
export interface RunViewer {
  id: string;
  admin: boolean;
}

/** The principal whose runs a viewer may see; null: all runs. */
const ownerFilter = (viewer: RunViewer): string | null => (viewer.admin ? null : viewer.id);

export interface WorkflowRecord {
  name: string;
  version: number;
  definition: WorkflowDefinition;
  nodeCount: number;
  createdAt: string;
  createdBy: string;
}

export interface NodeView {
  id: string;
  action: string;
  /** Upstream node ids (the run's edges). */
  dependsOn: string[];
  status: NodeStatus;
  attempts: number;
  startedAt: string | null;
  finishedAt: string | null;
  error?: string;
  output?: unknown;
}

export interface RunView {
  runId: string;
  workflow: string;
  status: RunStatus;
  createdAt: string;
  startedAt: string | null;
  finishedAt: string | null;
  nodeCount: number;
  /** Nodes finished (succeeded, failed or skipped). */
  done: number;
  error?: string;
  output?: unknown;
}

/** Runs at least this large refresh the planner statistics of dag_nodes on the embedded database. */
const ANALYZE_FROM_NODES = 500;

export const TERMINAL: readonly RunStatus[] = ['succeeded', 'failed', 'cancelled'];


function toRunView(row: RunRow): RunView {
  return {
    runId: row.id,
    workflow: row.workflow_version ? `${row.workflow}@${row.workflow_version}` : row.workflow,
    status: row.status,
    createdAt: isoTimestamp(row.created_at)!,
    startedAt: isoTimestamp(row.started_at),
    finishedAt: isoTimestamp(row.finished_at),
    nodeCount: row.node_count,
    done: row.status === 'cancelled' ? row.node_count - Math.max(0, row.remaining) : row.node_count - row.remaining,
    ...(row.error ? { error: row.error } : {}),
    ...(row.output !== null && row.output !== undefined ? { output: row.output } : {}),
  };
}

function digest(value: unknown): string {
  return sha256Digest(JSON.stringify(value));
}

export class DagEngine {
  readonly scheduler: Scheduler;
  private readonly actionPort: ActionPort;

  constructor(
    private readonly sql: SqlPort,
    readonly executor: Executor,
    operations: ActionPort,
    private readonly settings: DagSettings,
    private readonly log: Logger,
    metrics?: Pick<Metrics, 'dagRunsTotal' | 'dagNodeDuration'>,
  ) {
    const builtinSettings = { httpAllowedHosts: settings.httpAllowedHosts, httpAllowedNetworks: settings.httpAllowedNetworks ?? [] };
    this.actionPort = {
      has: (name) => isBuiltin(name) || operations.has(name),
      names: () => [...BUILTIN_ACTIONS, ...operations.names()],
      run: (name, input, context) => (isBuiltin(name) ? runBuiltin(name, input, context.signal, builtinSettings) : operations.run(name, input, context)),
    };
    this.scheduler = new Scheduler(
      sql,
      executor,
      this.actionPort,
      {
        leaseMs: settings.leaseMs,
        pollIntervalMs: settings.pollIntervalMs,
        runConcurrency: settings.runConcurrency,
        soleProcess: sql.kind === 'pglite',
        expressions: { timeoutMs: settings.expressionTimeoutMs ?? DEFAULT_EXPRESSION_LIMITS.timeoutMs, maxDepth: settings.expressionMaxDepth ?? DEFAULT_EXPRESSION_LIMITS.maxDepth },
        maxInterruptedAttempts: settings.maxInterruptedAttempts ?? 3,
        secret: environmentSecrets(settings.secretEnvPrefix ?? 'MCP_SECRET_'),
      },
      log,
      metrics,
    );
  }

  start(): Promise<void> {
    return this.scheduler.start();
  }

  async close(): Promise<void> {
    this.executor.close();
    await this.scheduler.stop();
  }

  validate(definition: unknown): { valid: boolean; errors: ValidationIssue[]; plan?: Plan } {
    let parsed: unknown;
    try {
      parsed = parseDefinitionText(definition);
    } catch (error) {
      if (error instanceof DefinitionSyntaxError) return { valid: false, errors: [{ message: error.message }] };
      throw error;
    }
    return validateDefinition(parsed, {
      maxNodes: this.settings.maxNodes,
      isAction: (name) => this.actionPort.has(name),
      actionNames: () => this.actionPort.names(),
    });
  }

  private plan(definition: unknown): Plan {
    const result = this.validate(definition);
    if (!result.valid || !result.plan) {
      const lines = result.errors.slice(0, 20).map((e) => (e.nodeId ? `node "${e.nodeId}": ${e.message}` : e.message));
      throw invalidInput(`definition is not valid: ${lines.join('; ')}${result.errors.length > 20 ? `; and ${result.errors.length - 20} more (dag_validate lists them all)` : ''}`, { errors: result.errors });
    }
    return result.plan;
  }

  async define(definition: unknown, principal: string): Promise<{ name: string; version: number; created: boolean }> {
    const plan = this.plan(definition);
    const { version: requested, ...body } = plan.definition;
    const hash = digest(body);
    const result = await this.sql.transaction(async (tx) => {
      await tx.query('select pg_advisory_xact_lock(hashtext($1))', [`dag_workflows:${body.name}`]);
      const { rows } = await tx.query<{ version: number; digest: string }>('select version, digest from dag_workflows where name = $1 order by version desc', [body.name]);
      const same = rows.find((r) => r.digest === hash && (requested === undefined || r.version === requested));
      if (same) return { name: body.name, version: same.version, created: false };
      const version = requested ?? (rows[0]?.version ?? 0) + 1;
      if (rows.some((r) => r.version === version)) {
        throw conflict(`workflow ${body.name} version ${version} already exists with a different definition; versions are immutable: omit version to get the next one (${(rows[0]?.version ?? 0) + 1})`);
      }
      await tx.query('insert into dag_workflows (name, version, definition, digest, node_count, created_by) values ($1, $2, $3, $4, $5, $6)', [
        body.name,
        version,
        JSON.stringify(body),
        hash,
        body.nodes.length,
        principal,
      ]);
      this.log.info({ workflow: body.name, version, nodes: body.nodes.length, principal }, 'workflow defined');
      return { name: body.name, version, created: true };
    });
    if (result.created) this.scheduler.events.emit('workflow', result.name, result.version);
    return result;
  }

  /** "name" (latest version) or "name@version". */
  async workflow(ref: string): Promise<WorkflowRecord> {
    const at = ref.lastIndexOf('@');
    const name = at > 0 ? ref.slice(0, at) : ref;
    const version = at > 0 ? Number(ref.slice(at + 1)) : undefined;
    if (version !== undefined && (!Number.isInteger(version) || version < 1)) throw invalidInput(`workflow: expected "name" or "name@version" with a version number, got ${JSON.stringify(ref)}`);
    const { rows } = await this.sql.query<{ name: string; version: number; definition: WorkflowDefinition; node_count: number; created_at: Date; created_by: string }>(
      `select name, version, definition, node_count, created_at, created_by from dag_workflows where name = $1 and ($2::integer is null or version = $2) order by version desc limit 1`,
      [name, version ?? null],
    );
    const row = rows[0];
    if (!row) throw notFound(`no workflow ${JSON.stringify(ref)}; define it with dag_define first (dag://workflows lists the defined ones)`);
    return { name: row.name, version: row.version, definition: { ...row.definition, version: row.version }, nodeCount: row.node_count, createdAt: isoTimestamp(row.created_at)!, createdBy: row.created_by };
  }

  async workflowNames(prefix: string, limit = 50): Promise<string[]> {
    const { rows } = await this.sql.query<{ name: string }>(`select distinct name from dag_workflows where starts_with(name, $1) order by name limit $2`, [prefix, limit]);
    return rows.map((r) => r.name);
  }

  async startRun(
    request: { workflow?: string; definition?: unknown; params?: Record<string, unknown>; idempotencyKey?: string },
    principal: RunPrincipal,
  ): Promise<{ runId: string; status: RunStatus; created: boolean }> {
    if ((request.workflow === undefined) === (request.definition === undefined)) {
      throw invalidInput('give exactly one of workflow (a name defined with dag_define) or definition (inline)');
    }
    let plan: Plan;
    let workflowVersion: number | null = null;
    if (request.workflow !== undefined) {
      const record = await this.workflow(request.workflow);
      plan = this.plan(record.definition);
      workflowVersion = record.version;
    } else {
      plan = this.plan(request.definition);
    }
    const { definition } = plan;
    const params = { ...definition.params, ...request.params };
    const requestDigest = digest({ workflow: definition.name, version: workflowVersion, definition: workflowVersion ? undefined : definition, params });
    const runId = randomUUID();
    // Nodes run later, on any replica: they rejoin the caller's trace through this.
    const traceContext = carrierFromContext();
    const idempotencyKey = request.idempotencyKey;
    // The run an idempotency key already made, if any (a different request under it is a conflict).
    const madeBy = async (tx: SqlExecutor, key: string) => {
      const { rows } = await tx.query<{ id: string; status: RunStatus; request_digest: string }>(
        'select id, status, request_digest from dag_runs where principal_id = $1 and idempotency_key = $2',
        [principal.id, key],
      );
      const existing = rows[0];
      if (!existing) return undefined;
      if (existing.request_digest !== requestDigest) {
        throw conflict(`idempotencyKey ${JSON.stringify(key)} was already used for a different request (run ${existing.id}); use a new key for a new run`);
      }
      return { runId: existing.id, status: existing.status, created: false };
    };
    const result = await this.sql.transaction(async (tx) => {
      if (idempotencyKey) {
        // Callers racing with one key queue here until the first commits (or rolls back), and
        // then read back the run it made: every one of them gets that run.
        await tx.query(`select pg_advisory_xact_lock(hashtext('dag_run:' || $1 || ':' || $2))`, [principal.id, idempotencyKey]);
        const existing = await madeBy(tx, idempotencyKey);
        if (existing) return existing;
      }
      const { rows: queued } = await tx.query<{ n: number }>(`select count(*)::integer as n from dag_runs where status = 'queued'`);
      if ((queued[0]?.n ?? 0) >= this.settings.maxQueuedRuns) {
        throw new EngineError('QUEUE_FULL', `busy, retry after 5 s: ${queued[0]!.n} runs are waiting to start (limit DAG_engine.settings.maxQueuedRuns = ${this.settings.maxQueuedRuns})`, {
          retryAfterSeconds: 5,
        });
      }
      const inserted = await tx.query<{ id: string }>(
        `insert into dag_runs (id, workflow, workflow_version, status, params, output_spec, concurrency, principal_id, principal_scopes, idempotency_key, request_digest, node_count, remaining, trace_context)
         values ($1, $2, $3, 'queued', $4, $5, $6, $7, $8, $9, $10, $11, $11, $12)
         on conflict (principal_id, idempotency_key) do nothing
         returning id`,
        [
          runId,
          definition.name,
          workflowVersion,
          JSON.stringify(params),
          definition.output === undefined ? null : JSON.stringify(definition.output),
          definition.concurrency ?? this.settings.runConcurrency,
          principal.id,
          JSON.stringify(principal.scopes),
          request.idempotencyKey ?? null,
          requestDigest,
          plan.nodes.length,
          traceContext === undefined ? null : JSON.stringify(traceContext),
        ],
      );
      if (inserted.rows.length === 0) {
        // Only a committed run with this key stops the insert (the lock above orders the
        // callers), and this statement sees it: read it back.
        const existing = idempotencyKey ? await madeBy(tx, idempotencyKey) : undefined;
        if (!existing) throw new Error(`dag_run: the insert of a run with idempotencyKey ${JSON.stringify(idempotencyKey)} did nothing and no run holds the key`);
        return existing;
      }
      await tx.query(
        `insert into dag_nodes (run_id, ordinal, node_id, action, spec, refs, children, deps_remaining)
         select $1, x.ordinal, x.node_id, x.action, x.spec,
                array(select jsonb_array_elements_text(x.refs)),
                array(select jsonb_array_elements_text(x.children)::integer),
                x.deps
           from jsonb_to_recordset($2::jsonb) as x(ordinal integer, node_id text, action text, spec jsonb, refs jsonb, children jsonb, deps integer)`,
        [
          runId,
          JSON.stringify(
            plan.nodes.map((n) => ({
              ordinal: n.ordinal,
              node_id: n.def.id,
              action: n.def.action,
              spec: { input: n.def.input, when: n.def.when, retry: n.def.retry, timeoutMs: n.def.timeoutMs },
              refs: n.refs,
              children: n.children,
              deps: n.dependencies,
            })),
          ),
        ],
      );
      // The embedded database has no autovacuum, so nothing else refreshes the statistics;
      // without them the planner takes a large run for a few rows and answers each batch of
      // the scheduler by scanning the whole run instead of probing the primary key.
      // (On PostgreSQL autovacuum does it, and concurrent ANALYZEs of one table can fail.)
      if (this.sql.kind === 'pglite' && plan.nodes.length >= ANALYZE_FROM_NODES) await tx.query('analyze dag_nodes');
      return { runId, status: 'queued' as RunStatus, created: true };
    });
    if (result.created) {
      this.log.info({ run: runId, workflow: definition.name, nodes: plan.nodes.length, principal: principal.id }, 'run queued');
      this.scheduler.poke();
      this.scheduler.events.emit('run', runId);
    }
    return result;
  }

  /** The run, if the viewer may see it: another principal's run is NOT_FOUND, as if it did not exist. */
  async run(runId: string, viewer: RunViewer): Promise<RunView> {
    const { rows } = await this.sql.query<RunRow>(`select ${RUN_COLUMNS} from dag_runs where id = $1 and ($2::text is null or principal_id = $2)`, [runId, ownerFilter(viewer)]);
    if (!rows[0]) throw notFound(`no run ${JSON.stringify(runId)} (dag_runs lists your runs)`);
    return toRunView(rows[0]);
  }

  /** The run whatever its owner: for the engine's own use on a run it was handed by its owner. */
  private async anyRun(runId: string): Promise<RunView> {
    const { rows } = await this.sql.query<RunRow>(`select ${RUN_COLUMNS} from dag_runs where id = $1`, [runId]);
    if (!rows[0]) throw notFound(`no run ${JSON.stringify(runId)} (dag_runs lists your runs)`);
    return toRunView(rows[0]);
  }

  /** Runs that are not over, or ended at or after `since` (at most `limit`, newest first). */
  async runsChangedSince(since: Date, limit = 1000): Promise<string[]> {
    const { rows } = await this.sql.query<{ id: string }>(
      `select id from dag_runs where status in ('queued', 'running') or finished_at >= $1 order by seq desc limit $2`,
      [since, limit],
    );
    return rows.map((r) => r.id);
  }

  /** The run's nodes, if the viewer may see the run (else none). */
  async nodes(runId: string, viewer: RunViewer, status?: NodeStatus): Promise<NodeView[]> {
    const { rows } = await this.sql.query<NodeRow & { depends_on: string[] | null }>(
      `select n.node_id, n.action, n.status, n.attempts, n.started_at, n.finished_at, n.error, n.output,
              array(select p.node_id from dag_nodes p where p.run_id = n.run_id and n.ordinal = any(p.children) order by p.ordinal) as depends_on
         from dag_nodes n join dag_runs r on r.id = n.run_id
        where n.run_id = $1 and ($2::text is null or n.status = $2) and ($3::text is null or r.principal_id = $3)
        order by n.ordinal`,
      [runId, status ?? null, ownerFilter(viewer)],
    );
    return rows.map((r) => ({
      id: r.node_id,
      action: r.action,
      dependsOn: r.depends_on ?? [],
      status: r.status,
      attempts: r.attempts,
      startedAt: isoTimestamp(r.started_at),
      finishedAt: isoTimestamp(r.finished_at),
      ...(r.error ? { error: r.error } : {}),
      ...(r.output !== null && r.output !== undefined ? { output: r.output } : {}),
    }));
  }

  /** Cancels the run if the viewer may see it (another principal's run is NOT_FOUND). */
  async cancel(runId: string, viewer: RunViewer): Promise<RunView> {
    const principal = viewer.id;
    const changed = await this.sql.transaction(async (tx) => {
      const { rows } = await tx.query<{ id: string }>(
        `update dag_runs set status = 'cancelled', error = $2, finished_at = now()
          where id = $1 and status in ('queued', 'running') and ($3::text is null or principal_id = $3) returning id`,
        [runId, `cancelled by ${principal}`, ownerFilter(viewer)],
      );
      if (rows.length === 0) return false;
      await tx.query(`update dag_nodes set status = 'cancelled', finished_at = now() where run_id = $1 and status = 'pending'`, [runId]);
      return true;
    });
    if (changed) {
      this.scheduler.abortRun(runId);
      this.scheduler.events.emit('run', runId);
      this.log.info({ run: runId, principal }, 'run cancelled');
    }
    return this.run(runId, viewer);
  }

  /** The runs the viewer may see (its own; all for an administrator), newest first. */
  async listRuns(options: { status?: RunStatus; workflow?: string; cursor?: string; limit: number; viewer: RunViewer }): Promise<{ runs: RunView[]; nextCursor?: string }> {
    const before = options.cursor ? decodeCursor(options.cursor, isSeq) : null;
    const { rows } = await this.sql.query<RunRow>(
      `select ${RUN_COLUMNS} from dag_runs
        where ($1::text is null or status = $1) and ($2::text is null or workflow = $2) and ($3::bigint is null or seq < $3)
          and ($5::text is null or principal_id = $5)
        order by seq desc limit $4`,
      [options.status ?? null, options.workflow ?? null, before, options.limit + 1, ownerFilter(options.viewer)],
    );
    const { page, nextCursor } = keysetPage(rows, options.limit, (row) => Number(row.seq));
    return {
      runs: page.map(toRunView),
      ...(nextCursor ? { nextCursor } : {}),
    };
  }

  /**
   * Resolves when the run ends; reports progress on every change seen here (and at least
   * every second). For the caller that started the run (startRun's runId).
   */
  async waitForRun(runId: string, signal: AbortSignal, onProgress: (view: RunView) => Promise<void>): Promise<RunView> {
    let last = -1;
    for (;;) {
      const view = await this.anyRun(runId);
      if (view.done !== last) {
        last = view.done;
        await onProgress(view).catch(() => undefined);
      }
      if (TERMINAL.includes(view.status)) return view;
      if (signal.aborted) throw new EngineError('UNAVAILABLE', `stopped waiting for run ${runId}; it goes on (dag_status follows it)`);
      await new Promise<void>((resolve) => {
        const done = () => {
          clearTimeout(timer);
          this.scheduler.events.off('run', onRun);
          signal.removeEventListener('abort', done);
          resolve();
        };
        const onRun = (id: string) => id === runId && done();
        const timer = setTimeout(done, 1000);
        this.scheduler.events.on('run', onRun);
        signal.addEventListener('abort', done, { once: true });
      });
    }
  }
}
