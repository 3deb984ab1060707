/*
 * Governance operations: CEL policies, policy checks, and the hash-chained audit log.
 */
import { z } from 'zod';
import { defineOperation } from './operation.js';

const finding = z.object({ policy: z.string().describe('Policy id.'), message: z.string().describe('Why.') });

export const governanceSetPolicy = defineOperation({
  name: 'governance_set_policy',
  engine: 'governance',
  title: 'Set policy',
  description: 'Create or replace a CEL policy; the expression is true when the policy fires. Compile errors give line and column.',
  input: z.object({
    id: z.string().regex(/^[a-z0-9][a-z0-9._-]{0,63}$/, { error: 'expected lower-case letters, digits, ".", "_" or "-"' }).describe('Policy id.'),
    target: z.string().min(1).max(64).describe('Operation name, or "promotion".'),
    expression: z.string().min(1).max(4096).describe('CEL over principal, action, artifact, environment, request.'),
    effect: z.enum(['deny', 'warn']).describe('deny blocks; warn reports.'),
    message: z.string().min(1).max(500).describe('Shown when it fires.'),
    description: z.string().max(500).default('').describe('What it is for.'),
  }),
  output: z.object({ id: z.string().describe('Policy id.'), revision: z.number().int().describe('Policy-set revision.') }),
  annotations: { readOnlyHint: false, destructiveHint: false, idempotentHint: true },
  scope: 'governance:admin',
  async handler(input, { engines, principal }) {
    const policy = await engines.governance.setPolicy(input, principal.id);
    return { id: policy.id, revision: policy.revision };
  },
});

export const governancePolicies = defineOperation({
  name: 'governance_policies',
  engine: 'governance',
  title: 'List policies',
  description: 'List policies, optionally for one target.',
  input: z.object({ target: z.string().max(64).optional().describe('Only this target.') }),
  output: z.object({
    policies: z
      .array(
        z.object({
          id: z.string().describe('Id.'),
          target: z.string().describe('Target.'),
          effect: z.enum(['deny', 'warn']).describe('Effect.'),
          expression: z.string().describe('CEL.'),
          message: z.string().describe('Message.'),
          revision: z.number().int().describe('Revision.'),
        }),
      )
      .describe('Policies.'),
  }),
  annotations: { readOnlyHint: true, idempotentHint: true },
  scope: 'governance:read',
  async handler(input, { engines }) {
    const policies = await engines.governance.policies(input.target);
    return { policies: policies.map(({ id, target, effect, expression, message, revision }) => ({ id, target, effect, expression, message, revision })) };
  },
});

export const governanceCheck = defineOperation({
  name: 'governance_check',
  engine: 'governance',
  title: 'Check policies',
  description: "Evaluate a target's policies against an input and record the decision. principal defaults to the caller.",
  input: z.object({
    target: z.string().min(1).max(64).describe('Operation name, or "promotion".'),
    input: z
      .object({
        principal: z.object({ id: z.string().describe('Id.'), scopes: z.array(z.string()).describe('Scopes.') }).optional().describe('Default: caller.'),
        artifact: z.record(z.string(), z.unknown()).default({}).describe('Artifact fields.'),
        environment: z.string().default('').describe('Environment.'),
        request: z.record(z.string(), z.unknown()).default({}).describe('Request fields.'),
      })
      .default({ artifact: {}, environment: '', request: {} })
      .describe('Policy variables.'),
  }),
  output: z.object({
    allow: z.boolean().describe('false if a deny policy fired.'),
    violations: z.array(finding).describe('Deny policies that fired.'),
    warnings: z.array(finding).describe('Warn policies that fired.'),
    decisionId: z.string().describe('Recorded decision id.'),
  }),
  annotations: { readOnlyHint: true, idempotentHint: false },
  scope: 'governance:read',
  async handler({ target, input }, { engines, principal }) {
    const decision = await engines.governance.check(target, {
      principal: input.principal ?? { id: principal.id, scopes: principal.scopes },
      action: target,
      artifact: input.artifact,
      environment: input.environment,
      request: input.request,
    });
    return { allow: decision.allow, violations: decision.violations, warnings: decision.warnings, decisionId: decision.decisionId };
  },
});

export const governanceAuditQuery = defineOperation({
  name: 'governance_audit_query',
  engine: 'governance',
  title: 'Query audit log',
  description: 'Audit records of tool calls, newest first, paginated.',
  input: z.object({
    principal: z.string().max(200).optional().describe('Only this principal.'),
    operation: z.string().max(64).optional().describe('Only this operation.'),
    since: z.iso.datetime({ offset: true }).optional().describe('From (ISO 8601).'),
    until: z.iso.datetime({ offset: true }).optional().describe('Before (ISO 8601).'),
    cursor: z.string().max(64).optional().describe('nextCursor of the previous page.'),
    limit: z.number().int().min(1).max(200).default(50).describe('Page size.'),
  }),
  output: z.object({
    records: z
      .array(
        z.object({
          seq: z.number().int().describe('Chain position.'),
          at: z.string().describe('Time.'),
          principal: z.string().describe('Who.'),
          operation: z.string().describe('Tool.'),
          outcome: z.string().describe('ok, error or denied.'),
          errorCode: z.string().nullable().describe('Error code.'),
          durationMs: z.number().int().describe('Duration.'),
          traceId: z.string().nullable().describe('Trace id.'),
          arguments: z.unknown().describe('Arguments per auditLevel.'),
        }),
      )
      .describe('Records.'),
    nextCursor: z.string().optional().describe('Next page.'),
  }),
  annotations: { readOnlyHint: true, idempotentHint: true },
  scope: 'governance:read',
  async handler(input, { engines }) {
    const page = await engines.governance.audit.query(input);
    return {
      records: page.records.map(({ prevHash: _p, hash: _h, arguments: args, ...rest }) => ({ ...rest, arguments: args === null ? null : JSON.parse(args) })),
      ...(page.nextCursor ? { nextCursor: page.nextCursor } : {}),
    };
  },
});

export const governanceAuditVerify = defineOperation({
  name: 'governance_audit_verify',
  engine: 'governance',
  title: 'Verify audit chain',
  description: 'Recompute the audit hash chain; reports the first record that was changed, removed or reordered.',
  input: z.object({}),
  output: z.object({
    ok: z.boolean().describe('true if intact.'),
    records: z.number().int().describe('Records verified.'),
    firstBroken: z.object({ seq: z.number().int().describe('Record.'), reason: z.string().describe('What is wrong.') }).optional().describe('First bad record.'),
  }),
  annotations: { readOnlyHint: true, idempotentHint: true },
  scope: 'governance:read',
  async handler(_input, { engines }) {
    return engines.governance.audit.verify();
  },
});

export const GOVERNANCE_OPERATIONS = [governanceSetPolicy, governancePolicies, governanceCheck, governanceAuditQuery, governanceAuditVerify];
