/*
 * Promotion operations: request, approve, reject, status, pending, history and rollback of
 * environment promotions.
 */
import { z } from 'zod';
import { leanList as list, boundedText as text } from '../src/surface/fields.js';
import { defineOperation } from '../src/surface/operation.js';
import { PROMOTION_REVIEW_APP_URI } from '../src/surface/uris.js';

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
const requestId = z
  .string()
  .refine((v) => UUID.test(v), { error: 'expected a request id as returned by promotion_request' })
  .describe('Request id.');
// Names and versions are checked by the registry look-up (not found), so no pattern here.
const name = text(128).describe('Artifact name.');
const environment = text(32).describe('Environment.');
const status = z.enum(['pending_approval', 'promoted', 'rejected', 'expired']).describe('State.');
const gates = list('Each {gate, passed, messages}.');

export const promotionRequest = defineOperation({
  name: 'promotion_request',
  engine: 'promotion',
  title: 'Request promotion',
  description: 'Request promotion of a version to an environment; runs the gates; promotes at once if no approval is needed.',
  input: z.object({ name, version: text(128).describe('Version.'), environment, reason: text(1000).describe('Why.') }),
  output: z.object({ requestId: z.string().describe('Request id.'), status, gates }),
  annotations: { readOnlyHint: false, destructiveHint: false },
  scope: 'promotion:request',
  ui: PROMOTION_REVIEW_APP_URI,
  async handler(input, { engines, principal, metrics }) {
    const request = await engines.promotion.request(input, principal);
    if (request.status !== 'pending_approval') metrics.promotionRequestsTotal.inc({ outcome: request.status });
    return { requestId: request.requestId, status: request.status, gates: request.gates };
  },
});

const decided = z.object({
  status,
  approvals: z.number().describe('Approvals so far.'),
  approvalsRequired: z.number().describe('Needed.'),
});

export const promotionApprove = defineOperation({
  name: 'promotion_approve',
  engine: 'promotion',
  title: 'Approve promotion',
  description: 'Approve a pending request (not your own); the last approval needed moves the alias.',
  input: z.object({ requestId, comment: text(1000, true).optional().describe('Comment.') }),
  output: decided,
  annotations: { readOnlyHint: false, destructiveHint: true },
  scope: 'promotion:approve',
  async handler(input, { engines, principal, metrics }) {
    const request = await engines.promotion.approve(input.requestId, principal.id, input.comment);
    if (request.status === 'promoted') metrics.promotionRequestsTotal.inc({ outcome: 'promoted' });
    return {
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
  description: 'Reject a pending request (not your own), saying why.',
  input: z.object({ requestId, comment: text(1000).describe('Why.') }),
  output: z.object({ status }),
  annotations: { readOnlyHint: false, destructiveHint: false },
  scope: 'promotion:approve',
  async handler(input, { engines, principal, metrics }) {
    const request = await engines.promotion.reject(input.requestId, principal.id, input.comment);
    metrics.promotionRequestsTotal.inc({ outcome: request.status });
    return { status: request.status };
  },
});

export const promotionStatus = defineOperation({
  name: 'promotion_status',
  engine: 'promotion',
  title: 'Promotion status',
  description: 'State of a promotion request: gates, approvals, expiry.',
  input: z.object({ requestId }),
  output: z.object({
    status,
    request: z.unknown().meta({ type: 'object' }).describe('{name, version, environment, requestedBy, approvalsRequired, approvals: [{by, decision}], gates, expiresAt}.'),
  }),
  annotations: { readOnlyHint: true },
  scope: 'promotion:read',
  ui: PROMOTION_REVIEW_APP_URI,
  async handler(input, { engines }) {
    const r = await engines.promotion.status(input.requestId);
    return {
      status: r.status,
      request: {
        name: r.name,
        version: r.version,
        environment: r.environment,
        requestedBy: r.requestedBy,
        approvalsRequired: r.approvalsRequired,
        approvals: r.approvals.map((a) => ({ by: a.by, decision: a.decision })),
        gates: r.gates,
        expiresAt: r.expiresAt,
      },
    };
  },
});

export const promotionPending = defineOperation({
  name: 'promotion_pending',
  engine: 'promotion',
  title: 'Pending promotions',
  description: 'Requests awaiting approval, oldest first, with their gates and approvals.',
  input: z.object({ environment: environment.optional(), limit: z.number().int().min(1).max(200).default(50).describe('Max requests.') }),
  output: z.object({ requests: list('Each {requestId, name, version, environment, reason, requestedBy, approvalsRequired, approvals, gates, createdAt, expiresAt}.') }),
  annotations: { readOnlyHint: true },
  scope: 'promotion:read',
  async handler(input, { engines }) {
    const requests = await engines.promotion.pending(input.environment, input.limit);
    return {
      requests: requests.map((r) => ({
        requestId: r.requestId,
        name: r.name,
        version: r.version,
        environment: r.environment,
        reason: r.reason,
        requestedBy: r.requestedBy,
        approvalsRequired: r.approvalsRequired,
        approvals: r.approvals.map((a) => ({ by: a.by, decision: a.decision, comment: a.comment, at: a.at })),
        gates: r.gates,
        createdAt: r.createdAt,
        expiresAt: r.expiresAt,
      })),
    };
  },
});

const EVENT_FIELDS = '{environment, action, version, previousVersion, actor, at}';

export const promotionHistory = defineOperation({
  name: 'promotion_history',
  engine: 'promotion',
  title: 'Promotion history',
  description: "An artifact's alias moves (promotions, rollbacks), newest first.",
  input: z.object({ name, environment: environment.optional(), limit: z.number().int().min(1).max(200).default(50).describe('Max events.') }),
  output: z.object({ events: list(`Newest first; each ${EVENT_FIELDS}.`) }),
  annotations: { readOnlyHint: true },
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
  input: z.object({ name, environment }),
  output: z.object({ version: z.string().describe('Now current.'), previousVersion: z.string().nullable().describe('Replaced.') }),
  annotations: { readOnlyHint: false, destructiveHint: true },
  scope: 'promotion:approve',
  async handler(input, { engines, principal, metrics }) {
    const moved = await engines.promotion.rollback(input.name, input.environment, principal.id);
    metrics.promotionRequestsTotal.inc({ outcome: 'rolled_back' });
    return { version: moved.version, previousVersion: moved.previousVersion };
  },
});

export const PROMOTION_OPERATIONS = [promotionRequest, promotionApprove, promotionReject, promotionStatus, promotionPending, promotionHistory, promotionRollback];
