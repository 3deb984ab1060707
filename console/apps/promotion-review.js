// The promotion review as an MCP App (ui://mcp-level3/promotion-review), shown with
// promotion_request and promotion_status results: the request with its gates and their
// messages, and the requested version against what the environment's alias points at now
// (registry_get through the host, as the user).
import { callServerTool, connectToHost, resultText } from './bridge.js';

const byId = (id) => document.getElementById(id);
let toolArguments = {};

function tag(name, attributes = {}, ...children) {
  const node = document.createElement(name);
  for (const [key, value] of Object.entries(attributes)) {
    if (value === undefined) continue;
    if (key === 'text') node.textContent = value;
    else node.setAttribute(key, String(value));
  }
  for (const child of children.flat()) if (child !== undefined && child !== null) node.append(child);
  return node;
}

function show(text, kind = '') {
  byId('status').textContent = text;
  byId('status').className = kind;
}

function gatesTable(gates) {
  const rows = gates.map((g) =>
    tag('tr', { 'data-gate': g.gate }, tag('td', { text: g.gate }), tag('td', { class: g.passed ? 'passed' : 'failed', text: g.passed ? 'passed' : 'failed' }), tag('td', { text: g.messages?.length ? g.messages.join(' ') : '—' })),
  );
  return tag(
    'table',
    { id: 'gates' },
    tag('caption', { text: 'Gates' }),
    tag('thead', {}, tag('tr', {}, tag('th', { scope: 'col', text: 'Gate' }), tag('th', { scope: 'col', text: 'Result' }), tag('th', { scope: 'col', text: 'Messages' }))),
    tag('tbody', {}, rows.length ? rows : tag('tr', {}, tag('td', { colspan: 3, text: 'No gate applies.' }))),
  );
}

async function comparison(request) {
  let candidate;
  let current;
  let note = '';
  try {
    candidate = await callServerTool('registry_get', { name: request.name, version: request.version, includeContent: false });
  } catch (error) {
    note = `The requested version could not be read: ${error.message}`;
  }
  try {
    current = await callServerTool('registry_get', { name: request.name, alias: request.environment, includeContent: false });
  } catch (error) {
    note ||= /not found/i.test(error.message) ? `Nothing is promoted to ${request.environment} yet: this would be its first version.` : `The ${request.environment} alias could not be read: ${error.message}`;
  }
  const rows = [
    ['Version', (a) => a.version],
    ['Digest', (a) => a.digest],
    ['Size (bytes)', (a) => String(a.size)],
    ['Media type', (a) => a.mediaType],
    ['Labels', (a) => Object.entries(a.labels ?? {}).map(([k, v]) => `${k}=${v}`).join(', ')],
    ['Published', (a) => `${a.createdAt ?? ''} by ${a.createdBy ?? ''}`],
  ].map(([label, pick]) => {
    const left = candidate ? pick(candidate) : '';
    const right = current ? pick(current) : '—';
    return tag('tr', { class: current && left !== right ? 'differs' : undefined }, tag('th', { scope: 'row', text: label }), tag('td', { text: left }), tag('td', { text: right }));
  });
  return [
    tag(
      'table',
      { class: 'compare', id: 'compare' },
      tag('caption', { text: `Requested version against the ${request.environment} alias` }),
      tag('thead', {}, tag('tr', {}, tag('th', { scope: 'col', text: 'Field' }), tag('th', { scope: 'col', text: 'Requested' }), tag('th', { scope: 'col', text: `Now in ${request.environment}` }))),
      tag('tbody', {}, rows),
    ),
    note ? tag('p', { class: 'notice', text: note }) : null,
  ];
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
    tag('p', { text: `Requested by ${request.requestedBy ?? 'you'}${request.expiresAt ? `; expires ${request.expiresAt}` : ''}.` }),
    request.approvalsRequired !== undefined ? tag('p', { text: `Approvals: ${approvals.length} of ${request.approvalsRequired}${approvals.length ? ` (${approvals.map((a) => a.by).join(', ')})` : ''}.` }) : null,
    gatesTable(request.gates ?? out.gates ?? []),
    ...(await comparison(request)),
  );
}

connectToHost({
  name: 'mcp-level3 promotion review',
  onToolInput: (args) => {
    toolArguments = args;
  },
  onToolResult: (result) => showRequest(result),
}).catch((error) => show(`The host did not answer: ${error.message}`, 'error'));
