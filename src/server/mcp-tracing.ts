/*
 * MCP request spans
 * =================
 * One server span per MCP request, on both transports, named and attributed as
 * OpenTelemetry's MCP conventions say (`tools/call rag_query`, `mcp.method.name`,
 * `gen_ai.tool.name`, `jsonrpc.request.id`, `network.transport`). A W3C `traceparent`
 * in the request's `params._meta` makes the span a child of the client's trace; over
 * HTTP without one, it is a child of the HTTP server span.
 *
 * The SDK has no per-request hook, so the request handlers an McpServer holds are wrapped
 * once it is built. That reaches into `Protocol._requestHandlers`; the tracing test fails
 * if an SDK upgrade moves it, and until then the server runs untraced with a warning.
 * Nothing happens here when tracing is off.
 */
import type { McpServer } from '@modelcontextprotocol/server';
import type { Logger } from '../platform/log.js';
import { currentRequestId } from '../platform/request-context.js';
import { contextFromCarrier, tracingEnabled, withSpan, type Attributes } from '../platform/tracing.js';

export type McpTransportKind = 'stdio' | 'http';

type Handler = (request: { method: string; params?: Record<string, unknown> }, ctx: { sessionId?: string; mcpReq: { id: string | number } }) => Promise<unknown>;

let warned = false;

function target(method: string, params: Record<string, unknown> | undefined): string | undefined {
  if (method === 'tools/call' || method === 'prompts/get') return typeof params?.name === 'string' ? params.name : undefined;
  return undefined;
}

function attributesOf(method: string, params: Record<string, unknown> | undefined, transport: McpTransportKind): Attributes {
  const name = target(method, params);
  return {
    'mcp.method.name': method,
    'network.transport': transport === 'stdio' ? 'pipe' : 'tcp',
    'gen_ai.tool.name': method === 'tools/call' ? name : undefined,
    'gen_ai.operation.name': method === 'tools/call' ? 'execute_tool' : undefined,
    'gen_ai.prompt.name': method === 'prompts/get' ? name : undefined,
    'mcp.resource.uri': method === 'resources/read' && typeof params?.uri === 'string' ? params.uri : undefined,
    'mcp_level3.request_id': currentRequestId(),
  };
}

function traced(method: string, handler: Handler, transport: McpTransportKind): Handler {
  return (request, ctx) => {
    const params = request.params;
    const name = target(method, params);
    const attributes = { ...attributesOf(method, params, transport), 'jsonrpc.request.id': String(ctx.mcpReq.id), 'mcp.session.id': ctx.sessionId };
    const meta = params?._meta as Record<string, unknown> | undefined;
    return withSpan(
      name ? `${method} ${name}` : method,
      attributes,
      async (span) => {
        const result = await handler(request, ctx);
        if ((result as { isError?: unknown } | undefined)?.isError === true) span.setError('tool result isError');
        return result;
      },
      { kind: 'server', parent: contextFromCarrier(meta) },
    );
  };
}

/** Wraps every request handler of the server in a span; call after all registrations. */
export function traceMcpRequests(server: McpServer, transport: McpTransportKind, log: Logger): void {
  if (!tracingEnabled()) return;
  const handlers = (server.server as unknown as { _requestHandlers?: unknown })._requestHandlers;
  if (!(handlers instanceof Map)) {
    if (!warned) log.warn('MCP requests are not traced: this SDK version keeps its request handlers elsewhere');
    warned = true;
    return;
  }
  for (const [method, handler] of handlers as Map<string, Handler>) handlers.set(method, traced(method, handler, transport));
}
