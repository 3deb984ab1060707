/*
 * DAG and execution operations on every backend, as an agent calling the tools sees them.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { z } from 'zod';
import type { EngineError } from '../../src/errors.js';
import { dagCancel, dagDefine, dagRun, dagRuns, dagStatus, dagValidate } from '../../tools/dag.js';
import { executionStatus } from '../../tools/execution.js';
import type { AnyOperation } from '../../src/surface/operation.js';
import { promotionHistory } from '../../tools/promotion.js';
import { registryGet, registryList } from '../../tools/registry.js';
import { validationRegisterSchema } from '../../tools/validation.js';
import { failure } from '../helpers/failures.js';
import { ADMIN, appBackends, startTestApp, title, type TestApp } from '../helpers/backends.js';
import { sleep } from '../helpers/timing.js';

type Status = z.output<typeof dagStatus.output>;

const fastRetry = (maxAttempts: number) => ({ maxAttempts, initialDelayMs: 1, maxDelayMs: 5 });

for (const backend of appBackends()) {
  describe.skipIf(backend.skip)(`dag operations on ${title(backend)}`, () => {
    let t: TestApp;
    const call = <O extends AnyOperation>(op: O, args: unknown) => t.app.invoke(op, args, ADMIN);
    const status = (runId: string) => call(dagStatus, { runId }) as Promise<Status>;
    const node = (s: Status, id: string) => s.nodes.find((n) => n.id === id)!;

    beforeAll(async () => {
      t = await startTestApp(backend, { env: { DAG_POLL_INTERVAL_MS: '50' } });
    });
    afterAll(async () => t?.close());

    it('runs a workflow with params, expressions, conditions and an output, reporting progress', async () => {
      const progress: [number, number | undefined][] = [];
      const result = await t.app.invoke(
        dagRun,
        {
          wait: true,
          params: { env: 'staging' },
          definition: {
            name: 'demo/expressions',
            params: { env: 'dev', count: 2 },
            nodes: [
              { id: 'plan', action: 'transform', input: { target: '=params.env', replicas: '=params.count * 2', note: '==literal' } },
              { id: 'prod_only', action: 'transform', dependsOn: ['plan'], when: 'nodes.plan.target = "prod"', input: { never: true } },
              { id: 'report', action: 'transform', dependsOn: ['prod_only'], input: { target: '=nodes.plan.target', skipped: '=$exists(nodes.prod_only) = false' } },
            ],
            output: { summary: '=nodes.report.target & " x" & $string(nodes.plan.replicas)' },
          },
        },
        { ...ADMIN, progress: async (done, total) => void progress.push([done, total]) },
      );
      expect(result).toMatchObject({ status: 'succeeded', output: { summary: 'staging x4' } });
      expect(progress.at(-1)).toEqual([3, 3]);
      const s = await status(result.runId);
      expect(node(s, 'plan').output).toEqual({ target: 'staging', replicas: 4, note: '=literal' });
      expect(node(s, 'prod_only')).toMatchObject({ status: 'skipped', attempts: 0 });
      expect(node(s, 'report')).toMatchObject({ status: 'succeeded', output: { target: 'staging', skipped: true } });
    });

    it('retries a failing node to its limit, then skips its dependents and fails the run', async () => {
      const result = await call(dagRun, {
        wait: true,
        definition: {
          name: 'demo/failing',
          nodes: [
            { id: 'ok', action: 'noop' },
            { id: 'flaky', action: 'fail', input: { message: 'service down' }, dependsOn: ['ok'], retry: fastRetry(3) },
            { id: 'after', action: 'noop', dependsOn: ['flaky'] },
            { id: 'later', action: 'noop', dependsOn: ['after'] },
            { id: 'sibling', action: 'noop', dependsOn: ['ok'] },
          ],
        },
      });
      // The waited result names the failed node, its action and its error.
      expect(result).toMatchObject({ status: 'failed', error: 'node "flaky" (fail) failed after 3 attempts: service down (after 3 attempts)' });
      const s = await status(result.runId);
      expect(node(s, 'flaky')).toMatchObject({ status: 'failed', attempts: 3, error: 'service down (after 3 attempts)' });
      expect(node(s, 'after')).toMatchObject({ status: 'skipped', attempts: 0, error: 'skipped: upstream node "flaky" failed' });
      expect(node(s, 'later')).toMatchObject({ status: 'skipped', error: 'skipped: upstream node "flaky" failed' });
      expect(node(s, 'sibling').status).toBe('succeeded');
      // Each node names its upstream nodes: the run's edges.
      expect(s.nodes.map((n) => [n.id, n.dependsOn])).toEqual([['ok', []], ['flaky', ['ok']], ['after', ['flaky']], ['later', ['after']], ['sibling', ['ok']]]);
      const failedOnly = await call(dagStatus, { runId: result.runId, nodeStatus: 'failed' });
      expect(failedOnly.nodes.map((n) => n.id)).toEqual(['flaky']);
    });

    it('does not retry an operation refused for bad input, and says why', async () => {
      const result = await call(dagRun, {
        wait: true,
        definition: { name: 'demo/bad-input', nodes: [{ id: 'publish', action: 'registry_publish', input: { name: 'NoNamespace', version: '1.0.0', content: 'x' }, retry: fastRetry(5) }] },
      });
      const s = await status(result.runId);
      expect(node(s, 'publish')).toMatchObject({ status: 'failed', attempts: 1, error: expect.stringMatching(/^name: expected "namespace\/name"/) });
    });

    it('fails a node at its timeout', async () => {
      const result = await call(dagRun, {
        wait: true,
        definition: { name: 'demo/timeout', nodes: [{ id: 'slow', action: 'delay', input: { ms: 60_000 }, timeoutMs: 50, retry: fastRetry(2) }] },
      });
      const s = await status(result.runId);
      expect(node(s, 'slow')).toMatchObject({ status: 'failed', attempts: 2, error: 'timed out after 50 ms (timeoutMs) (after 2 attempts)' });
    });

    it('cancels a run: running actions are aborted and no new node starts', async () => {
      const started = await call(dagRun, {
        definition: {
          name: 'demo/cancel',
          nodes: [
            { id: 'long', action: 'delay', input: { ms: 60_000 } },
            { id: 'next', action: 'noop', dependsOn: ['long'] },
          ],
        },
      });
      for (let i = 0; i < 200 && node(await status(started.runId), 'long').status !== 'running'; i++) await sleep(20);
      const cancelled = await call(dagCancel, { runId: started.runId });
      expect(cancelled).toEqual({ runId: started.runId, status: 'cancelled' });
      let s = await status(started.runId);
      for (let i = 0; i < 200 && node(s, 'long').status === 'running'; i++) {
        await sleep(20);
        s = await status(started.runId);
      }
      expect(s.status).toBe('cancelled');
      expect(node(s, 'long')).toMatchObject({ status: 'cancelled', error: 'the run was cancelled' });
      expect(node(s, 'next').status).toBe('cancelled');
      expect(await call(dagCancel, { runId: started.runId })).toEqual({ runId: started.runId, status: 'cancelled' });
    });

    it('defines versioned workflows, runs them by name, and makes dag_run repeat-safe with an idempotencyKey', async () => {
      const definition = { name: 'demo/publish', params: { v: '1.0.0' }, nodes: [{ id: 'pub', action: 'registry_publish', input: { name: 'dag/demo', version: '=params.v', content: '=params.v' } }] };
      expect(await call(dagDefine, { definition })).toEqual({ name: 'demo/publish', version: 1, created: true });
      expect(await call(dagDefine, { definition })).toEqual({ name: 'demo/publish', version: 1, created: false });
      const yaml = `name: demo/publish\nnodes:\n  - id: pub\n    action: registry_publish\n    input: {name: dag/demo, version: "=params.v", content: "=params.v"}\n`;
      expect(await call(dagDefine, { definition: yaml })).toEqual({ name: 'demo/publish', version: 2, created: true });
      const clash = await failure(call(dagDefine, { definition: { ...definition, version: 1, description: 'changed' } }));
      expect(clash.code).toBe('CONFLICT');

      const first = await call(dagRun, { workflow: 'demo/publish@1', idempotencyKey: 'release-1', wait: true });
      const again = await call(dagRun, { workflow: 'demo/publish@1', idempotencyKey: 'release-1', wait: true });
      expect(again.runId).toBe(first.runId);
      expect(again.status).toBe('succeeded');
      const other = await failure(call(dagRun, { workflow: 'demo/publish@1', idempotencyKey: 'release-1', params: { v: '2.0.0' } }));
      expect(other.code).toBe('CONFLICT');
      expect(other.message).toContain(first.runId);
      const latest = await call(dagRun, { workflow: 'demo/publish', params: { v: '1.1.0' }, wait: true });
      expect(latest.status).toBe('succeeded');
      expect((await call(registryList, { prefix: 'dag/' })).artifacts.map((a) => a.version)).toEqual(['1.1.0', '1.0.0']);
      expect((await call(dagRuns, { workflow: 'demo/publish' })).runs.map((r) => r.workflow)).toEqual(['demo/publish@2', 'demo/publish@1']);
    });

    it('composes engines: publish, validate the published content against a schema, then promote it to dev', async () => {
      await call(validationRegisterSchema, { id: 'dag-card/v1', schema: { type: 'object', required: ['accuracy'], properties: { accuracy: { type: 'number', maximum: 1 } } } });
      const result = await call(dagRun, {
        wait: true,
        params: { card: { accuracy: 0.93 } },
        definition: {
          name: 'demo/compose',
          nodes: [
            { id: 'publish', action: 'registry_publish', input: { name: 'dag/card', version: '1.0.0', content: '=$string(params.card)', mediaType: 'application/json' } },
            { id: 'fetch', action: 'registry_get', dependsOn: ['publish'], input: { name: '=nodes.publish.name', version: '=nodes.publish.version' } },
            { id: 'check', action: 'validation_validate', dependsOn: ['fetch'], input: { schemaId: 'dag-card/v1', artifact: { name: '=nodes.publish.name', version: '=nodes.fetch.version' } } },
            {
              id: 'promote',
              action: 'promotion_request',
              dependsOn: ['check'],
              when: 'nodes.check.valid',
              input: { name: '=nodes.publish.name', version: '=nodes.publish.version', environment: 'dev', reason: 'published and validated by demo/compose' },
            },
          ],
          output: { valid: '=nodes.check.valid', digest: '=nodes.publish.digest', promotion: '=nodes.promote.status' },
        },
      });
      expect(result).toMatchObject({ status: 'succeeded', output: { valid: true, digest: expect.stringMatching(/^sha256:/), promotion: 'promoted' } });
      // dev needs no approval: the gates passed and the alias moved within the run.
      const promote = node(await status(result.runId), 'promote');
      expect(promote).toMatchObject({ status: 'succeeded', attempts: 1, output: { status: 'promoted', requestId: expect.any(String) } });
      expect((promote.output as { gates: { gate: string; passed: boolean }[] }).gates.every((g) => g.passed)).toBe(true);
      expect(await call(registryGet, { name: 'dag/card', alias: 'dev', includeContent: false })).toMatchObject({ version: '1.0.0' });
      const history = await call(promotionHistory, { name: 'dag/card', environment: 'dev' });
      expect(history.events).toEqual([expect.objectContaining({ action: 'promote', version: '1.0.0', previousVersion: null, actor: ADMIN.principal.id })]);
    });

    it('refuses invalid definitions with the node ids, and unknown runs and workflows', async () => {
      const checked = await call(dagValidate, { definition: { name: 'demo/bad', nodes: [{ id: 'a', action: 'noop', dependsOn: ['b'] }, { id: 'b', action: 'noop', dependsOn: ['a'] }] } });
      expect(checked.valid).toBe(false);
      expect(checked.errors[0]).toMatchObject({ nodeId: expect.any(String), message: expect.stringMatching(/^cycle: (a → b → a|b → a → b)/) });
      expect(await call(dagValidate, { definition: 'name: [unclosed' })).toMatchObject({ valid: false, errors: [{ message: expect.stringMatching(/^definition: not valid YAML or JSON/) }] });
      const run = await failure(call(dagRun, { definition: { name: 'demo/bad', nodes: [{ id: 'a', action: 'nope' }] } }));
      expect(run.code).toBe('INVALID_INPUT');
      expect(run.message).toMatch(/^definition is not valid: node "a": unknown action "nope"/);
      expect((await failure(call(dagStatus, { runId: 'missing' }))).code).toBe('NOT_FOUND');
      expect((await failure(call(dagRun, { workflow: 'never/defined' }))).message).toContain('dag_define');
      expect((await failure(call(dagRun, {}))).message).toContain('exactly one of workflow');
      const off = await call(dagRun, { wait: true, definition: { name: 'demo/http', nodes: [{ id: 'get', action: 'http_request', input: { url: 'http://127.0.0.1:9/' } }] } });
      expect(node(await status(off.runId), 'get').error).toMatch(/^http_request is off: list the hosts .* DAG_engine\.settings\.httpAllowedHosts/);
    });

    it('runs nodes with the caller identity and scopes', async () => {
      const reader = { principal: { id: 'runner', scopes: ['dag:run', 'dag:read', 'registry:read'] } };
      const started = await t.app.invoke(dagRun, { wait: true, definition: { name: 'demo/scoped', nodes: [{ id: 'pub', action: 'registry_publish', input: { name: 'dag/scoped', version: '1.0.0', content: 'x' } }] } }, reader);
      const s = await status(started.runId);
      expect(node(s, 'pub')).toMatchObject({ status: 'failed', attempts: 1, error: 'registry_publish needs the scope "registry:write", which principal "runner" does not have' });
      const denied = await failure(t.app.invoke(dagRun, { definition: { name: 'x', nodes: [{ id: 'a', action: 'noop' }] } }, { principal: { id: 'r', scopes: ['dag:read'] } }));
      expect(denied.code).toBe('FORBIDDEN');
    });

    it('lists runs by status with a cursor, and reports executor figures per action', async () => {
      const seen: string[] = [];
      let cursor: string | undefined;
      do {
        const page = await call(dagRuns, { status: 'succeeded', limit: 2, ...(cursor ? { cursor } : {}) });
        seen.push(...page.runs.map((r) => r.runId));
        expect(page.runs.every((r) => r.status === 'succeeded')).toBe(true);
        cursor = page.nextCursor;
      } while (cursor);
      expect(new Set(seen).size).toBe(seen.length);
      expect(seen.length).toBeGreaterThanOrEqual(4);
      const figures = await call(executionStatus, {});
      expect(figures).toMatchObject({ queued: 0, inFlight: 0 });
      expect(figures.actions.find((a) => a.action === 'fail')).toMatchObject({ succeeded: 0, failed: 3 });
      expect(figures.actions.find((a) => a.action === 'registry_publish')!.succeeded).toBeGreaterThanOrEqual(3);
    });

    it('refuses new runs with a busy error while too many wait to start', async () => {
      const small = await startTestApp(backend, { env: { DAG_MAX_QUEUED_RUNS: '1', EXECUTION_MAX_CONCURRENCY: '1' } });
      try {
        const def = { name: 'demo/busy', nodes: [{ id: 'wait', action: 'delay', input: { ms: 60_000 } }] };
        // With one slot busy on the first run, the second waits; the third is refused.
        const started: string[] = [];
        let refused: Error | undefined;
        for (let i = 0; i < 5 && !refused; i++) {
          try {
            started.push((await small.app.invoke(dagRun, { definition: def, idempotencyKey: `busy-${i}` }, ADMIN)).runId);
          } catch (error) {
            refused = error as Error;
          }
        }
        expect(refused?.message).toMatch(/^busy, retry after \d+ s: 1 runs are waiting to start \(limit DAG_engine\.settings\.maxQueuedRuns = 1\)$/);
        // A full queue has its own code (503), not the rate limit's (BUSY, 429).
        expect((refused as EngineError).code).toBe('QUEUE_FULL');
        expect(started.length).toBeGreaterThanOrEqual(1);
        // A key that already made a run still gets it while the queue is full.
        const again = await small.app.invoke(dagRun, { definition: def, idempotencyKey: 'busy-0' }, ADMIN);
        expect(again.runId).toBe(started[0]);
        for (const id of started) await small.app.invoke(dagCancel, { runId: id }, ADMIN);
      } finally {
        await small.close();
      }
    });
  });
}
