// The app side of the MCP Apps host protocol (@modelcontextprotocol/ext-apps): JSON-RPC 2.0
// over postMessage with the host window. The app asks `ui/initialize`, says
// `ui/notifications/initialized`, then hears `ui/notifications/tool-input` (the call's
// arguments) and `ui/notifications/tool-result` (the CallToolResult), and may send the host
// `tools/call` for more of the server's tools (the host runs them as the user, so scope,
// policy and audit apply as for any call). Inlined into each app's HTML by
// src/surface/mcp-app.ts: no import at run time, no CDN.

const PROTOCOL_VERSION = '2026-01-26';
const pending = new Map();
const listeners = new Map();
let nextId = 1;

function post(message) {
  window.parent.postMessage({ jsonrpc: '2.0', ...message }, '*');
}

window.addEventListener('message', (event) => {
  if (event.source !== window.parent) return;
  const message = event.data;
  if (!message || message.jsonrpc !== '2.0') return;
  if (message.method === undefined) {
    const waiting = pending.get(message.id);
    if (!waiting) return;
    pending.delete(message.id);
    if (message.error) waiting.reject(new Error(message.error.message ?? 'the host refused the request'));
    else waiting.resolve(message.result);
    return;
  }
  // A request from the host (e.g. ui/resource-teardown) is acknowledged; nothing is held open.
  if (message.id !== undefined) post({ id: message.id, result: {} });
  listeners.get(message.method)?.(message.params ?? {});
});

/** One request to the host; resolves with its result. */
export function hostRequest(method, params) {
  const id = nextId++;
  post({ id, method, params });
  return new Promise((resolve, reject) => pending.set(id, { resolve, reject }));
}

/** A tool of this server, called through the host; rejects with the tool's own error text. */
export async function callServerTool(name, args) {
  const result = await hostRequest('tools/call', { name, arguments: args });
  if (result?.isError) throw new Error(resultText(result) || `${name} failed`);
  return result.structuredContent;
}

/** The text blocks of a CallToolResult, joined. */
export function resultText(result) {
  return (result?.content ?? []).filter((block) => block.type === 'text').map((block) => block.text).join('\n');
}

function reportSize() {
  const { scrollWidth: width, scrollHeight: height } = document.documentElement;
  post({ method: 'ui/notifications/size-changed', params: { width, height } });
}

/** The handshake; the handlers hear the tool's arguments and its result. */
export async function connectToHost({ name, onToolInput, onToolResult }) {
  if (onToolInput) listeners.set('ui/notifications/tool-input', (params) => onToolInput(params.arguments ?? {}));
  listeners.set('ui/notifications/tool-result', onToolResult);
  const host = await hostRequest('ui/initialize', { protocolVersion: PROTOCOL_VERSION, appInfo: { name, version: '1.0.0' }, appCapabilities: {} });
  post({ method: 'ui/notifications/initialized', params: {} });
  new ResizeObserver(reportSize).observe(document.body);
  return host;
}
