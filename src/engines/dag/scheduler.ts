/*
 * dag/scheduler
 * =============
 * The loop that moves runs forward in this process: it claims ready nodes from SQL (as
 * many as the executor has idle slots), evaluates their condition and input, hands them
 * to the executor, and writes their results back in batches. A heartbeat extends the
 * leases of the nodes it holds, aborts those whose run was cancelled elsewhere, and puts
 * nodes of dead replicas back in the queue. Node results are written at least once per
 * attempt and at most once per node: the write is fenced by the lease.
 */
import { randomUUID } from 'node:crypto';
import { EventEmitter } from 'node:events';
import { isEngineError } from '../../errors.js';
import type { Logger } from '../../platform/log.js';
import type { Metrics } from '../../platform/metrics.js';
import { withSpan } from '../../platform/tracing.js';
import type { SqlPort } from '../../platform/sql/sql-port.js';
import { DEFAULT_RETRY } from '../execution/backoff.js';
import { TaskCancelledError, TaskTimeoutError, type Executor } from '../execution/executor.js';
import { ActionFailure } from './builtins.js';
import { condition, evaluateInput, ExpressionError, inputExpressions, references, type References } from './expressions.js';
import { claimReady, heartbeat, recordAttempt, reclaimLapsed, releaseOwned, writeCompletions, type ClaimedNode, type Completion, type RunRow } from './run-store.js';

export interface RunPrincipal {
  id: string;
  scopes: string[];
}

/** How the DAG engine reaches actions: the composition root backs it with every operation. */
export interface ActionPort {
  has(name: string): boolean;
  names(): readonly string[];
  run(name: string, input: unknown, context: { principal: RunPrincipal; signal: AbortSignal }): Promise<unknown>;
}

export interface SchedulerSettings {
  leaseMs: number;
  pollIntervalMs: number;
  runConcurrency: number;
  /** Embedded database: this is the only process, so running nodes found at start are orphans. */
  soleProcess: boolean;
}

/** Errors that the same call would meet again: retrying cannot help. */
const PERMANENT_CODES = new Set(['INVALID_INPUT', 'FORBIDDEN', 'NOT_FOUND', 'CONFLICT', 'TOO_LARGE', 'UNAUTHENTICATED']);
const MAX_OUTPUT_BYTES = 1024 * 1024;

export function isRetryable(error: unknown): boolean {
  if (error instanceof ExpressionError || error instanceof TaskCancelledError) return false;
  if (error instanceof ActionFailure) return error.retryable;
  if (isEngineError(error)) return !PERMANENT_CODES.has(error.code);
  return true;
}

function describe(error: unknown, attempts: number): string {
  const message = error instanceof Error ? error.message : String(error);
  return attempts > 1 ? `${message} (after ${attempts} attempts)` : message;
}

export class Scheduler {
  /** Emits 'run' with a run id whenever that run's state changed in this process. */
  readonly events = new EventEmitter();
  readonly owner = `${process.pid}-${randomUUID().slice(0, 8)}`;
  private completions: Completion[] = [];
  private readonly runControllers = new Map<string, { controller: AbortController; inFlight: number }>();
  private wake?: () => void;
  private stopped = false;
  private loopDone?: Promise<void>;
  private beat?: NodeJS.Timeout;

  constructor(
    private readonly sql: SqlPort,
    private readonly executor: Executor,
    private readonly actions: ActionPort,
    private readonly settings: SchedulerSettings,
    private readonly log: Logger,
    private readonly metrics?: Pick<Metrics, 'dagRunsTotal' | 'dagNodeDuration'>,
  ) {
    this.events.setMaxListeners(0);
  }

  async start(): Promise<void> {
    const reclaimed = await reclaimLapsed(this.sql, this.settings.soleProcess);
    if (reclaimed.length > 0) this.log.info({ runs: reclaimed.length }, 'resuming interrupted runs');
    this.loopDone = this.loop();
    this.beat = setInterval(() => void this.heartbeat(), Math.max(100, Math.floor(this.settings.leaseMs / 3)));
    this.beat.unref();
  }

  /** Stops claiming, aborts running nodes and gives them back to the queue. */
  async stop(): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    clearInterval(this.beat);
    this.wake?.();
    await this.loopDone;
    for (const { controller } of this.runControllers.values()) controller.abort(new TaskCancelledError('the server is shutting down'));
    await releaseOwned(this.sql, this.owner).catch((error: unknown) => this.log.warn({ err: (error as Error).message }, 'could not release running nodes'));
  }

  /** New work may be ready: look now instead of at the next poll. */
  poke(): void {
    this.wake?.();
  }

  /** Aborts this process's running nodes of a run (dag_cancel has already written the state). */
  abortRun(runId: string): void {
    this.runControllers.get(runId)?.controller.abort(new TaskCancelledError('the run was cancelled'));
  }

  private async loop(): Promise<void> {
    while (!this.stopped) {
      let worked = false;
      try {
        if (this.completions.length > 0) {
          await this.flush();
          worked = true;
        }
        const slots = this.executor.idleSlots();
        if (slots > 0 && !this.stopped) {
          const claimed = await claimReady(this.sql, this.owner, Math.min(slots, 500), this.settings.runConcurrency, this.settings.leaseMs);
          for (const node of claimed) void this.startNode(node);
          if (claimed.length > 0) worked = true;
        }
      } catch (error) {
        this.log.warn({ err: (error as Error).message }, 'dag scheduler: storage call failed; retrying');
        await this.sleep(1000);
        continue;
      }
      // A result that arrived during the last query is written at once, not after a poll interval.
      if (!worked && this.completions.length === 0) await this.sleep(this.settings.pollIntervalMs);
    }
  }

  private sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const done = () => {
        clearTimeout(timer);
        this.wake = undefined;
        resolve();
      };
      const timer = setTimeout(done, ms);
      this.wake = done;
    });
  }

  private async flush(): Promise<void> {
    const batch = this.completions;
    this.completions = [];
    try {
      const result = await writeCompletions(this.sql, this.owner, batch);
      for (const run of result.finished) await this.finishRun(run);
      for (const run of result.runs) this.events.emit('run', run);
    } catch (error) {
      // Keep the results for the next flush; the leases still fence them.
      this.completions.unshift(...batch);
      throw error;
    }
  }

  private async finishRun(run: RunRow): Promise<void> {
    let output: unknown = null;
    let error: string | null = run.failed > 0 ? `${run.failed} node${run.failed > 1 ? 's' : ''} failed` : null;
    if (run.output_spec !== null && run.output_spec !== undefined && run.failed === 0) {
      try {
        const refs: References = { nodes: new Set(), dynamic: false };
        inputExpressions(run.output_spec, (source) => references(source, refs));
        const { rows } = await this.sql.query<{ node_id: string; output: unknown }>(
          'select node_id, output from dag_nodes where run_id = $1 and node_id in (select jsonb_array_elements_text($2::jsonb))',
          [run.id, JSON.stringify([...refs.nodes])],
        );
        output = (await evaluateInput(run.output_spec, { params: run.params, nodes: Object.fromEntries(rows.map((r) => [r.node_id, r.output])) })) ?? null;
      } catch (e) {
        error = `output: ${(e as Error).message}`;
      }
    }
    const status = run.failed > 0 || error ? 'failed' : 'succeeded';
    await this.sql.query(
      `update dag_runs set status = $2, output = $3::jsonb, error = $4, finished_at = now() where id = $1 and status in ('queued', 'running')`,
      [run.id, status, JSON.stringify(output), error],
    );
    this.log.info({ run: run.id, workflow: run.workflow, status, nodes: run.node_count, failed: run.failed }, 'run finished');
    this.metrics?.dagRunsTotal.inc({ status });
  }

  private complete(completion: Completion): void {
    this.completions.push(completion);
    this.wake?.();
  }

  private async startNode(node: ClaimedNode): Promise<void> {
    const started = performance.now();
    const done = (completion: Completion): void => {
      if (!completion.notAttempted) this.metrics?.dagNodeDuration.observe({ operation: node.action, status: completion.status }, (performance.now() - started) / 1000);
      this.complete(completion);
    };
    const policy = node.spec.retry ?? DEFAULT_RETRY;
    const base = { run_id: node.run_id, ordinal: node.ordinal };
    if (node.attempts > policy.maxAttempts) {
      // Claimed again after its replica died, with no attempt left.
      return done({ ...base, status: 'failed', output: null, error: `interrupted: the process running it stopped, and all ${policy.maxAttempts} attempts are used`, releasesChildren: false });
    }
    let run = this.runControllers.get(node.run_id);
    if (!run) {
      run = { controller: new AbortController(), inFlight: 0 };
      this.runControllers.set(node.run_id, run);
    }
    run.inFlight++;
    const entry = run;
    let attempts = node.attempts;
    try {
      const scope = { params: node.params, nodes: node.upstream ?? {} };
      if (node.spec.when !== undefined && !(await condition(node.spec.when, scope))) {
        return done({ ...base, status: 'skipped', output: null, error: `skipped: when ${JSON.stringify(node.spec.when)} is false`, releasesChildren: true, notAttempted: true });
      }
      const input = node.spec.input === undefined ? undefined : await evaluateInput(node.spec.input, scope);
      const output = await this.executor.submit({
        group: node.run_id,
        groupConcurrency: node.concurrency,
        action: node.action,
        timeoutMs: node.spec.timeoutMs,
        signal: entry.controller.signal,
        retry: { ...policy, maxAttempts: policy.maxAttempts - node.attempts + 1 },
        isRetryable,
        onAttempt: async (attempt) => {
          attempts = node.attempts + attempt - 1;
          if (attempt > 1) await recordAttempt(this.sql, this.owner, node.run_id, node.ordinal, attempts);
        },
        // One span per attempt; the operation the node runs (and its SQL) nests beneath it.
        run: (signal, attempt) =>
          withSpan(`dag node ${node.node_id}`, { 'dag.run.id': node.run_id, 'dag.node.id': node.node_id, 'dag.node.action': node.action, 'dag.node.attempt': attempt }, () =>
            this.actions.run(node.action, input, { principal: { id: node.principal_id, scopes: node.principal_scopes }, signal }),
          ),
      });
      const json = JSON.stringify(output ?? null);
      if (json.length > MAX_OUTPUT_BYTES) {
        return done({ ...base, status: 'failed', output: null, error: `output is ${json.length} bytes; node outputs are limited to ${MAX_OUTPUT_BYTES}`, releasesChildren: false });
      }
      done({ ...base, status: 'succeeded', output: output ?? null, error: null, releasesChildren: true });
    } catch (error) {
      const cancelled = error instanceof TaskCancelledError;
      if (cancelled && this.stopped) return; // given back to the queue by stop()
      const message = describe(error instanceof TaskTimeoutError ? new Error(`timed out after ${error.timeoutMs} ms (timeoutMs)`) : error, cancelled ? 0 : attempts);
      done({ ...base, status: cancelled ? 'cancelled' : 'failed', output: null, error: message, releasesChildren: false });
    } finally {
      entry.inFlight--;
      if (entry.inFlight === 0 && this.runControllers.get(node.run_id) === entry) this.runControllers.delete(node.run_id);
    }
  }

  private async heartbeat(): Promise<void> {
    if (this.stopped) return;
    try {
      const cancelled = await heartbeat(this.sql, this.owner, this.settings.leaseMs);
      for (const run of cancelled) this.abortRun(run);
      const reclaimed = await reclaimLapsed(this.sql, false);
      if (reclaimed.length > 0) {
        this.log.warn({ runs: reclaimed }, 'took back nodes whose replica stopped heartbeating');
        this.poke();
      }
    } catch (error) {
      this.log.warn({ err: (error as Error).message }, 'dag heartbeat failed');
    }
  }
}
