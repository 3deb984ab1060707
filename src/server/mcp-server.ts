/*
 * MCP surface
 * ===========
 * The McpServers of streamable HTTP (one per request) and stdio (one per connection, made
 * before the app exists and given its handlers once it does: createDeferredStdioServer),
 * from the declarations: the operations in tools/, the resource templates in resources/
 * and the prompts in prompts/. This is the one place they are registered with the SDK.
 * Catalogs (names, JSON Schemas, URI templates, prompt arguments) are built once per
 * process; each request only installs the handlers, so the per-request part is
 * constant-time.
 *
 * Every tool call, resource read and list, prompt get, completion and subscription runs
 * through host.run/host.invoke: scope, the policies of the operation it is governed as,
 * audit, metrics and a span. Tool failures become results with isError; failures of the
 * other surfaces are protocol errors with the codes the HTTP API uses (never -32603 for a
 * denial): a missing resource is the SDK's "resource not found" (-32602 with data {uri}, as the
 * 2026-07-28 revision requires on every era; no -32002), a bad prompt argument -32602.
 */
import {
  McpServer,
  ProtocolError,
  ProtocolErrorCode,
  ResourceNotFoundError,
  UriTemplate,
  type CallToolResult,
  type McpRequestContext,
  type McpServerFactory,
  type Prompt,
  type Resource,
  type ResourceTemplateType,
  type ServerContext,
  type Tool,
} from '@modelcontextprotocol/server';
import type { z } from 'zod';
import { ERROR_CODES, EngineError, invalidInput } from '../errors.js';
import type { CallContext, Invocation } from '../invoke-pipeline.js';
import { resultContent } from '../surface/result-text.js';
import { VERSION } from '../package-info.js';
import type { Completer } from '../surface/access.js';
import { operationJsonSchemas } from '../surface/json-schema.js';
import { hasScope, type AnyOperation, type Principal, type SampleModel } from '../surface/operation.js';
import type { AnyPrompt } from '../surface/prompt.js';
import { decodeVariable, type AnyResource, type ResourceBody } from '../surface/resource.js';
import { formatIssues } from '../zod-issues.js';
import { deliverChanges } from './change-notifications.js';
import type { ServerHost } from './host.js';
import { traceMcpRequests, type McpTransportKind } from './mcp-tracing.js';

const INSTRUCTIONS = `mcp-level3 exposes platform engines as tools named <engine>_<verb>.
rag_*: ingest documents into collections and retrieve cited passages (hybrid BM25 + vectors by default); the rag_answer prompt answers from them.
registry_*: immutable, versioned artifacts ("namespace/name" + semver); validation_*: JSON Schema 2020-12 registry and validation.
dag_*: durable workflows whose nodes call these tools; dag_run with wait reports progress; execution_status shows the executor.
governance_*: CEL policies and the verifiable audit log; taxonomy_*: artifact-kind ontology; promotion_*: gated, four-eyes promotion dev → staging → prod.
Errors come back as tool results with isError and say what to change.`;

/** Completion values offered at most, after filtering. */
const MAX_COMPLETIONS = 100;

interface ToolEntry {
  operation: AnyOperation;
  listed: Tool;
}

interface ResourceEntry {
  resource: AnyResource;
  template: UriTemplate;
  listed: ResourceTemplateType;
}

interface PromptEntry {
  prompt: AnyPrompt;
  listed: Prompt;
}

export interface McpCatalog {
  tools: { list: Tool[]; byName: Map<string, ToolEntry> };
  resources: ResourceEntry[];
  prompts: { list: Prompt[]; byName: Map<string, PromptEntry> };
}

function buildCatalog(host: ServerHost): McpCatalog {
  const tools = host.operations.map((operation): ToolEntry => {
    const { input, output } = operationJsonSchemas(operation);
    return {
      operation,
      listed: {
        name: operation.name,
        title: operation.title,
        description: operation.description,
        inputSchema: input as Tool['inputSchema'],
        outputSchema: output as Tool['outputSchema'],
        annotations: { title: operation.title, ...operation.annotations },
        // MCP Apps: the view a host that supports them renders the result in.
        ...(operation.ui ? { _meta: { ui: { resourceUri: operation.ui } } } : {}),
      },
    };
  });
  const resources = host.resources.map((resource): ResourceEntry => ({
    resource,
    template: new UriTemplate(resource.uriTemplate),
    listed: { name: resource.name, title: resource.title, uriTemplate: resource.uriTemplate, description: resource.description },
  }));
  const prompts = host.prompts.map((prompt): PromptEntry => ({
    prompt,
    listed: {
      name: prompt.name,
      title: prompt.title,
      description: prompt.description,
      arguments: Object.entries(prompt.args.shape).map(([name, field]) => ({
        name,
        ...((field as z.ZodType).description ? { description: (field as z.ZodType).description } : {}),
        required: !(field as z.ZodType).safeParse(undefined).success,
      })),
    },
  }));
  return {
    tools: { list: tools.map((t) => t.listed), byName: new Map(tools.map((t) => [t.operation.name, t])) },
    resources,
    prompts: { list: prompts.map((p) => p.listed), byName: new Map(prompts.map((p) => [p.prompt.name, p])) },
  };
}

/** The catalog of a host, built on its first use (answering `initialize` needs none of it). */
function lazyCatalog(host: ServerHost): () => McpCatalog {
  let built: McpCatalog | undefined;
  return () => (built ??= buildCatalog(host));
}

/** A failure of a resource, prompt or completion as the protocol error a client should see. */
function protocolError(error: unknown, surface: 'resource' | 'prompt' | 'completion', uri?: string): ProtocolError {
  if (error instanceof ProtocolError) return error;
  const engineError = error instanceof EngineError ? error : new EngineError('INTERNAL', 'internal error; the server log has the details');
  if (engineError.code === 'NOT_FOUND') {
    return surface === 'resource' && uri !== undefined ? new ResourceNotFoundError(uri, engineError.message) : new ProtocolError(ProtocolErrorCode.InvalidParams, engineError.message);
  }
  const data = engineError.details === undefined ? { code: engineError.code } : { code: engineError.code, details: engineError.details };
  return new ProtocolError(ERROR_CODES[engineError.code].jsonRpc, engineError.message, data);
}

function resourceEntryFor(catalog: McpCatalog, uri: string): { entry: ResourceEntry; values: Record<string, string> } | undefined {
  for (const entry of catalog.resources) {
    const matched = entry.template.match(uri);
    if (matched) return { entry, values: Object.fromEntries(Object.entries(matched).map(([key, value]) => [key, decodeVariable(value)])) };
  }
  return undefined;
}

/**
 * Checks a subscription to one URI through the invoke path: only subscribable resources,
 * for a principal who could read them (a run another principal owns is NOT_FOUND).
 */
export async function authorizeSubscription(host: ServerHost, catalog: McpCatalog, uri: string, call: CallContext): Promise<void> {
  const found = resourceEntryFor(catalog, uri);
  if (!found || !found.entry.resource.subscribable) {
    const subscribable = catalog.resources.filter((e) => e.resource.subscribable).map((e) => e.resource.uriTemplate);
    throw invalidInput(`only ${subscribable.join(' and ') || 'no resources'} can be subscribed to; got ${JSON.stringify(uri)}`);
  }
  await host.run(readInvocation('subscription', found.entry.resource, uri, found.values), call);
}

/** A read of one resource (or a subscription to it, checked as a read), governed as its operation. */
function readInvocation(surface: 'resource' | 'subscription', resource: AnyResource, uri: string, values: Record<string, string>): Invocation<Record<string, string>, ResourceBody> {
  return {
    surface,
    name: resource.name,
    engine: resource.engine,
    scope: resource.scope,
    resource: uri,
    arguments: { uri },
    writes: false,
    parse: () => values,
    policy: (parsed) => ({ operation: resource.governedAs.operation, input: resource.governedAs.input(parsed) }),
    work: (parsed, { surface: context }) => resource.read(parsed, context),
  };
}

function progressReporter(ctx: ServerContext) {
  const token = ctx.mcpReq._meta?.progressToken;
  if (token === undefined) return undefined;
  return async (progress: number, total?: number, message?: string) => {
    await ctx.mcpReq.notify({
      method: 'notifications/progress',
      params: { progressToken: token, progress, ...(total !== undefined ? { total } : {}), ...(message ? { message } : {}) },
    });
  };
}

/**
 * The client's model through sampling/createMessage, when it declared sampling. Only
 * 2025-era connections have server-to-client requests; a 2026-07-28 request (it carries a
 * per-request envelope) gets none.
 */
function sampler(server: McpServer, ctx: ServerContext): SampleModel | undefined {
  if (ctx.mcpReq.envelope || !server.server.getClientCapabilities()?.sampling) return undefined;
  return async ({ system, prompt, maxTokens }, signal) => {
    const result = await ctx.mcpReq.requestSampling(
      { systemPrompt: system, messages: [{ role: 'user', content: { type: 'text', text: prompt } }], maxTokens, includeContext: 'none', temperature: 0 },
      { signal: signal ?? ctx.mcpReq.signal },
    );
    const blocks = Array.isArray(result.content) ? result.content : [result.content];
    return blocks.map((block) => (block.type === 'text' ? block.text : '')).join('');
  };
}

export interface McpServerFactoryWithCatalog extends McpServerFactory {
  catalog: McpCatalog;
}

/** One server's identity and capabilities; its handlers come from installHandlers. */
function newMcpServer(subscribe: boolean, notifies: boolean): McpServer {
  return new McpServer(
    { name: 'mcp-level3', title: 'mcp-level3', version: VERSION },
    {
      capabilities: {
        logging: {},
        tools: { listChanged: false },
        resources: { subscribe, listChanged: notifies },
        prompts: { listChanged: false },
        completions: {},
      },
      instructions: INSTRUCTIONS,
    },
  );
}

interface Connection {
  host: ServerHost;
  catalogOf: () => McpCatalog;
  principal: Principal;
  era: McpRequestContext['era'];
  transport: McpTransportKind;
  /** stdio: resources/subscribe is served (2025 era), each one checked by authorizeSubscription. */
  subscribe: boolean;
}

function installHandlers(server: McpServer, { host, catalogOf, principal, era, transport, subscribe }: Connection): void {
  const call = (ctx?: ServerContext): CallContext => ({ principal, ...(ctx ? { signal: ctx.mcpReq.signal } : {}) });
  const handlers = server.server;
  handlers.setRequestHandler('tools/list', () => ({ tools: catalogOf().tools.list }));
  handlers.setRequestHandler('tools/call', async (request, ctx) => {
    const entry = catalogOf().tools.byName.get(request.params.name);
    if (!entry) throw new ProtocolError(ProtocolErrorCode.InvalidParams, `Tool ${request.params.name} not found`);
    let result: CallToolResult;
    try {
      const output = (await host.invoke(entry.operation, request.params.arguments, {
        principal,
        signal: ctx.mcpReq.signal,
        progress: progressReporter(ctx as ServerContext),
        sample: sampler(server, ctx as ServerContext),
      })) as Record<string, unknown>;
      result = { content: resultContent(entry.operation, output), structuredContent: output };
    } catch (error) {
      result = { isError: true, content: [{ type: 'text', text: error instanceof EngineError ? error.message : 'internal error' }] };
    }
    return server.server.projectCallToolResult(result, entry.listed.outputSchema);
  });

  handlers.setRequestHandler('resources/templates/list', () => ({ resourceTemplates: catalogOf().resources.map((e) => e.listed) }));
  handlers.setRequestHandler('resources/list', async (_request, ctx) => {
    const resources: Resource[] = [];
    for (const { resource } of catalogOf().resources) {
      // A principal without the scope sees none of them, without a denial per template.
      if (!resource.list || !hasScope(principal, resource.scope)) continue;
      const listed = await host
        .run(
          {
            surface: 'resource',
            name: resource.name,
            engine: resource.engine,
            scope: resource.scope,
            resource: resource.uriTemplate,
            arguments: { list: resource.uriTemplate },
            writes: false,
            parse: () => undefined,
            work: (_none, { surface }) => resource.list!(surface),
          },
          call(ctx as ServerContext),
        )
        .catch((error: unknown) => {
          throw protocolError(error, 'resource');
        });
      resources.push(...listed);
    }
    return { resources };
  });
  handlers.setRequestHandler('resources/read', async (request, ctx) => {
    const { uri } = request.params;
    const found = resourceEntryFor(catalogOf(), uri);
    if (!found) throw new ResourceNotFoundError(uri, `no resource ${uri} on this server; resources/templates/list names the templates`);
    try {
      const body = await host.run(readInvocation('resource', found.entry.resource, uri, found.values), call(ctx as ServerContext));
      return { contents: [{ uri, ...body } as { uri: string; mimeType: string; text: string }] };
    } catch (error) {
      throw protocolError(error, 'resource', uri);
    }
  });

  handlers.setRequestHandler('prompts/list', () => ({ prompts: catalogOf().prompts.list }));
  handlers.setRequestHandler('prompts/get', async (request, ctx) => {
    const entry = catalogOf().prompts.byName.get(request.params.name);
    if (!entry) throw new ProtocolError(ProtocolErrorCode.InvalidParams, `Prompt ${request.params.name} not found; prompts/list names the prompts`);
    const { prompt } = entry;
    const args = request.params.arguments ?? {};
    try {
      const rendered = await host.run(
        {
          surface: 'prompt',
          name: prompt.name,
          engine: prompt.engine,
          scope: prompt.scope,
          resource: prompt.name,
          arguments: args,
          writes: false,
          parse: () => {
            const parsed = prompt.args.safeParse(args, { reportInput: true });
            if (!parsed.success) throw invalidInput(`prompt ${prompt.name}: ${formatIssues(parsed.error.issues).join('; ')}`);
            return parsed.data;
          },
          policy: (values) => ({ operation: prompt.governedAs.operation, input: prompt.governedAs.input(values) }),
          work: (values, { surface }) => prompt.render(values, surface),
        },
        call(ctx as ServerContext),
      );
      return { description: rendered.description, messages: [{ role: 'user' as const, content: { type: 'text' as const, text: rendered.text } }] };
    } catch (error) {
      throw protocolError(error, 'prompt');
    }
  });

  handlers.setRequestHandler('completion/complete', async (request, ctx) => {
    const { ref, argument } = request.params;
    const context = Object.fromEntries(Object.entries(request.params.context?.arguments ?? {}).map(([key, value]) => [key, decodeVariable(value)]));
    let target: { name: string; engine: AnyResource['engine']; scope: string; governedAs: AnyResource['governedAs']; complete?: Partial<Record<string, Completer<Record<string, string>>>>; encode: boolean; label: string };
    if (ref.type === 'ref/resource') {
      const entry = catalogOf().resources.find((e) => e.resource.uriTemplate === ref.uri);
      if (!entry) throw new ProtocolError(ProtocolErrorCode.InvalidParams, `Resource template ${ref.uri} not found`);
      target = { ...entry.resource, encode: true, label: ref.uri };
    } else if (ref.type === 'ref/prompt') {
      const entry = catalogOf().prompts.byName.get(ref.name);
      if (!entry) throw new ProtocolError(ProtocolErrorCode.InvalidParams, `Prompt ${ref.name} not found`);
      target = { ...(entry.prompt as unknown as typeof target), encode: false, label: ref.name };
    } else {
      throw new ProtocolError(ProtocolErrorCode.InvalidParams, 'completion/complete: ref.type must be "ref/resource" or "ref/prompt"');
    }
    const completer = target.complete?.[argument.name];
    if (!completer) return { completion: { values: [], hasMore: false } };
    try {
      const values = await host.run(
        {
          surface: 'completion',
          name: target.name,
          engine: target.engine,
          scope: target.scope,
          resource: target.label,
          arguments: { argument: argument.name, value: argument.value },
          writes: false,
          parse: () => undefined,
          async work(_none, { engines, surface }) {
            const candidates = (await completer(argument.value, context, surface)).slice(0, MAX_COMPLETIONS);
            // Only values the caller could read: each candidate is checked as a read of it would be.
            const permitted = await Promise.all(
              candidates.map((value) => engines.governance.permits(target.governedAs.operation, principal, target.governedAs.input({ ...context, [argument.name]: value }))),
            );
            return candidates.filter((_, i) => permitted[i]);
          },
        },
        call(ctx as ServerContext),
      );
      return { completion: { values: target.encode ? values.map(encodeURIComponent) : values, total: values.length, hasMore: false } };
    } catch (error) {
      throw protocolError(error, 'completion');
    }
  });

  if (transport === 'stdio') {
    deliverChanges(host.events, server, era, subscribe ? (uri) => authorizeSubscription(host, catalogOf(), uri, { principal }) : undefined);
  }
  traceMcpRequests(server, transport, host.log);
}

/** Streamable HTTP's servers: one per request (2025 era, stateless) or per 2026-07-28 exchange. stdio's is createDeferredStdioServer. */
export function createMcpServerFactory(host: ServerHost, principalFor: (ctx: McpRequestContext) => Principal): McpServerFactoryWithCatalog {
  const catalogOf = lazyCatalog(host);
  const subscribable = host.resources.filter((resource) => resource.subscribable);

  const factory = (requestContext: McpRequestContext) => {
    const principal = principalFor(requestContext);
    const { era } = requestContext;
    // Changes reach a 2026-07-28 client through subscriptions/listen; a 2025 client over HTTP
    // is served stateless, with nothing to send them on.
    const notifies = era === 'modern';
    const subscribe = notifies && subscribable.some((resource) => hasScope(principal, resource.scope));
    const server = newMcpServer(subscribe, notifies);
    installHandlers(server, { host, catalogOf, principal, era, transport: 'http', subscribe });
    return server;
  };
  return Object.defineProperty(factory, 'catalog', { get: catalogOf, enumerable: true }) as McpServerFactoryWithCatalog;
}

export interface DeferredStdioServer {
  factory: McpServerFactory;
  /** Serves every server made (and every one made from now on) from this host, as this principal. */
  install(host: ServerHost, principal: Principal): void;
}

/**
 * stdio's server before the app exists: `initialize` needs only the server's identity and
 * capabilities, so it is answered at once, and the handlers are installed once the app is
 * built (the transport holds every other message until then: LineStdioTransport's `held`).
 * Subscriptions are offered whatever the principal's scopes, since they are not known yet;
 * authorizeSubscription refuses one the principal could not read, as for every other read.
 */
export function createDeferredStdioServer(): DeferredStdioServer {
  let installed: Omit<Connection, 'era'> | undefined;
  const waiting: { server: McpServer; era: McpRequestContext['era'] }[] = [];
  return {
    factory({ era }) {
      const server = newMcpServer(true, true);
      if (installed) installHandlers(server, { ...installed, era });
      else waiting.push({ server, era });
      return server;
    },
    install(host, principal) {
      installed = { host, catalogOf: lazyCatalog(host), principal, transport: 'stdio', subscribe: true };
      for (const { server, era } of waiting.splice(0)) installHandlers(server, { ...installed, era });
    },
  };
}
