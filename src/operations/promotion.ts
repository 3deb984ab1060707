/*
 * Promotion operations: request, approve, reject, status, history and rollback of
 * environment promotions.
 */
import { z } from 'zod';
import { artifactName, artifactVersion } from './fields.js';
import { defineOperation } from './operation.js';

const requestId = z.uuid({ error: 'expected a request id as returned by promotion_request' }).describe('Request id.');
const environment = z.string().min(1).max(32).describe('Environment, e.g. "staging".');
const status = z.enum(['pending_approval', 'promoted', 'rejected', 'expired']).describe('Request state.');
const gates = z
  .array(z.object({ gate: z.string().describe('order, schema, policy or taxonomy.'), passed: z.boolean().describe('Passed.'), messages: z.array(z.string()).describe('Why.') }))
  .describe('Gate results.');

export const promotionRequest = defineOperation({
  name: 'promotion_request',
  engine: 'promotion',
  title: 'Request promotion',
  description: 'Request promotion of a version to an environment; runs the gates, and promotes at once if no approval is needed.',
  input: z.object({ name: artifactName(), version: artifactVersion(), environment, reason: z.string().min(1).max(1000).describe('Why.') }),
  output: z.object({ requestId: z.string().describe('Request id.'), status, gates }),
  annotations: { readOnlyHint: false, destructiveHint: false, idempotentHint: false },
  scope: 'promotion:request',
  async handler(input, { engines, principal }) {
    const request = await engines.promotion.request(input, principal);
    return { requestId: request.requestId, status: request.status, gates: request.gates };
  },
});

const decided = z.object({
  requestId: z.string().describe('Request id.'),
  status,
  approvals: z.number().int().describe('Approvals so far.'),
  approvalsRequired: z.number().int().describe('Approvals needed.'),
});

export const promotionApprove = defineOperation({
  name: 'promotion_approve',
  engine: 'promotion',
  title: 'Approve promotion',
  description: 'Approve a pending request (not your own); the last required approval moves the environment alias.',
  input: z.object({ requestId, comment: z.string().max(1000).optional().describe('Comment.') }),
  output: decided,
  annotations: { readOnlyHint: false, destructiveHint: true, idempotentHint: false },
  scope: 'promotion:approve',
  async handler(input, { engines, principal }) {
    const request = await engines.promotion.approve(input.requestId, principal.id, input.comment);
    return {
      requestId: request.requestId,
      status: request.status,
      approvals: request.approvals.filter((a) => a.decision === 'approve').length,
      approvalsRequired: request.approvalsRequired,
    };
  },
});

export const promotionReject = defineOperation({
  name: 'promotion_reject',
  engine: 'promotion',
  title: 'Reject promotion',
  description: 'Reject a pending request (not your own), with a comment saying why.',
  input: z.object({ requestId, comment: z.string().min(1).max(1000).describe('Why.') }),
  output: z.object({ requestId: z.string().describe('Request id.'), status }),
  annotations: { readOnlyHint: false, destructiveHint: false, idempotentHint: false },
  scope: 'promotion:approve',
  async handler(input, { engines, principal }) {
    const request = await engines.promotion.reject(input.requestId, principal.id, input.comment);
    return { requestId: request.requestId, status: request.status };
  },
});

export const promotionStatus = defineOperation({
  name: 'promotion_status',
  engine: 'promotion',
  title: 'Promotion status',
  description: 'State of one promotion request: gates, approvals, expiry.',
  input: z.object({ requestId }),
  output: z.object({
    requestId: z.string().describe('Request id.'),
    name: z.string().describe('Artifact.'),
    version: z.string().describe('Version.'),
    environment: z.string().describe('Environment.'),
    status,
    requestedBy: z.string().describe('Requester.'),
    approvalsRequired: z.number().int().describe('Approvals needed.'),
    approvals: z.array(z.object({ by: z.string().describe('Who.'), decision: z.string().describe('approve or reject.') })).describe('Decisions.'),
    gates,
    expiresAt: z.string().describe('Expiry.'),
  }),
  annotations: { readOnlyHint: true, idempotentHint: true },
  scope: 'promotion:read',
  async handler(input, { engines }) {
    const r = await engines.promotion.status(input.requestId);
    return {
      requestId: r.requestId,
      name: r.name,
      version: r.version,
      environment: r.environment,
      status: r.status,
      requestedBy: r.requestedBy,
      approvalsRequired: r.approvalsRequired,
      approvals: r.approvals.map((a) => ({ by: a.by, decision: a.decision })),
      gates: r.gates,
      expiresAt: r.expiresAt,
    };
  },
});

const event = z.object({
  environment: z.string().describe('Environment.'),
  action: z.enum(['promote', 'rollback']).describe('What moved the alias.'),
  version: z.string().describe('New version.'),
  previousVersion: z.string().nullable().describe('Old version.'),
  actor: z.string().describe('Who.'),
  at: z.string().describe('When.'),
});

export const promotionHistory = defineOperation({
  name: 'promotion_history',
  engine: 'promotion',
  title: 'Promotion history',
  description: "An artifact's environment alias moves (promotions and rollbacks), newest first.",
  input: z.object({ name: artifactName(), environment: environment.optional(), limit: z.number().int().min(1).max(200).default(50).describe('Most events.') }),
  output: z.object({ events: z.array(event).describe('Newest first.') }),
  annotations: { readOnlyHint: true, idempotentHint: true },
  scope: 'promotion:read',
  async handler(input, { engines }) {
    const events = await engines.promotion.history(input.name, input.environment, input.limit);
    return { events: events.map(({ environment: env, action, version, previousVersion, actor, at }) => ({ environment: env, action, version, previousVersion, actor, at })) };
  },
});

export const promotionRollback = defineOperation({
  name: 'promotion_rollback',
  engine: 'promotion',
  title: 'Roll back promotion',
  description: 'Move an environment alias back to the version promoted before the current one.',
  input: z.object({ name: artifactName(), environment }),
  output: event,
  annotations: { readOnlyHint: false, destructiveHint: true, idempotentHint: false },
  scope: 'promotion:approve',
  async handler(input, { engines, principal }) {
    const moved = await engines.promotion.rollback(input.name, input.environment, principal.id);
    return { environment: moved.environment, action: moved.action, version: moved.version, previousVersion: moved.previousVersion, actor: moved.actor, at: moved.at };
  },
});

export const PROMOTION_OPERATIONS = [promotionRequest, promotionApprove, promotionReject, promotionStatus, promotionHistory, promotionRollback];
