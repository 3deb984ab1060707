import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { AuditRecord } from '../../src/engines/governance/audit-log.js';
import type { Finding, Policy } from '../../src/engines/governance/governance-engine.js';
import type { AnyOperation } from '../../src/surface/operation.js';
import {
  governanceAuditQuery,
  governanceAuditVerify,
  governanceCheck,
  governancePolicies,
  governanceSetPolicy,
} from '../../tools/governance.js';
import { registryGet, registryPublish } from '../../tools/registry.js';
import { failure } from '../helpers/failures.js';
import { ADMIN, appBackends, startTestApp, title, type TestApp } from '../helpers/backends.js';

const alice = { principal: { id: 'alice', scopes: ['registry:write', 'registry:read', 'governance:read'] } };

for (const backend of appBackends()) {
  describe.skipIf(backend.skip)(`governance operations on ${title(backend)}`, () => {
    let t: TestApp;
    const call = <O extends AnyOperation>(op: O, args: unknown, ctx: { principal: { id: string; scopes: string[] } } = ADMIN) => t.app.invoke(op, args, ctx);

    beforeAll(async () => {
      t = await startTestApp(backend);
    });
    afterAll(async () => t?.close());

    /** Runs SQL on the app's own database (the PGlite instance, or the test's PostgreSQL schema). */
    const verifications = async (result: 'ok' | 'broken') =>
      (await t.app.metrics.auditChainVerifications.get()).values.find((v) => v.labels.result === result)?.value;
    const rawSql = async (text: string, values: unknown[] = []) => (await t.app.services()).sql.query(text, values);

    it('refuses an expression that does not parse, with line and column', async () => {
      const error = await failure(
        call(governanceSetPolicy, { id: 'broken', target: 'registry_publish', expression: 'request.name ==\n  "x" &&', effect: 'deny', message: 'm' }),
      );
      expect(error.code).toBe('INVALID_INPUT');
      expect(error.message).toMatch(/^expression: line 2, column \d+: syntax error/);
    });

    it('refuses type errors and unknown names before storing anything', async () => {
      const undeclared = await failure(call(governanceSetPolicy, { id: 'bad1', target: 'registry_get', expression: 'user.id == "a"', effect: 'deny', message: 'm' }));
      expect(undeclared.message).toContain('line 1, column 1: undeclared reference to "user"');
      const mismatch = await failure(call(governanceSetPolicy, { id: 'bad2', target: 'registry_get', expression: 'environment + 1 == 2', effect: 'deny', message: 'm' }));
      expect(mismatch.message).toContain('no "+" for (string, int)');
      const notBool = await failure(call(governanceSetPolicy, { id: 'bad3', target: 'registry_get', expression: 'environment', effect: 'deny', message: 'm' }));
      expect(notBool.message).toContain('must evaluate to a bool');
      expect((await call(governancePolicies, {})).policies).toEqual([]);
    });

    it('gates an operation with a deny policy and says which policy and why', async () => {
      const set = await call(governanceSetPolicy, {
        id: 'no-scratch',
        target: 'registry_publish',
        expression: 'request.name.startsWith("scratch/")',
        effect: 'deny',
        message: 'scratch artifacts are not published',
      });
      expect(set.revision).toBeGreaterThan(0);
      const denied = await failure(call(registryPublish, { name: 'scratch/tmp', version: '1.0.0', content: 'x' }, alice));
      expect(denied.code).toBe('FORBIDDEN');
      expect(denied.message).toContain('no-scratch: scratch artifacts are not published');
      await failure(call(registryGet, { name: 'scratch/tmp', version: '1.0.0' }));
      const allowed = await call(registryPublish, { name: 'acme/model', version: '1.0.0', content: 'weights' }, alice);
      expect(allowed.created).toBe(true);
    });

    it('lists policies and replaces one by id, bumping the revision', async () => {
      const before = (await call(governancePolicies, { target: 'registry_publish' })).policies as Policy[];
      expect(before.map((p) => p.id)).toEqual(['no-scratch']);
      const again = await call(governanceSetPolicy, {
        id: 'no-scratch',
        target: 'registry_publish',
        expression: 'request.name.startsWith("tmp/")',
        effect: 'warn',
        message: 'tmp artifacts are discouraged',
      });
      expect(again.revision).toBeGreaterThan(before[0]!.revision);
      const published = await call(registryPublish, { name: 'scratch/tmp', version: '1.0.0', content: 'x' }, alice);
      expect(published.created).toBe(true);
    });

    it('checks an input and records the decision with violations and warnings', async () => {
      await call(governanceSetPolicy, {
        id: 'prod-needs-approver',
        target: 'promotion',
        expression: 'environment == "prod" && !("promotion:approve" in principal.scopes)',
        effect: 'deny',
        message: 'only approvers promote to prod',
      });
      await call(governanceSetPolicy, {
        id: 'reason-short',
        target: 'promotion',
        expression: 'has(request.reason) && request.reason.size() < 10',
        effect: 'warn',
        message: 'give a longer reason',
      });
      const result = await call(governanceCheck, {
        target: 'promotion',
        input: { principal: { id: 'bob', scopes: [] }, environment: 'prod', request: { reason: 'pls' } },
      });
      expect(result.allow).toBe(false);
      expect(result.violations).toEqual([{ policy: 'prod-needs-approver', message: 'only approvers promote to prod' }]);
      expect(result.warnings).toEqual([{ policy: 'reason-short', message: 'give a longer reason' }]);
      const { rows } = await rawSql('select target, principal, allow, input_digest, policy_revision from governance_decisions where id = $1', [result.decisionId]);
      expect(rows[0]).toMatchObject({ target: 'promotion', principal: 'bob', allow: false });
      expect(String((rows[0] as { input_digest: string }).input_digest)).toMatch(/^sha256:[0-9a-f]{64}$/);

      const ok = await call(governanceCheck, { target: 'promotion', input: { environment: 'staging' } });
      expect(ok).toMatchObject({ allow: true, violations: [], warnings: [] });
    });

    it('refuses a target that is no operation, naming the closest', async () => {
      const typo = await failure(call(governanceSetPolicy, { id: 'typo', target: 'registry_publsh', expression: 'true', effect: 'deny', message: 'm' }));
      expect(typo.message).toBe('target: "registry_publsh" is not an operation name or "promotion"; did you mean "registry_publish"?');
      expect((await failure(call(governanceCheck, { target: 'promotoin', input: {} }))).message).toContain('did you mean "promotion"?');
      expect((await call(governancePolicies, {})).policies.map((p) => (p as Policy).id)).not.toContain('typo');
    });

    it('treats a deny policy that cannot be evaluated as a violation', async () => {
      await call(governanceSetPolicy, { id: 'needs-ticket', target: 'taxonomy_classify', expression: 'request.ticket == ""', effect: 'deny', message: 'a ticket is required' });
      const result = await call(governanceCheck, { target: 'taxonomy_classify', input: { request: {} } });
      expect(result.allow).toBe(false);
      expect((result.violations as Finding[])[0]!.message).toMatch(/could not be evaluated: .*ticket/);
    });

    it('audits every call: who, what, outcome, and arguments without secrets', async () => {
      await failure(call(registryPublish, { name: 'acme/x', version: '1.0.0', content: 'x' }, { principal: { id: 'reader', scopes: ['registry:read'] } }));
      await call(governanceCheck, { target: 'taxonomy_classify', input: { request: { ticket: 'T-1', apiKey: 'sk-secret-value', nested: { password: 'hunter2' } } } });
      const page = await call(governanceAuditQuery, { limit: 5 });
      const [latest, previous] = page.records as (AuditRecord & { arguments: unknown })[];
      expect(latest).toMatchObject({ principal: 'test-admin', operation: 'governance_check', outcome: 'ok', errorCode: null });
      const recorded = JSON.stringify(latest!.arguments);
      expect(recorded).toContain('T-1');
      expect(recorded).not.toContain('sk-secret-value');
      expect(recorded).not.toContain('hunter2');
      expect(recorded).toContain('[redacted]');
      expect(previous).toMatchObject({ principal: 'reader', operation: 'registry_publish', outcome: 'denied', errorCode: 'FORBIDDEN' });

      const byAlice = await call(governanceAuditQuery, { principal: 'alice', operation: 'registry_publish' });
      expect((byAlice.records as AuditRecord[]).map((r) => r.outcome)).toEqual(['ok', 'ok', 'denied']);
    });

    it('pages through the audit log with a cursor, newest first, without gaps or repeats', async () => {
      const seen: number[] = [];
      let cursor: string | undefined;
      do {
        const page = await call(governanceAuditQuery, { limit: 4, ...(cursor ? { cursor } : {}) });
        seen.push(...(page.records as AuditRecord[]).map((r) => r.seq));
        cursor = page.nextCursor;
      } while (cursor);
      // Each page's own call is audited after it was read, above the cursor: the pages
      // together are exactly the records before the first page, newest first.
      expect(seen.length).toBeGreaterThan(8);
      expect(seen).toEqual(seen.map((_, i) => seen[0]! - i));
      expect(seen.at(-1)).toBe(1);
    });

    it('keeps one unbroken chain under concurrent calls, with arguments recorded exactly whatever their characters', async () => {
      const awkward = ['quote " and \\ backslash', '{braces, commas}', 'NULL', '', 'tab\tnew\nline', 'ünïcødé ✓ 😀'];
      await Promise.all(Array.from({ length: 20 }, (_, i) => call(governanceCheck, { target: (['rag_query', 'rag_delete', 'registry_get'] as const)[i % 3], input: { request: { note: awkward[i % awkward.length] } } })));
      const recent = (await call(governanceAuditQuery, { operation: 'governance_check', limit: 20 })).records as (AuditRecord & { arguments: unknown })[];
      const notes = new Set(recent.map((r) => (r.arguments as unknown as { input: { request: { note: string } } }).input.request.note));
      expect([...notes].sort()).toEqual([...awkward].sort());
      const okBefore = await verifications('ok');
      const verified = await call(governanceAuditVerify, {});
      // audit_chain_verifications_total counts the result; the broken series is there at 0
      expect(await verifications('ok')).toBe(okBefore! + 1);
      expect(await verifications('broken')).toBe(0);
      expect(verified.ok).toBe(true);
      expect(verified.firstBroken).toBeUndefined();
      expect(verified.records).toBeGreaterThan(20);
    });

    it('refuses updates through SQL, and verify names a row changed behind the trigger', async () => {
      await expect(rawSql("update governance_audit set principal = 'mallory' where seq = 3")).rejects.toThrow(/append-only/);
      const target = 3;
      await (await t.app.services()).sql.transaction(async (tx) => {
        await tx.exec('alter table governance_audit disable trigger governance_audit_no_change');
        await tx.query("update governance_audit set principal = 'mallory' where seq = $1", [target]);
        await tx.exec('alter table governance_audit enable trigger governance_audit_no_change');
      });
      const verified = await call(governanceAuditVerify, {});
      expect(await verifications('broken')).toBe(1);
      expect(verified.ok).toBe(false);
      expect(verified.firstBroken).toMatchObject({ seq: target });
      expect((verified.firstBroken as { reason: string }).reason).toContain('changed');
      expect(verified.records).toBe(target - 1);
    });
  });
}

describe('audit levels', () => {
  const [embedded] = appBackends();
  for (const level of ['none', 'basic'] as const) {
    it(`records ${level === 'none' ? 'no' : 'only top-level'} arguments at auditLevel ${level}`, async () => {
      const t = await startTestApp(embedded!, { env: { AUDIT_LEVEL: level } });
      try {
        await t.app.invoke(governanceCheck, { target: 'registry_get', input: { request: { deep: { value: 1 } } } }, ADMIN);
        const { records } = await t.app.invoke(governanceAuditQuery, {}, ADMIN);
        expect((records as { arguments: unknown }[])[0]!.arguments).toEqual(level === 'none' ? null : { target: 'registry_get', input: '[object]' });
      } finally {
        await t.close();
      }
    });
  }
});
