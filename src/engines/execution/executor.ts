/*
 * execution/executor
 * ==================
 * The one executor under DAG nodes: at most `maxConcurrency` tasks run at once in this
 * process, and at most each group's own limit per group (a group is a DAG run). Waiting
 * tasks are taken round-robin across groups, so a run with 10,000 ready nodes does not
 * starve a run with one. The queue is bounded: past `maxQueued` a submission is refused
 * with QUEUE_FULL and a retry-after estimate instead of growing memory without limit. Each
 * attempt gets an AbortSignal that fires on its timeout and on the caller's cancellation;
 * a failed attempt is retried after an exponential, jittered delay spent outside any slot.
 */
import { EngineError } from '../../errors.js';
import { DEFAULT_RETRY, retryDelayMs, type RetryPolicy } from './backoff.js';
import { ActionStats } from './action-stats.js';

export interface ExecutorSettings {
  maxConcurrency: number;
  maxQueued: number;
}

export interface TaskSpec<T> {
  /** Fairness unit, e.g. a run id: waiting tasks are taken round-robin across groups. */
  group: string;
  /** Most tasks of this group running at once (default: no limit beyond maxConcurrency). */
  groupConcurrency?: number;
  /** Name counted in the per-action statistics. */
  action: string;
  timeoutMs?: number;
  /** The caller's cancellation: aborts a running attempt and drops a waiting one. */
  signal?: AbortSignal;
  retry?: RetryPolicy;
  /** Whether a failed attempt may be retried (default: every error but cancellation). */
  isRetryable?(error: unknown): boolean;
  /** Awaited before each attempt starts (1-based), e.g. to record it durably. */
  onAttempt?(attempt: number): Promise<void>;
  run(signal: AbortSignal, attempt: number): Promise<T>;
}

export class TaskTimeoutError extends Error {
  constructor(readonly timeoutMs: number) {
    super(`timed out after ${timeoutMs} ms`);
    this.name = 'TaskTimeoutError';
  }
}

export class TaskCancelledError extends Error {
  constructor(reason = 'cancelled') {
    super(reason);
    this.name = 'TaskCancelledError';
  }
}

/** The caller's reason when it gave one as a TaskCancelledError, a plain one otherwise. */
function cancellation(signal: AbortSignal | undefined): TaskCancelledError {
  return signal?.reason instanceof TaskCancelledError ? signal.reason : new TaskCancelledError();
}

interface Entry {
  spec: TaskSpec<unknown>;
  attempt: number;
  resolve(value: unknown): void;
  reject(error: unknown): void;
  /** Removes the waiting-task abort listener once the task leaves the queue. */
  detach?(): void;
}

interface Group {
  queue: Entry[];
  inFlight: number;
  limit: number;
}

export interface ExecutorStatus {
  queued: number;
  inFlight: number;
  /** Tasks waiting out a retry delay. */
  retrying: number;
  maxConcurrency: number;
  maxQueued: number;
}

export class Executor {
  readonly stats = new ActionStats();
  private readonly groups = new Map<string, Group>();
  /** Groups with waiting tasks, visited in turn. */
  private ring: string[] = [];
  private cursor = 0;
  private queued = 0;
  private inFlight = 0;
  private retrying = 0;
  private closed = false;
  private readonly running = new Set<AbortController>();

  constructor(readonly settings: ExecutorSettings) {}

  status(): ExecutorStatus {
    return { queued: this.queued, inFlight: this.inFlight, retrying: this.retrying, maxConcurrency: this.settings.maxConcurrency, maxQueued: this.settings.maxQueued };
  }

  /** Slots neither running nor spoken for by a waiting task: how much more work is worth taking on now. */
  idleSlots(): number {
    return Math.max(0, this.settings.maxConcurrency - this.inFlight - this.queued);
  }

  submit<T>(spec: TaskSpec<T>): Promise<T> {
    if (this.closed) return Promise.reject(new EngineError('UNAVAILABLE', 'the executor is shutting down'));
    if (spec.signal?.aborted) return Promise.reject(new TaskCancelledError());
    if (this.queued >= this.settings.maxQueued) {
      return Promise.reject(
        new EngineError(
          'QUEUE_FULL',
          `busy, retry after ${this.retryAfterSeconds()} s: ${this.queued} tasks are already queued (limit execution.settings.maxQueued = ${this.settings.maxQueued})`,
          { retryAfterSeconds: this.retryAfterSeconds() },
        ),
      );
    }
    return new Promise<T>((resolve, reject) => {
      this.enqueue({ spec: spec as TaskSpec<unknown>, attempt: 1, resolve: resolve as (v: unknown) => void, reject });
      this.dispatch();
    });
  }

  /** Aborts running tasks and refuses waiting and new ones. */
  close(): void {
    this.closed = true;
    for (const controller of this.running) controller.abort(new TaskCancelledError('the server is shutting down'));
    for (const group of this.groups.values()) {
      for (const entry of group.queue) entry.reject(new TaskCancelledError('the server is shutting down'));
      group.queue = [];
    }
    this.queued = 0;
  }

  private retryAfterSeconds(): number {
    const meanMs = this.stats.meanMs() || 100;
    return Math.max(1, Math.ceil((this.queued * meanMs) / this.settings.maxConcurrency / 1000));
  }

  private enqueue(entry: Entry): void {
    let group = this.groups.get(entry.spec.group);
    if (!group) {
      group = { queue: [], inFlight: 0, limit: entry.spec.groupConcurrency ?? Number.POSITIVE_INFINITY };
      this.groups.set(entry.spec.group, group);
    }
    if (group.queue.length === 0) this.ring.push(entry.spec.group);
    group.queue.push(entry);
    this.queued++;
    const signal = entry.spec.signal;
    if (signal) {
      // A task cancelled while it waits leaves the queue at once.
      const onAbort = () => {
        const index = group.queue.indexOf(entry);
        if (index === -1) return;
        group.queue.splice(index, 1);
        this.queued--;
        if (group.queue.length === 0) this.dropFromRing(entry.spec.group);
        entry.reject(cancellation(signal));
      };
      signal.addEventListener('abort', onAbort, { once: true });
      // A run's signal is shared by all its tasks: without this, each task started would
      // leave a listener (and its entry) behind for as long as the run lasts.
      entry.detach = () => signal.removeEventListener('abort', onAbort);
    }
  }

  private dropFromRing(id: string): void {
    const index = this.ring.indexOf(id);
    if (index === -1) return;
    this.ring.splice(index, 1);
    if (index < this.cursor) this.cursor--;
    if (this.cursor >= this.ring.length) this.cursor = 0;
    const group = this.groups.get(id);
    if (group && group.inFlight === 0 && group.queue.length === 0) this.groups.delete(id);
  }

  private dispatch(): void {
    while (this.inFlight < this.settings.maxConcurrency && this.ring.length > 0) {
      let picked: Entry | undefined;
      // One pass around the ring from the cursor: the first group below its own limit.
      for (let step = 0; step < this.ring.length; step++) {
        const index = (this.cursor + step) % this.ring.length;
        const id = this.ring[index]!;
        const group = this.groups.get(id)!;
        if (group.inFlight >= group.limit) continue;
        picked = group.queue.shift()!;
        picked.detach?.();
        this.queued--;
        group.inFlight++;
        if (group.queue.length === 0) {
          this.ring.splice(index, 1);
          this.cursor = this.ring.length === 0 ? 0 : index % this.ring.length;
        } else {
          this.cursor = (index + 1) % this.ring.length;
        }
        break;
      }
      if (!picked) return;
      this.inFlight++;
      void this.runAttempt(picked);
    }
  }

  private async runAttempt(entry: Entry): Promise<void> {
    const { spec } = entry;
    const controller = new AbortController();
    this.running.add(controller);
    const onCallerAbort = () => controller.abort(cancellation(spec.signal));
    spec.signal?.addEventListener('abort', onCallerAbort, { once: true });
    const timer = spec.timeoutMs ? setTimeout(() => controller.abort(new TaskTimeoutError(spec.timeoutMs!)), spec.timeoutMs) : undefined;
    const started = performance.now();
    let outcome: { ok: true; value: unknown } | { ok: false; error: unknown };
    try {
      if (spec.signal?.aborted) throw cancellation(spec.signal);
      await spec.onAttempt?.(entry.attempt);
      // The race frees the slot when the signal fires even if the action ignores it.
      const value = await Promise.race([
        spec.run(controller.signal, entry.attempt),
        new Promise<never>((_, reject) => {
          if (controller.signal.aborted) reject(controller.signal.reason);
          controller.signal.addEventListener('abort', () => reject(controller.signal.reason), { once: true });
        }),
      ]);
      outcome = { ok: true, value };
    } catch (error) {
      outcome = { ok: false, error: controller.signal.aborted ? controller.signal.reason : error };
    } finally {
      if (timer) clearTimeout(timer);
      spec.signal?.removeEventListener('abort', onCallerAbort);
      this.running.delete(controller);
    }
    this.stats.record(spec.action, outcome.ok, performance.now() - started);
    this.inFlight--;
    const group = this.groups.get(spec.group)!;
    group.inFlight--;
    if (group.inFlight === 0 && group.queue.length === 0) this.groups.delete(spec.group);

    if (outcome.ok) entry.resolve(outcome.value);
    else this.afterFailure(entry, outcome.error);
    this.dispatch();
  }

  private afterFailure(entry: Entry, error: unknown): void {
    const { spec } = entry;
    const policy = spec.retry ?? DEFAULT_RETRY;
    const retryable = !(error instanceof TaskCancelledError) && !this.closed && (spec.isRetryable?.(error) ?? true);
    if (!retryable || entry.attempt >= policy.maxAttempts) {
      entry.reject(error);
      return;
    }
    this.retrying++;
    const delay = retryDelayMs(policy, entry.attempt);
    const timer = setTimeout(() => {
      spec.signal?.removeEventListener('abort', onAbort);
      this.retrying--;
      if (this.closed) return entry.reject(new TaskCancelledError('the server is shutting down'));
      this.enqueue({ ...entry, attempt: entry.attempt + 1, detach: undefined });
      this.dispatch();
    }, delay);
    const onAbort = () => {
      clearTimeout(timer);
      this.retrying--;
      entry.reject(cancellation(spec.signal));
    };
    spec.signal?.addEventListener('abort', onAbort, { once: true });
  }
}
