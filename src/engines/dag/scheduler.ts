/*
 * dag/scheduler
 * =============
 * The loop that moves runs forward in this process: it claims ready nodes from SQL (as
 * many as the executor has idle slots), evaluates their condition and input, hands them
 * to the executor, and writes their results back in batches. Inline builtins (noop,
 * transform) skip the executor: they are claimed, evaluated and completed batch after
 * batch, layer after layer. Expressions are evaluated outside any transaction, under the
 * budgets of expressions.ts. A node whose attempts keep crashing the process fails after
 * maxInterruptedAttempts instead of being resumed forever. A heartbeat extends the leases
 * of the nodes it holds and puts nodes of dead replicas back in the queue; a cancellation
 * watch aborts, within half a second, running nodes whose run another replica cancelled.
 * Node results are written at least once per attempt and at most once per node: the write
 * is fenced by the lease.
 */
import { randomUUID } from 'node:crypto';
import { EventEmitter, setMaxListeners } from 'node:events';
import { isEngineError } from '../../errors.js';
import type { Logger } from '../../platform/log.js';
import type { Metrics } from '../../platform/metrics.js';
import { captureContext, contextFromCarrier, runInContext, withSpan } from '../../platform/tracing.js';
import type { SqlPort } from '../../platform/sql/sql-port.js';
import { DEFAULT_RETRY } from '../execution/backoff.js';
import { TaskCancelledError, TaskTimeoutError, type Executor } from '../execution/executor.js';
import { ActionFailure, INLINE_ACTIONS, runInline } from './builtins.js';
import { condition, evaluateInput, ExpressionError, inputExpressions, references, type Bindings, type ExpressionLimits, type References } from './expressions.js';
import {
  cancelledAmong,
  claimInline,
  claimReady,
  heartbeat,
  reclaimLapsed,
  recordAttempt,
  releaseOwned,
  unclosedRuns,
  writeCompletions,
  writeInlineCompletions,
  type ClaimedNode,
  type Completion,
  type InlineNode,
  type RunRow,
} from './run-store.js';

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
  /** How often to look for cancellations made by other processes (only with several). */
  cancelCheckMs?: number;
  /** Budgets of each JSONata evaluation. */
  expressions: ExpressionLimits;
  /** A node interrupted by a process crash this many times fails instead of running again. */
  maxInterruptedAttempts: number;
  /** The value of a server-side secret, for $secret("NAME") in http_request headers; throws when unknown. */
  secret: (name: string) => string;
}

/** Errors that the same call would meet again: retrying cannot help. */
const PERMANENT_CODES = new Set(['INVALID_INPUT', 'FORBIDDEN', 'NOT_FOUND', 'CONFLICT', 'TOO_LARGE', 'UNAUTHENTICATED']);
const MAX_OUTPUT_BYTES = 1024 * 1024;
/** Inline nodes one claim takes. */
const INLINE_BATCH = 1000;
/** Claims per inline turn of the loop: each completes a layer and releases the next. */
const INLINE_PASSES = 20;

export function isRetryable(error: unknown): boolean {
  if (error instanceof ExpressionError || error instanceof TaskCancelledError || error instanceof InterruptedTooOften) return false;
  if (error instanceof ActionFailure) return error.retryable;
  if (isEngineError(error)) return !PERMANENT_CODES.has(error.code);
  return true;
}

/** The node's attempts kept ending with the process that ran them. */
class InterruptedTooOften extends Error {
  constructor(interruptions: number, limit: number) {
    super(
      `interrupted ${interruptions} times: the process running this node stopped (crashed or was killed) during each of its last attempts, and maxInterruptedAttempts (${limit}, DAG_engine.settings.maxInterruptedAttempts) allows no more; look for what in its input or action stops the process`,
    );
  }
}

function describe(error: unknown, attempts: number): string {
  const message = error instanceof Error ? error.message : String(error);
  return attempts > 1 ? `${message} (after ${attempts} attempts)` : message;
}

/** $secret outside http_request headers: an error naming where it may be used. */
const NO_SECRETS: Bindings = {
  secret: (name: unknown) => {
    throw new ExpressionError(`$secret(${JSON.stringify(name)}) is only available in the header values of an http_request node's input, so that a secret never lands in a node's output or the audit log`);
  },
};

export class Scheduler {
  /**
   * The DAG engine's events: 'run' with a run id whenever that run's state changed in this
   * process; 'workflow' with a name and version when this process defined a new version.
   */
  readonly events = new EventEmitter();
  readonly owner = `${process.pid}-${randomUUID().slice(0, 8)}`;
  private completions: Completion[] = [];
  private readonly runControllers = new Map<string, { controller: AbortController; inFlight: number }>();
  private wake?: () => void;
  private stopped = false;
  private loopDone?: Promise<void>;
  private beat?: NodeJS.Timeout;
  private cancelWatch?: NodeJS.Timeout;
  private watching = false;
  /**
   * Whether ready inline nodes may exist: set at start, by a new run, by an idle poll (other
   * processes may have released some) and by a flush that made one ready; cleared by an
   * inline pass that found them all. Runs without inline actions then pay no extra query.
   */
  private inlineDue = true;

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
    for (const run of await unclosedRuns(this.sql)) await this.finishRun(run);
    this.loopDone = this.loop();
    this.beat = setInterval(() => void this.heartbeat(), Math.max(100, Math.floor(this.settings.leaseMs / 3)));
    this.beat.unref();
    // With one process, dag_cancel runs here and aborts directly; with several, the replica
    // that cancels cannot reach the others' actions, so each looks for itself.
    if (!this.settings.soleProcess) {
      this.cancelWatch = setInterval(() => void this.watchCancellations(), this.settings.cancelCheckMs ?? 500);
      this.cancelWatch.unref();
    }
  }

  /** Stops claiming, aborts running nodes and gives them back to the queue. */
  async stop(): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    clearInterval(this.beat);
    clearInterval(this.cancelWatch);
    this.wake?.();
    await this.loopDone;
    for (const { controller } of this.runControllers.values()) controller.abort(new TaskCancelledError('the server is shutting down'));
    await releaseOwned(this.sql, this.owner).catch((error: unknown) => this.log.warn({ err: (error as Error).message }, 'could not release running nodes'));
  }

  /** New work may be ready: look now instead of at the next poll. */
  poke(): void {
    this.inlineDue = true;
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
        if (!this.stopped && this.inlineDue && (await this.runInline()) > 0) worked = true;
        const slots = this.executor.idleSlots();
        if (slots > 0 && !this.stopped) {
          const claimed = await claimReady(this.sql, this.owner, Math.min(slots, 500), this.settings.runConcurrency, this.settings.leaseMs, INLINE_ACTIONS);
          for (const node of claimed) void this.startNode(node);
          if (claimed.length > 0) {
            worked = true;
            for (const run of new Set(claimed.map((node) => node.run_id))) this.events.emit('run', run);
          }
        }
      } catch (error) {
        this.log.warn({ err: (error as Error).message }, 'dag scheduler: storage call failed; retrying');
        await this.sleep(1000);
        continue;
      }
      // A result that arrived during the last query is written at once, not after a poll interval.
      if (!worked && this.completions.length === 0) {
        await this.sleep(this.settings.pollIntervalMs);
        this.inlineDue = true;
      }
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
      const result = await writeCompletions(this.sql, this.owner, batch, INLINE_ACTIONS);
      if (result.inlineReady) this.inlineDue = true;
      for (const run of result.finished) await this.finishRun(run);
      for (const run of result.runs) this.events.emit('run', run);
    } catch (error) {
      // Keep the results for the next flush; the leases still fence them.
      this.completions.unshift(...batch);
      throw error;
    }
  }

  /**
   * Completes ready inline nodes: claim a batch under a lease, evaluate it outside any
   * transaction, write the results (which may make the next layer ready), and again, up
   * to INLINE_BATCH nodes. A crash leaves the claimed nodes running; their lease lapses
   * and they are taken back, counted as interrupted.
   */
  private async runInline(): Promise<number> {
    let done = 0;
    this.inlineDue = false;
    // Announced once per turn, not per claim: every announcement wakes the run's waiters.
    const runs = new Set<string>();
    const finished = new Map<string, RunRow>();
    for (let pass = 0; ; pass++) {
      if (pass === INLINE_PASSES || done >= INLINE_BATCH || this.stopped) {
        this.inlineDue = true; // more may be ready: the next loop turn goes on
        break;
      }
      const nodes = await claimInline(this.sql, this.owner, INLINE_BATCH - done, this.settings.leaseMs, INLINE_ACTIONS);
      if (nodes.length === 0) break;
      done += nodes.length;
      const completions: (Completion & { children: number[] })[] = [];
      // One after another: each evaluation's time budget is its own.
      for (const node of nodes) completions.push({ ...(await this.inlineCompletion(node)), children: node.children });
      const result = completions.some((c) => c.status === 'failed') ? await writeCompletions(this.sql, this.owner, completions, INLINE_ACTIONS) : await writeInlineCompletions(this.sql, this.owner, completions);
      for (const run of result.runs) runs.add(run);
      for (const run of result.finished) finished.set(run.id, run);
    }
    for (const run of finished.values()) await this.finishRun(run);
    for (const run of runs) this.events.emit('run', run);
    return done;
  }

  private async inlineCompletion(node: InlineNode): Promise<Completion> {
    const base = { run_id: node.run_id, ordinal: node.ordinal };
    if (node.interruptions >= this.settings.maxInterruptedAttempts) {
      return { ...base, status: 'failed', output: null, error: new InterruptedTooOften(node.interruptions, this.settings.maxInterruptedAttempts).message, releasesChildren: false };
    }
    const started = performance.now();
    const scope = { params: node.params, nodes: node.upstream ?? {} };
    const limits = this.settings.expressions;
    try {
      if (node.spec.when !== undefined && !(await condition(node.spec.when, scope, limits, NO_SECRETS))) {
        return { ...base, status: 'skipped', output: null, error: `skipped: when ${JSON.stringify(node.spec.when)} is false`, releasesChildren: true, notAttempted: true };
      }
      const output = runInline(node.action, node.spec.input === undefined ? undefined : await evaluateInput(node.spec.input, scope, limits, () => NO_SECRETS));
      const bytes = output === null ? 4 : JSON.stringify(output).length;
      if (bytes > MAX_OUTPUT_BYTES) throw new Error(`output is ${bytes} bytes; node outputs are limited to ${MAX_OUTPUT_BYTES}`);
      this.recordInline(node.action, 'succeeded', started);
      return { ...base, status: 'succeeded', output, error: null, releasesChildren: true };
    } catch (error) {
      // Nothing outside the process is involved: the same input fails the same way again.
      this.recordInline(node.action, 'failed', started);
      return { ...base, status: 'failed', output: null, error: describe(error, 1), releasesChildren: false };
    }
  }

  // Inline nodes bypass the executor; they are counted like the nodes it runs.
  private recordInline(action: string, status: 'succeeded' | 'failed', started: number): void {
    const ms = performance.now() - started;
    this.executor.stats.record(action, status === 'succeeded', ms);
    this.metrics?.dagNodeDuration.observe({ operation: action, status }, ms / 1000);
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
        output = (await evaluateInput(run.output_spec, { params: run.params, nodes: Object.fromEntries(rows.map((r) => [r.node_id, r.output])) }, this.settings.expressions, () => NO_SECRETS)) ?? null;
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
    if (node.interruptions >= this.settings.maxInterruptedAttempts) {
      return done({ ...base, status: 'failed', output: null, error: new InterruptedTooOften(node.interruptions, this.settings.maxInterruptedAttempts).message, releasesChildren: false });
    }
    if (node.attempts > policy.maxAttempts) {
      // Claimed again after its replica died, with no attempt left.
      return done({ ...base, status: 'failed', output: null, error: `interrupted: the process running it stopped, and all ${policy.maxAttempts} attempts are used`, releasesChildren: false });
    }
    let run = this.runControllers.get(node.run_id);
    if (!run) {
      run = { controller: new AbortController(), inFlight: 0 };
      // Every running or waiting attempt of the run listens to it: 100 is normal, not a leak.
      setMaxListeners(0, run.controller.signal);
      this.runControllers.set(node.run_id, run);
    }
    run.inFlight++;
    const entry = run;
    let attempts = node.attempts;
    try {
      const scope = { params: node.params, nodes: node.upstream ?? {} };
      const limits = this.settings.expressions;
      if (node.spec.when !== undefined && !(await condition(node.spec.when, scope, limits, NO_SECRETS))) {
        return done({ ...base, status: 'skipped', output: null, error: `skipped: when ${JSON.stringify(node.spec.when)} is false`, releasesChildren: true, notAttempted: true });
      }
      const input = node.spec.input === undefined ? undefined : await evaluateInput(node.spec.input, scope, limits, (path) => this.bindingsAt(node.action, path));
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
        // One span per attempt, a child of the dag_run call's span (its context is stored with
        // the run); the operation the node runs (and its SQL) nests beneath it.
        run: (signal, attempt) =>
          runInContext(contextFromCarrier(node.trace_context ?? undefined) ?? captureContext(), () =>
            withSpan(`dag node ${node.node_id}`, { 'dag.run.id': node.run_id, 'dag.node.id': node.node_id, 'dag.node.action': node.action, 'dag.node.attempt': attempt }, () =>
              this.actions.run(node.action, input, { principal: { id: node.principal_id, scopes: node.principal_scopes }, signal }),
            ),
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

  /**
   * $secret("NAME") reads a server-side secret in http_request header values only: there the
   * value goes to the remote server and nowhere else (not into the node's output, the run's
   * output or the audit log). Anywhere else it is an error that says so.
   */
  private bindingsAt(action: string, path: readonly string[]): Bindings {
    if (action === 'http_request' && path.length === 2 && path[0] === 'headers') {
      return { secret: (name: unknown) => this.settings.secret(String(name)) };
    }
    return NO_SECRETS;
  }

  /** Aborts this process's running nodes of runs cancelled by another process. */
  private async watchCancellations(): Promise<void> {
    if (this.stopped || this.watching || this.runControllers.size === 0) return;
    this.watching = true;
    try {
      for (const run of await cancelledAmong(this.sql, [...this.runControllers.keys()])) this.abortRun(run);
    } catch (error) {
      this.log.warn({ err: (error as Error).message }, 'dag cancellation check failed');
    } finally {
      this.watching = false;
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
        for (const run of reclaimed) this.events.emit('run', run);
        this.poke();
      }
    } catch (error) {
      this.log.warn({ err: (error as Error).message }, 'dag heartbeat failed');
    }
  }
}
