/*
 * Taxonomy and promotion on the MCP surface
 * =========================================
 * The resource template taxonomy://concepts/{id} (one concept with its ancestors), and the
 * prompt promotion_review, which puts a request's artifact, gates and history in front of a
 * human approver. Reads go through App.invoke, so they are scope-checked and audited.
 */
import { ResourceTemplate, type McpServer } from '@modelcontextprotocol/server';
import { z } from 'zod';
import { hasScope, type App } from '../app.js';
import { decodeVariable, enginesFor } from './resource-access.js';
import type { Principal } from '../operations/operation.js';
import { promotionHistory, promotionStatus } from '../operations/promotion.js';
import { registryGet } from '../operations/registry.js';
import { taxonomyLookup } from '../operations/taxonomy.js';

const REVIEW_ARGS = z.object({ requestId: z.string().describe('Promotion request id.') });


export function registerTaxonomySurface(app: App, server: McpServer, principal: Principal): void {
  const taxonomy = async () => (await enginesFor(app, principal, taxonomyLookup.scope, 'concepts')).taxonomy;
  server.registerResource(
    'taxonomy-concept',
    new ResourceTemplate('taxonomy://concepts/{id}', {
      list: async () => ({
        resources: hasScope(principal, taxonomyLookup.scope)
          ? (await taxonomy()).concepts.map((c) => ({ uri: `taxonomy://concepts/${encodeURIComponent(c.id)}`, name: c.label, mimeType: 'application/json' }))
          : [],
      }),
      complete: {
        id: async (value) => (await taxonomy()).concepts.map((c) => c.id).filter((id) => id.toLowerCase().startsWith(decodeVariable(value).toLowerCase())).slice(0, 50),
      },
    }),
    { title: 'Taxonomy concept', description: 'One ontology concept: labels, definition, parents, children and ancestors.' },
    async (uri, variables) => {
      const engine = await taxonomy();
      const concept = engine.get(decodeVariable(variables.id));
      const ancestors: string[] = [];
      const queue = [...concept.parents];
      while (queue.length > 0) {
        const id = queue.shift()!;
        if (ancestors.includes(id)) continue;
        ancestors.push(id);
        queue.push(...engine.get(id).parents);
      }
      return { contents: [{ uri: uri.href, mimeType: 'application/json', text: JSON.stringify({ ...concept, ancestors }) }] };
    },
  );
}

export function registerPromotionSurface(app: App, server: McpServer, principal: Principal): void {
  server.registerPrompt(
    'promotion_review',
    {
      title: 'Review a promotion request',
      description: 'Summarizes the artifact, gate results and promotion history of a request for a human approver.',
      argsSchema: REVIEW_ARGS,
    },
    async ({ requestId }) => {
      const status = (await app.invoke(promotionStatus, { requestId }, { principal })) as z.output<typeof promotionStatus.output>;
      const request = status.request as { name: string; version: string; environment: string; requestedBy: string; approvalsRequired: number; approvals: { by: string }[]; gates: { gate: string; passed: boolean; messages: string[] }[]; expiresAt: string };
      const artifact = (await app.invoke(registryGet, { name: request.name, version: request.version, includeContent: false }, { principal })) as z.output<typeof registryGet.output>;
      const history = (await app.invoke(promotionHistory, { name: request.name, limit: 10 }, { principal })) as { events: { environment: string; action: string; version: string; actor: string; at: string }[] };
      const gates = request.gates.map((g) => `- ${g.gate}: ${g.passed ? 'passed' : 'FAILED'} — ${g.messages.join('; ')}`).join('\n');
      const moves = history.events.map((e) => `- ${e.at} ${e.action} ${e.version} to ${e.environment} by ${e.actor}`).join('\n') || '- (never promoted)';
      const { content: _content, encoding: _encoding, ...meta } = artifact;
      return {
        description: `Review of promotion ${requestId}: ${request.name}@${request.version} to ${request.environment}`,
        messages: [
          {
            role: 'user' as const,
            content: {
              type: 'text' as const,
              text:
                `You are helping a human decide whether to approve promoting ${request.name}@${request.version} to ${request.environment}.\n` +
                `Request ${requestId} by ${request.requestedBy}, status ${status.status}, approvals ${request.approvals.length} of ${request.approvalsRequired}` +
                ` (${request.approvals.map((a) => a.by).join(', ') || 'none yet'}), expires ${request.expiresAt}.\n\n` +
                `Gates:\n${gates}\n\nArtifact:\n${JSON.stringify(meta, null, 2)}\n\nRecent alias moves:\n${moves}\n\n` +
                `Summarize the risks and finish with a recommendation: approve, reject (say why), or ask for changes. ` +
                `Approval itself is done with promotion_approve by someone other than the requester.`,
            },
          },
        ],
      };
    },
  );
}
