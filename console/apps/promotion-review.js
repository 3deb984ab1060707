// The promotion review as an MCP App (ui://mcp-level3/promotion-review), shown with
// promotion_request and promotion_status results: the request with its gates and their
// messages, and the requested version against what the environment's alias points at now
// (registry_get through the host, as the user).
import { callServerTool, connectToHost, resultText } from './bridge.js';
import { aliasComparison, gatesTable, h } from '../promotion-view.js';

const byId = (id) => document.getElementById(id);
let toolArguments = {};

function show(text, kind = '') {
  byId('status').textContent = text;
  byId('status').className = kind;
}

async function showRequest(result) {
  const view = byId('review');
  if (result.isError) {
    view.replaceChildren();
    return show(resultText(result) || 'The tool call failed.', 'error');
  }
  const out = result.structuredContent ?? {};
  const requestId = out.requestId ?? toolArguments.requestId;
  // promotion_status carries the request; promotion_request only its id, state and gates.
  let request = out.request ? { ...out.request, status: out.status } : undefined;
  if (!request && requestId) {
    try {
      const now = await callServerTool('promotion_status', { requestId });
      request = { ...now.request, status: now.status };
    } catch {
      request = { ...toolArguments, status: out.status, gates: out.gates ?? [], approvals: [] };
    }
  }
  if (!request?.name) return show('This result names no promotion request.', 'error');
  const approvals = (request.approvals ?? []).filter((a) => a.decision === 'approve');
  byId('title').textContent = `${request.name}@${request.version} → ${request.environment}`;
  show(`Request ${requestId ?? ''}: ${String(request.status).replace('_', ' ')}.`);
  view.dataset.status = request.status;
  view.replaceChildren(
    h('p', { text: `Requested by ${request.requestedBy ?? 'you'}${request.expiresAt ? `; expires ${request.expiresAt}` : ''}.` }),
    request.approvalsRequired !== undefined ? h('p', { text: `Approvals: ${approvals.length} of ${request.approvalsRequired}${approvals.length ? ` (${approvals.map((a) => a.by).join(', ')})` : ''}.` }) : null,
    gatesTable(request.gates ?? out.gates ?? [], { id: 'gates' }),
    ...(await aliasComparison(request, { read: (args) => callServerTool('registry_get', args), isNotFound: (error) => /not found/i.test(error.message), describe: (error) => error.message }, { id: 'compare' })),
  );
}

connectToHost({
  name: 'mcp-level3 promotion review',
  onToolInput: (args) => {
    toolArguments = args;
  },
  onToolResult: (result) => showRequest(result),
}).catch((error) => show(`The host did not answer: ${error.message}`, 'error'));
