// Live changes of a resource through MCP: one `subscriptions/listen` request (streamable HTTP,
// protocol 2026-07-28) to this server's /mcp, naming the resources to follow, e.g. a run's
// dag://runs/{id}. Before the stream opens the server checks each resource as a read of it
// (scope, policy, ownership: another principal's run is "not found") and audits the
// subscription; then it sends notifications/resources/updated each time one changes, and the
// page reads the new state through the REST API. A stream answers with server-sent events,
// read here from fetch (EventSource can send neither a POST nor the credential header).
import { ApiError, credentialHeaders, refused, session } from './api.js';

export const PROTOCOL_VERSION = '2026-07-28';
const CLIENT_INFO = { name: 'mcp-level3-console', version: '1' };

/** The MCP resource of a run (as src/surface/uris.ts names it). */
export const runUri = (runId) => `dag://runs/${encodeURIComponent(runId)}`;

// The server's error codes (src/errors.ts) as HTTP statuses, for a refusal sent in-band.
const STATUS_OF = { INVALID_INPUT: 400, UNAUTHENTICATED: 401, FORBIDDEN: 403, NOT_FOUND: 404, BUSY: 429, QUEUE_FULL: 503, UNAVAILABLE: 503 };

function refusal(status, message) {
  const code = message?.error?.data?.code;
  const text = message?.error?.message ?? `the server answered ${status} to the subscription`;
  return new ApiError(STATUS_OF[code] ?? (status >= 400 ? status : 500), code ?? 'ERROR', text);
}

/** Yields each JSON-RPC message of a server-sent event stream (the `data:` lines of each event). */
async function* messages(body) {
  const reader = body.getReader();
  const decoder = new TextDecoder();
  let buffer = '';
  try {
    for (;;) {
      const { value, done } = await reader.read();
      if (done) return;
      buffer += decoder.decode(value, { stream: true }).replace(/\r\n?/g, '\n');
      let end;
      while ((end = buffer.indexOf('\n\n')) !== -1) {
        const event = buffer.slice(0, end);
        buffer = buffer.slice(end + 2);
        const data = event
          .split('\n')
          .filter((line) => line.startsWith('data:'))
          .map((line) => line.slice(5).replace(/^ /, ''))
          .join('\n');
        if (data) yield JSON.parse(data);
      }
    }
  } finally {
    reader.releaseLock();
  }
}

/**
 * Follows `uris` until `close()`. Resolves once the server has acknowledged the subscription
 * (from then on no change is missed); rejects with an ApiError when the server refuses it.
 * `onUpdate(uri)` is called for each change; `onDrop(reason)` once if the stream ends or
 * breaks other than by `close()`.
 */
export async function listen(uris, { onUpdate, onDrop }, credential = session.current()) {
  const controller = new AbortController();
  const id = `console-listen-${Date.now()}`;
  let response;
  try {
    response = await fetch('/mcp', {
      method: 'POST',
      headers: {
        'content-type': 'application/json',
        accept: 'application/json, text/event-stream',
        'mcp-protocol-version': PROTOCOL_VERSION,
        'mcp-method': 'subscriptions/listen',
        ...credentialHeaders(credential),
      },
      body: JSON.stringify({
        jsonrpc: '2.0',
        id,
        method: 'subscriptions/listen',
        params: {
          _meta: { 'io.modelcontextprotocol/protocolVersion': PROTOCOL_VERSION, 'io.modelcontextprotocol/clientInfo': CLIENT_INFO, 'io.modelcontextprotocol/clientCapabilities': {} },
          notifications: { resourceSubscriptions: uris },
        },
      }),
      signal: controller.signal,
    });
  } catch {
    throw new ApiError(0, 'UNAVAILABLE', 'the server could not be reached');
  }
  if (!(response.headers.get('content-type') ?? '').startsWith('text/event-stream')) {
    // Refused before the stream: an HTTP error, or a JSON-RPC error answered in-band.
    let body;
    try {
      body = await response.json();
    } catch {
      body = undefined;
    }
    const error = refusal(response.status, body);
    refused(error.status, credential);
    throw error;
  }
  const stream = messages(response.body);
  const first = await stream.next().catch(() => ({ done: true }));
  const honored = first.value?.method === 'notifications/subscriptions/acknowledged' ? first.value.params?.notifications?.resourceSubscriptions ?? [] : [];
  if (!uris.every((uri) => honored.includes(uri))) {
    controller.abort();
    throw new ApiError(403, 'FORBIDDEN', first.value?.error?.message ?? 'the server did not accept the subscription (it offers no resource subscriptions to this credential)');
  }
  let closed = false;
  (async () => {
    let reason = 'the server ended the stream';
    try {
      for await (const message of stream) {
        if (closed) return;
        if (message.method === 'notifications/resources/updated' && typeof message.params?.uri === 'string') onUpdate(message.params.uri);
        if ('result' in message || 'error' in message) reason = message.error?.message ?? 'the server closed the subscription';
      }
    } catch {
      reason = 'the connection to the server was lost';
    }
    if (!closed) {
      closed = true;
      onDrop(reason);
    }
  })();
  return {
    close() {
      closed = true;
      controller.abort();
    },
  };
}
