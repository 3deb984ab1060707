/*
 * promotion_review: a request's artifact, gates and promotion history in front of a human
 * approver. Governed as promotion_status on the request; the artifact and history are read
 * through registry_get and promotion_history, each under its own scope and policies.
 */
import { z } from 'zod';
import { definePrompt, markdownTemplate } from '../src/surface/prompt.js';
import { promotionHistory, promotionStatus } from '../tools/promotion.js';
import { registryGet } from '../tools/registry.js';

const template = markdownTemplate('promotion-review.md');

interface RequestView {
  name: string;
  version: string;
  environment: string;
  requestedBy: string;
  approvalsRequired: number;
  approvals: { by: string }[];
  gates: { gate: string; passed: boolean; messages: string[] }[];
  expiresAt: string;
}

export const promotionReview = definePrompt({
  name: 'promotion_review',
  engine: 'promotion',
  title: 'Review a promotion request',
  description: 'Summarizes the artifact, gate results and promotion history of a request for a human approver.',
  args: z.object({ requestId: z.string().describe('Promotion request id.') }),
  scope: promotionStatus.scope,
  governedAs: { operation: promotionStatus.name, input: ({ requestId }) => ({ requestId }) },
  async render({ requestId }, ctx) {
    const status = await ctx.handle(promotionStatus, { requestId });
    const request = status.request as RequestView;
    const artifact = await ctx.invoke(registryGet, { name: request.name, version: request.version, includeContent: false });
    const history = (await ctx.invoke(promotionHistory, { name: request.name, limit: 10 })) as { events: { environment: string; action: string; version: string; actor: string; at: string }[] };
    const { content: _content, encoding: _encoding, ...meta } = artifact;
    return {
      description: `Review of promotion ${requestId}: ${request.name}@${request.version} to ${request.environment}`,
      text: template({
        artifact: `${request.name}@${request.version}`,
        environment: request.environment,
        requestId,
        requestedBy: request.requestedBy,
        status: String(status.status),
        approvals: String(request.approvals.length),
        approvalsRequired: String(request.approvalsRequired),
        approvers: request.approvals.map((a) => a.by).join(', ') || 'none yet',
        expiresAt: request.expiresAt,
        gates: request.gates.map((g) => `- ${g.gate}: ${g.passed ? 'passed' : 'FAILED'} — ${g.messages.join('; ')}`).join('\n'),
        metadata: JSON.stringify(meta, null, 2),
        moves: history.events.map((e) => `- ${e.at} ${e.action} ${e.version} to ${e.environment} by ${e.actor}`).join('\n') || '- (never promoted)',
      }),
    };
  },
});

export const PROMOTION_PROMPTS = [promotionReview];
