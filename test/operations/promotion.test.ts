import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { EngineError } from '../../src/errors.js';
import { governanceAuditQuery, governanceAuditVerify, governanceSetPolicy } from '../../tools/governance.js';
import type { GateResult, PromotionEvent, PromotionRequest } from '../../src/engines/promotion/promotion-engine.js';
import type { AnyOperation } from '../../src/surface/operation.js';
import {
  promotionApprove,
  promotionHistory,
  promotionPending,
  promotionReject,
  promotionRequest,
  promotionRollback,
  promotionStatus,
} from '../../tools/promotion.js';
import { registryGet, registryPublish, registryYank } from '../../tools/registry.js';
import { validationRegisterSchema } from '../../tools/validation.js';
import { failure } from '../helpers/failures.js';
import { ADMIN, appBackends, startTestApp, title, type TestApp } from '../helpers/backends.js';

const as = (id: string, scopes: string[]) => ({ principal: { id, scopes } });
const dev = as('dana', ['registry:write', 'registry:read', 'promotion:request', 'promotion:read']);
const lead = as('lee', ['registry:read', 'promotion:request', 'promotion:approve', 'promotion:read']);
const sre = as('sam', ['registry:read', 'promotion:approve', 'promotion:read']);
const intern = as('ivy', ['registry:read', 'promotion:read', 'promotion:request']);

for (const backend of appBackends()) {
  describe.skipIf(backend.skip)(`promotion operations on ${title(backend)}`, () => {
    let t: TestApp;
    const call = <O extends AnyOperation>(op: O, args: unknown, ctx: { principal: { id: string; scopes: string[] } } = ADMIN) => t.app.invoke(op, args, ctx);
    const alias = async (name: string, env: string) => (await call(registryGet, { name, alias: env, includeContent: false })).version;
    const toDev = async (name: string, version: string) => {
      const r = await call(promotionRequest, { name, version, environment: 'dev', reason: 'build passed' }, dev);
      expect(r.status).toBe('promoted');
    };
    const toStaging = async (name: string, version: string) => {
      const r = await call(promotionRequest, { name, version, environment: 'staging', reason: 'ready for staging' }, dev);
      expect(r.status).toBe('pending_approval');
      await call(promotionApprove, { requestId: r.requestId }, lead);
    };

    beforeAll(async () => {
      t = await startTestApp(backend);
      for (const version of ['1.0.0', '1.1.0', '1.2.0']) {
        await call(registryPublish, { name: 'acme/churn', version, content: `model ${version}`, labels: { taxonomy: 'classifier' } }, dev);
      }
    });
    afterAll(async () => t?.close());

    it('promotes to dev at once when no approval is needed, and registry_get follows the alias', async () => {
      const r = await call(promotionRequest, { name: 'acme/churn', version: '1.0.0', environment: 'dev', reason: 'nightly' }, dev);
      expect(r.status).toBe('promoted');
      expect((r.gates as GateResult[]).map((g) => [g.gate, g.passed])).toEqual([
        ['order', true],
        ['schema', true],
        ['policy', true],
        ['taxonomy', true],
      ]);
      expect(await alias('acme/churn', 'dev')).toBe('1.0.0');
    });

    it('refuses to skip an environment and says which gate failed', async () => {
      const r = await call(promotionRequest, { name: 'acme/churn', version: '1.1.0', environment: 'staging', reason: 'skip dev' }, dev);
      expect(r.status).toBe('rejected');
      const order = (r.gates as GateResult[]).find((g) => g.gate === 'order')!;
      expect(order.passed).toBe(false);
      expect(order.messages[0]).toContain('has not been promoted to dev');
    });

    it('waits for approval in staging; the requester cannot approve; one other approver promotes', async () => {
      const r = await call(promotionRequest, { name: 'acme/churn', version: '1.0.0', environment: 'staging', reason: 'validated in dev' }, lead);
      expect(r.status).toBe('pending_approval');
      const self = await failure(call(promotionApprove, { requestId: r.requestId }, lead));
      expect(self.code).toBe('FORBIDDEN');
      expect(self.message).toContain('four-eyes');
      const noScope = await failure(call(promotionApprove, { requestId: r.requestId }, intern));
      expect(noScope.code).toBe('FORBIDDEN');
      expect(noScope.message).toContain('"promotion:approve"');
      await failure(call(registryGet, { name: 'acme/churn', alias: 'staging' }));

      // promotion_pending lists it (for staging, not for prod) with its gates, until decided.
      const pending = (await call(promotionPending, { environment: 'staging' }, sre)).requests as { requestId: string; requestedBy: string; gates: GateResult[]; approvals: unknown[] }[];
      expect(pending.find((p) => p.requestId === r.requestId)).toMatchObject({ requestedBy: 'lee', approvals: [] });
      expect(pending.find((p) => p.requestId === r.requestId)!.gates.map((g) => g.gate)).toEqual(['order', 'schema', 'policy', 'taxonomy']);
      expect(((await call(promotionPending, { environment: 'prod' }, sre)).requests as { requestId: string }[]).map((p) => p.requestId)).not.toContain(r.requestId);
      expect((await failure(call(promotionPending, { environment: 'qa' }, sre))).message).toContain('staging');

      const approved = await call(promotionApprove, { requestId: r.requestId, comment: 'metrics look fine' }, sre);
      expect(approved).toMatchObject({ status: 'promoted', approvals: 1, approvalsRequired: 1 });
      expect(((await call(promotionPending, {}, sre)).requests as { requestId: string }[]).map((p) => p.requestId)).not.toContain(r.requestId);
      expect(await alias('acme/churn', 'staging')).toBe('1.0.0');
      const again = await failure(call(promotionApprove, { requestId: r.requestId }, as('olga', ['promotion:approve'])));
      expect(again.code).toBe('CONFLICT');
      expect(again.message).toContain('is promoted');
    });

    it('needs two distinct approvers for prod, and each approves once', async () => {
      const r = await call(promotionRequest, { name: 'acme/churn', version: '1.0.0', environment: 'prod', reason: 'release 1.0' }, dev);
      const first = await call(promotionApprove, { requestId: r.requestId }, lead);
      expect(first).toMatchObject({ status: 'pending_approval', approvals: 1, approvalsRequired: 2 });
      const twice = await failure(call(promotionApprove, { requestId: r.requestId }, lead));
      expect(twice.message).toContain('already approved');
      const second = await call(promotionApprove, { requestId: r.requestId }, sre);
      expect(second.status).toBe('promoted');
      expect(await alias('acme/churn', 'prod')).toBe('1.0.0');
      const status = await call(promotionStatus, { requestId: r.requestId });
      expect((status.request as PromotionRequest).approvals.map((a) => a.by)).toEqual(['lee', 'sam']);
    });

    it('rolls back to the previously promoted version, and history shows every move', async () => {
      await toDev('acme/churn', '1.1.0');
      await toStaging('acme/churn', '1.1.0');
      expect(await alias('acme/churn', 'staging')).toBe('1.1.0');
      const rolled = await call(promotionRollback, { name: 'acme/churn', environment: 'staging' }, sre);
      expect(rolled).toEqual({ version: '1.0.0', previousVersion: '1.1.0' });
      expect(await alias('acme/churn', 'staging')).toBe('1.0.0');
      const nothing = await failure(call(promotionRollback, { name: 'acme/churn', environment: 'staging' }, sre));
      expect(nothing.code).toBe('CONFLICT');
      expect(nothing.message).toContain('the only version promoted to staging; there is no earlier version to roll back to');
      const history = await call(promotionHistory, { name: 'acme/churn', environment: 'staging' });
      expect((history.events as PromotionEvent[]).map((e) => `${e.action} ${e.version}`)).toEqual(['rollback 1.0.0', 'promote 1.1.0', 'promote 1.0.0']);
    });

    it('refuses to promote the version an environment already has, before any approval', async () => {
      const again = await failure(call(promotionRequest, { name: 'acme/churn', version: '1.0.0', environment: 'prod', reason: 'once more' }, dev));
      expect(again.code).toBe('CONFLICT');
      expect(again.message).toBe('acme/churn@1.0.0 is already the version in prod; there is nothing to promote (promotion_history shows its moves)');
    });

    it('refuses the second of two requests for the same version once the first promoted it', async () => {
      await call(registryPublish, { name: 'acme/twice', version: '1.0.0', content: 'twice' }, dev);
      await toDev('acme/twice', '1.0.0');
      const first = await call(promotionRequest, { name: 'acme/twice', version: '1.0.0', environment: 'staging', reason: 'one' }, dev);
      const second = await call(promotionRequest, { name: 'acme/twice', version: '1.0.0', environment: 'staging', reason: 'two' }, dev);
      await call(promotionApprove, { requestId: first.requestId }, lead);
      const late = await failure(call(promotionApprove, { requestId: second.requestId }, lead));
      expect(late.message).toContain('is already the version in staging');
      expect((await call(promotionStatus, { requestId: second.requestId })).request).toMatchObject({ approvals: [] });
    });

    it('rejects with a comment; a rejected request cannot be approved', async () => {
      const r = await call(promotionRequest, { name: 'acme/churn', version: '1.1.0', environment: 'staging', reason: 'retry' }, dev);
      const rejected = await call(promotionReject, { requestId: r.requestId, comment: 'wait for the fix' }, sre);
      expect(rejected.status).toBe('rejected');
      const late = await failure(call(promotionApprove, { requestId: r.requestId }, lead));
      expect(late.message).toContain('is rejected');
    });

    it('blocks a request with a deny policy on target "promotion" and says why', async () => {
      await call(governanceSetPolicy, {
        id: 'prod-needs-release-label',
        target: 'promotion',
        expression: 'environment == "prod" && !("release" in artifact.labels)',
        effect: 'deny',
        message: 'prod takes only versions labelled "release"',
      });
      await toDev('acme/churn', '1.2.0');
      await toStaging('acme/churn', '1.2.0');
      const r = await call(promotionRequest, { name: 'acme/churn', version: '1.2.0', environment: 'prod', reason: 'release 1.2' }, dev);
      expect(r.status).toBe('rejected');
      const policy = (r.gates as GateResult[]).find((g) => g.gate === 'policy')!;
      expect(policy.passed).toBe(false);
      expect(policy.messages[0]).toBe('denied by prod-needs-release-label: prod takes only versions labelled "release"');
    });

    it('fails the schema gate when content no longer matches the schema bound to its media type', async () => {
      await call(registryPublish, { name: 'acme/card', version: '1.0.0', mediaType: 'application/vnd.acme.card+json', content: '{"accuracy": 5}' }, dev);
      await call(validationRegisterSchema, {
        id: 'card/v1',
        mediaType: 'application/vnd.acme.card+json',
        schema: { type: 'object', properties: { accuracy: { type: 'number', maximum: 1 } } },
      });
      const r = await call(promotionRequest, { name: 'acme/card', version: '1.0.0', environment: 'dev', reason: 'x' }, dev);
      expect(r.status).toBe('rejected');
      const schema = (r.gates as GateResult[]).find((g) => g.gate === 'schema')!;
      expect(schema.messages[0]).toContain('/accuracy');
    });

    it('refuses to approve a request whose artifact was yanked since', async () => {
      await call(registryPublish, { name: 'acme/yanky', version: '1.0.0', content: 'a' }, dev);
      await toDev('acme/yanky', '1.0.0');
      const r = await call(promotionRequest, { name: 'acme/yanky', version: '1.0.0', environment: 'staging', reason: 'x' }, dev);
      await call(registryYank, { name: 'acme/yanky', version: '1.0.0', reason: 'CVE' }, dev);
      const error = await failure(call(promotionApprove, { requestId: r.requestId }, sre));
      expect(error.code).toBe('CONFLICT');
      expect(error.message).toContain('was yanked (CVE)');
      const fresh = await failure(call(promotionRequest, { name: 'acme/yanky', version: '1.0.0', environment: 'staging', reason: 'x' }, dev));
      expect(fresh.message).toContain('is yanked');
    });

    it('lets two racing approvers produce exactly one promotion', async () => {
      await call(registryPublish, { name: 'acme/race', version: '1.0.0', content: 'r' }, dev);
      await toDev('acme/race', '1.0.0');
      const r = await call(promotionRequest, { name: 'acme/race', version: '1.0.0', environment: 'staging', reason: 'x' }, dev);
      const results = await Promise.allSettled([call(promotionApprove, { requestId: r.requestId }, lead), call(promotionApprove, { requestId: r.requestId }, sre)]);
      const ok = results.filter((x) => x.status === 'fulfilled');
      const refused = results.filter((x) => x.status === 'rejected').map((x) => (x as PromiseRejectedResult).reason as EngineError);
      expect(ok).toHaveLength(1);
      expect(refused.map((e) => e.code)).toEqual(['CONFLICT']);
      const history = await call(promotionHistory, { name: 'acme/race', environment: 'staging' });
      expect(history.events).toHaveLength(1);
    });

    it('expires a pending request after the configured TTL', async () => {
      const r = await call(promotionRequest, { name: 'acme/churn', version: '1.1.0', environment: 'staging', reason: 'later' }, dev);
      await (await t.app.services()).sql.query(`update promotion_requests set expires_at = now() - interval '1 minute' where id = $1`, [r.requestId]);
      expect((await call(promotionStatus, { requestId: r.requestId })).status).toBe('expired');
      const late = await failure(call(promotionApprove, { requestId: r.requestId }, sre));
      expect(late.message).toMatch(/is expired at .*request the promotion again/);
    });

    it('names the configured environments when given an unknown one', async () => {
      const error = await failure(call(promotionRequest, { name: 'acme/churn', version: '1.0.0', environment: 'qa', reason: 'x' }, dev));
      expect(error.message).toBe('environment: unknown "qa"; configured environments, in order: dev, staging, prod');
    });

    it('leaves an audit trail of who did what, and the chain verifies', async () => {
      const approvals = await call(governanceAuditQuery, { operation: 'promotion_approve', limit: 100 });
      const who = new Set((approvals.records as { outcome: string; principal: string }[]).filter((r) => r.outcome === 'ok').map((r) => r.principal));
      expect(who).toEqual(new Set(['lee', 'sam']));
      const rollbacks = await call(governanceAuditQuery, { operation: 'promotion_rollback' });
      expect(rollbacks.records.at(-1)).toMatchObject({ principal: 'sam', outcome: 'ok', arguments: { name: 'acme/churn', environment: 'staging' } });
      expect((await call(governanceAuditVerify, {})).ok).toBe(true);
    });
  });
}
