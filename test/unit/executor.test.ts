/*
 * The executor as its users see it: fairness across runs, limits, back-pressure,
 * timeouts, retries and cancellation. Ordering and counters only; no timing assertions.
 */
import { describe, expect, it } from 'vitest';
import { EngineError } from '../../src/errors.js';
import { Executor, TaskCancelledError, TaskTimeoutError } from '../../src/engines/execution/executor.js';
import { retryDelayMs } from '../../src/engines/execution/backoff.js';

function deferred() {
  let resolve!: () => void;
  const promise = new Promise<void>((r) => (resolve = r));
  return { promise, resolve };
}

const tick = () => new Promise((r) => setImmediate(r));

describe('executor', () => {
  it('takes waiting tasks round-robin across groups, not first-come first-served', async () => {
    const executor = new Executor({ maxConcurrency: 1, maxQueued: 100 });
    const order: string[] = [];
    const task = (group: string, id: string) => executor.submit({ group, action: 'noop', run: async () => void order.push(id) });
    const all = [task('a', 'a1'), task('a', 'a2'), task('a', 'a3'), task('a', 'a4'), task('a', 'a5'), task('b', 'b1'), task('b', 'b2')];
    await Promise.all(all);
    expect(order).toEqual(['a1', 'a2', 'b1', 'a3', 'b2', 'a4', 'a5']);
  });

  it('never runs more than the global limit, nor more than a group limit in one group', async () => {
    const executor = new Executor({ maxConcurrency: 4, maxQueued: 100 });
    const running = new Map<string, number>();
    const peak = new Map<string, number>();
    let total = 0;
    let peakTotal = 0;
    const gate = deferred();
    const task = (group: string, limit?: number) =>
      executor.submit({
        group,
        groupConcurrency: limit,
        action: 'work',
        run: async () => {
          running.set(group, (running.get(group) ?? 0) + 1);
          peak.set(group, Math.max(peak.get(group) ?? 0, running.get(group)!));
          peakTotal = Math.max(peakTotal, ++total);
          await gate.promise;
          running.set(group, running.get(group)! - 1);
          total--;
        },
      });
    const tasks = [...Array.from({ length: 10 }, () => task('slow', 2)), ...Array.from({ length: 10 }, () => task('other'))];
    await tick();
    expect(executor.status().inFlight).toBe(4);
    expect(running.get('slow')).toBe(2);
    expect(running.get('other')).toBe(2);
    gate.resolve();
    await Promise.all(tasks);
    expect(peakTotal).toBe(4);
    expect(peak.get('slow')).toBe(2);
  });

  it('refuses work past the queue bound with a busy error that says when to retry', async () => {
    const executor = new Executor({ maxConcurrency: 1, maxQueued: 2 });
    const gate = deferred();
    const blocked = [0, 1, 2].map(() => executor.submit({ group: 'g', action: 'work', run: () => gate.promise }));
    const refused = await executor.submit({ group: 'h', action: 'work', run: async () => undefined }).catch((e: unknown) => e);
    expect(refused).toBeInstanceOf(EngineError);
    expect((refused as EngineError).code).toBe('QUEUE_FULL');
    expect((refused as EngineError).message).toMatch(/^busy, retry after \d+ s: 2 tasks are already queued \(limit execution\.settings\.maxQueued = 2\)$/);
    gate.resolve();
    await Promise.all(blocked);
    await expect(executor.submit({ group: 'h', action: 'work', run: async () => 'ok' })).resolves.toBe('ok');
  });

  it('aborts an attempt at its timeout, through its signal', async () => {
    const executor = new Executor({ maxConcurrency: 2, maxQueued: 10 });
    let seen: AbortSignal | undefined;
    const error = await executor
      .submit({
        group: 'g',
        action: 'hang',
        timeoutMs: 20,
        retry: { maxAttempts: 1, initialDelayMs: 0, maxDelayMs: 0 },
        run: (signal) => {
          seen = signal;
          return new Promise(() => undefined);
        },
      })
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(TaskTimeoutError);
    expect(seen?.aborted).toBe(true);
    expect(executor.status().inFlight).toBe(0);
  });

  it('retries a failing task up to maxAttempts, recording each attempt, and stops at permanent errors', async () => {
    const executor = new Executor({ maxConcurrency: 2, maxQueued: 10 });
    const attempts: number[] = [];
    const result = await executor.submit({
      group: 'g',
      action: 'flaky',
      retry: { maxAttempts: 3, initialDelayMs: 1, maxDelayMs: 2 },
      onAttempt: async (n) => void attempts.push(n),
      run: async (_signal, attempt) => {
        if (attempt < 3) throw new Error(`attempt ${attempt} failed`);
        return 'third time';
      },
    });
    expect(result).toBe('third time');
    expect(attempts).toEqual([1, 2, 3]);

    let calls = 0;
    const permanent = await executor
      .submit({
        group: 'g',
        action: 'bad',
        retry: { maxAttempts: 5, initialDelayMs: 1, maxDelayMs: 1 },
        isRetryable: () => false,
        run: async () => {
          calls++;
          throw new Error('bad input');
        },
      })
      .catch((e: unknown) => e);
    expect((permanent as Error).message).toBe('bad input');
    expect(calls).toBe(1);
    const failed = executor.stats.figures().find((f) => f.action === 'flaky');
    expect(failed).toMatchObject({ succeeded: 1, failed: 2 });
  });

  it('cancellation reaches a running action and drops waiting ones', async () => {
    const executor = new Executor({ maxConcurrency: 1, maxQueued: 10 });
    const controller = new AbortController();
    let actionSignal: AbortSignal | undefined;
    const running = executor.submit({
      group: 'run',
      action: 'long',
      signal: controller.signal,
      run: (signal) => {
        actionSignal = signal;
        return new Promise((_, reject) => signal.addEventListener('abort', () => reject(new Error('stopped'))));
      },
    });
    let waitingRan = false;
    const waiting = executor.submit({ group: 'run', action: 'next', signal: controller.signal, run: async () => void (waitingRan = true) });
    await tick();
    expect(executor.status()).toMatchObject({ inFlight: 1, queued: 1 });
    controller.abort();
    await expect(running).rejects.toBeInstanceOf(TaskCancelledError);
    await expect(waiting).rejects.toBeInstanceOf(TaskCancelledError);
    expect(actionSignal?.aborted).toBe(true);
    expect(waitingRan).toBe(false);
    expect(executor.status()).toMatchObject({ inFlight: 0, queued: 0 });
  });

  it('backs off exponentially with full jitter, capped', () => {
    const policy = { maxAttempts: 10, initialDelayMs: 100, maxDelayMs: 1000 };
    expect([1, 2, 3, 4, 5].map((n) => retryDelayMs(policy, n, () => 1))).toEqual([100, 200, 400, 800, 1000]);
    expect(retryDelayMs(policy, 3, () => 0.5)).toBe(200);
    expect(retryDelayMs(policy, 3, () => 0)).toBe(0);
  });
});
