/*
 * Governance operations: CEL policies, policy checks, and the hash-chained audit log.
 */
import { z } from 'zod';
import { invalidInput } from '../src/errors.js';
import { formatIssues } from '../src/zod-issues.js';
import { leanList as list, boundedText as text } from '../src/surface/fields.js';
import { defineOperation } from '../src/surface/operation.js';
import { assertPolicyTarget } from './policy-targets.js';

const when = (description: string) =>
  z
    .string()
    .refine((v) => v.length <= 40 && !Number.isNaN(Date.parse(v)), { error: 'expected an ISO 8601 time like "2026-01-31T12:00:00Z"' })
    .describe(description);

export const governanceSetPolicy = defineOperation({
  name: 'governance_set_policy',
  engine: 'governance',
  title: 'Set policy',
  description: 'Create or replace a CEL policy; expression true means it fires. Errors give line and column.',
  input: z.object({
    id: z
      .string()
      .refine((v) => /^[a-z0-9][a-z0-9._-]{0,63}$/.test(v), { error: 'expected lower-case letters, digits, ".", "_" or "-", e.g. "prod-needs-approval"' })
      .describe('Policy id.'),
    target: text(64).describe('Operation name, or "promotion".'),
    expression: text(4096).describe('CEL over principal, action, artifact, environment, request.'),
    effect: z.enum(['deny', 'warn']).describe('Effect.'),
    message: text(500).describe('Shown when it fires.'),
    description: text(500, true).default('').describe('Purpose.'),
  }),
  output: z.object({ id: z.string().describe('Policy id.'), revision: z.number().describe('Policy-set revision.') }),
  annotations: { readOnlyHint: false, destructiveHint: false, idempotentHint: true },
  scope: 'governance:admin',
  async handler(input, { engines, principal }) {
    await assertPolicyTarget(input.target);
    const policy = await engines.governance.setPolicy(input, principal.id);
    return { id: policy.id, revision: policy.revision };
  },
});

export const governancePolicies = defineOperation({
  name: 'governance_policies',
  engine: 'governance',
  title: 'List policies',
  description: 'List policies, optionally for one target.',
  input: z.object({ target: text(64, true).optional().describe('Only this target.') }),
  output: z.object({ policies: list('Each {id, target, effect, expression, message, revision}.') }),
  annotations: { readOnlyHint: true },
  scope: 'governance:read',
  async handler(input, { engines }) {
    const policies = await engines.governance.policies(input.target);
    return { policies: policies.map(({ id, target, effect, expression, message, revision }) => ({ id, target, effect, expression, message, revision })) };
  },
});

// Validated in the handler rather than spelled out in the tool's input schema, which every
// agent pays for in tokens; the messages are the same.
const CHECK_INPUT = z.strictObject({
  principal: z.strictObject({ id: z.string().max(200), scopes: z.array(z.string().max(100)).max(100) }).optional(),
  artifact: z.record(z.string(), z.unknown()).default({}),
  environment: text(64, true).default(''),
  request: z.record(z.string(), z.unknown()).default({}),
});

export const governanceCheck = defineOperation({
  name: 'governance_check',
  engine: 'governance',
  title: 'Check policies',
  description: "Evaluate a target's policies on an input; the decision is recorded (decisionId), nothing else changes.",
  input: z.object({
    target: text(64).describe('Operation name, or "promotion".'),
    input: z.record(z.string(), z.unknown()).default({}).describe('{principal?, artifact?, environment?, request?}; principal defaults to you.'),
  }),
  output: z.object({
    allow: z.boolean().describe('No deny fired.'),
    violations: list('Each {policy, message}.'),
    warnings: list('Each {policy, message}.'),
    decisionId: z.string().describe('Decision id.'),
  }),
  annotations: { readOnlyHint: false, destructiveHint: false, idempotentHint: false },
  scope: 'governance:read',
  async handler({ target, input: raw }, { engines, principal }) {
    await assertPolicyTarget(target);
    const parsed = CHECK_INPUT.safeParse(raw, { reportInput: true });
    if (!parsed.success) throw invalidInput(formatIssues(parsed.error.issues).map((m) => `input.${m}`).join('; '));
    const input = parsed.data;
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
  title: 'Audit log',
  description: 'Audit records of every call (tools, resource reads, prompts, completions), newest first.',
  input: z.object({
    principal: text(200, true).optional().describe('Principal.'),
    operation: text(64, true).optional().describe('Operation name, e.g. "registry_publish".'),
    since: when('From this ISO 8601 time, e.g. "2026-01-31T00:00:00Z".').optional(),
    until: when('Before this ISO 8601 time.').optional(),
    cursor: text(64, true).optional().describe('nextCursor.'),
    limit: z.number().int().min(1).max(200).default(50).describe('Page size.'),
  }),
  output: z.object({
    records: list('Each {seq, at, principal, principalName, operation, surface, resource, outcome, errorCode, durationMs, traceId, arguments}.'),
    nextCursor: z.string().optional().describe('Next page.'),
  }),
  annotations: { readOnlyHint: true },
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
  title: 'Verify audit',
  description: 'Recompute the audit hash chain and report the first altered record.',
  input: z.object({}),
  output: z.object({
    ok: z.boolean().describe('Intact.'),
    records: z.number().describe('Verified.'),
    firstBroken: z.unknown().meta({ type: 'object' }).optional().describe('{seq, reason}.'),
  }),
  annotations: { readOnlyHint: true },
  scope: 'governance:read',
  async handler(_input, { engines, metrics }) {
    const result = await engines.governance.audit.verify();
    metrics.auditChainVerifications.inc({ result: result.ok ? 'ok' : 'broken' });
    return result;
  },
});

export const GOVERNANCE_OPERATIONS = [governanceSetPolicy, governancePolicies, governanceCheck, governanceAuditQuery, governanceAuditVerify];
