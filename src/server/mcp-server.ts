/*
 * MCP surface
 * ===========
 * A factory building one McpServer from the operation registry: one tool per operation,
 * plus resources and prompts. Both transports use it: stdio once per connection,
 * streamable HTTP once per request. So the per-request part is constant-time: the tool
 * catalog (names, JSON Schemas, annotations) is built once per process, and tools/list and
 * tools/call are served from it by two request handlers instead of registering every tool
 * on every request. Operation failures become tool results with isError and a message that
 * says what to change; unknown tools and malformed requests stay protocol errors.
 */
import {
  McpServer,
  ProtocolError,
  ProtocolErrorCode,
  ResourceTemplate,
  type CallToolResult,
  type McpRequestContext,
  type McpServerFactory,
  type ServerContext,
  type Tool,
} from '@modelcontextprotocol/server';
import { z } from 'zod';
import { hasScope, type App } from '../app.js';
import { resultContent } from '../operations/result-text.js';
import { EngineError } from '../errors.js';
import type { AnyOperation, Principal, SampleModel } from '../operations/operation.js';
import { ragQuery } from '../operations/rag.js';
import { deliverChanges } from './change-notifications.js';
import { assertSubscribable, registerDagSurface } from './dag-surface.js';
import { dagStatus } from '../operations/dag.js';
import { decodeVariable, enginesFor } from './resource-access.js';
import { artifactUri, encodeContent, registryGet } from '../operations/registry.js';
import { VERSION } from '../package-info.js';
import { operationJsonSchemas } from '../operations/json-schema.js';
import { registerPromotionSurface, registerTaxonomySurface } from './governance-surface.js';
import { traceMcpRequests, type McpTransportKind } from './mcp-tracing.js';

const INSTRUCTIONS = `mcp-level3 exposes platform engines as tools named <engine>_<verb>.
rag_*: ingest documents into collections and retrieve cited passages (hybrid BM25 + vectors by default); the rag_answer prompt answers from them.
registry_*: immutable, versioned artifacts ("namespace/name" + semver); validation_*: JSON Schema 2020-12 registry and validation.
dag_*: durable workflows whose nodes call these tools; dag_run with wait reports progress; execution_status shows the executor.
governance_*: CEL policies and the verifiable audit log; taxonomy_*: artifact-kind ontology; promotion_*: gated, four-eyes promotion dev → staging → prod.
Errors come back as tool results with isError and say what to change.`;

// Built once: zod schemas are costly to construct, and the factory runs per HTTP request.
const REVIEW_ARGS = z.object({
  name: z.string().describe('Artifact name, "namespace/name".'),
  version: z.string().describe('Version to review.'),
});
const ANSWER_ARGS = z.object({
  collection: z.string().describe('Collection to answer from.'),
  question: z.string().describe('The question.'),
});
const ANSWER_CONTEXT_CHUNKS = 8;

interface CatalogEntry {
  operation: AnyOperation;
  listed: Tool;
}

function buildCatalog(operations: readonly AnyOperation[]): { list: Tool[]; byName: Map<string, CatalogEntry> } {
  const entries = operations.map((operation): CatalogEntry => {
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
      },
    };
  });
  return { list: entries.map((e) => e.listed), byName: new Map(entries.map((e) => [e.operation.name, e])) };
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

export function createMcpServerFactory(
  app: App,
  principalFor: (ctx: McpRequestContext) => Principal,
  transport: McpTransportKind = 'http',
): McpServerFactory {
  const catalog = buildCatalog(app.operations);
  const hasRegistry = app.operations.some((op) => op.engine === 'registry');
  const hasRag = app.operations.some((op) => op.engine === 'rag');
  const hasDag = app.operations.some((op) => op.engine === 'dag');
  const hasTaxonomy = app.operations.some((op) => op.engine === 'taxonomy');
  const hasPromotion = app.operations.some((op) => op.engine === 'promotion');

  return (requestContext) => {
    const principal = principalFor(requestContext);
    const { era } = requestContext;
    // Changes reach a 2026-07-28 client through subscriptions/listen (HTTP or stdio) and a
    // 2025 client only on stdio: 2025 HTTP is served stateless, with nothing to send them on.
    const stdio = transport === 'stdio';
    const notifies = era === 'modern' || stdio;
    const subscribe = notifies && hasDag && hasScope(principal, dagStatus.scope);
    const server = new McpServer(
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

    server.server.setRequestHandler('tools/list', () => ({ tools: catalog.list }));
    server.server.setRequestHandler('tools/call', async (request, ctx) => {
      const entry = catalog.byName.get(request.params.name);
      if (!entry) throw new ProtocolError(ProtocolErrorCode.InvalidParams, `Tool ${request.params.name} not found`);
      let result: CallToolResult;
      try {
        const output = (await app.invoke(entry.operation, request.params.arguments, {
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

    if (hasRegistry) {
      const readArtifact = async (name: string, version: string) =>
        (await enginesFor(app, principal, registryGet.scope, 'artifacts')).registry.getVersion(name, version);

      server.registerResource(
        'registry-artifact',
        new ResourceTemplate('registry://artifacts/{name}/{version}', {
          list: async () => {
            if (!hasScope(principal, registryGet.scope)) return { resources: [] };
            const { engines } = await app.services();
            const page = await engines.registry.list({ limit: 100 });
            return {
              resources: page.artifacts.map((a) => ({
                uri: artifactUri(a.name, a.version),
                name: `${a.name}@${a.version}`,
                mimeType: a.mediaType,
                size: a.size,
              })),
            };
          },
          complete: {
            name: async (value) => (await app.services()).engines.registry.names(decodeVariable(value)).then((names) => names.map(encodeURIComponent)),
            version: async (value, context) => {
              const name = decodeVariable(context?.arguments?.name);
              return name ? (await app.services()).engines.registry.versions(name, value) : [];
            },
          },
        }),
        { title: 'Registry artifact', description: 'Content of one artifact version; name is URL-encoded ("acme%2Fmodel").' },
        async (uri, variables) => {
          const artifact = await readArtifact(decodeVariable(variables.name), decodeVariable(variables.version));
          const encoded = encodeContent(artifact.mediaType, artifact.content);
          return {
            contents: [
              encoded.encoding === 'utf8'
                ? { uri: uri.href, mimeType: artifact.mediaType, text: encoded.content }
                : { uri: uri.href, mimeType: artifact.mediaType, blob: encoded.content },
            ],
          };
        },
      );

      server.registerPrompt(
        'registry_review',
        {
          title: 'Review an artifact version',
          description: 'Messages that put one artifact version (metadata and content) in front of the model for a release review.',
          argsSchema: REVIEW_ARGS,
        },
        async ({ name, version }) => {
          const artifact = (await app.invoke(registryGet, { name, version }, { principal })) as z.output<typeof registryGet.output>;
          const { content, encoding, ...meta } = artifact;
          const body =
            content === undefined
              ? `(content not inline: ${artifact.size} bytes; read ${artifact.contentUri})`
              : encoding === 'utf8'
                ? content
                : `(binary content, ${artifact.size} bytes; read ${artifact.contentUri})`;
          return {
            description: `Review of ${name}@${version}`,
            messages: [
              {
                role: 'user' as const,
                content: {
                  type: 'text' as const,
                  text: `Review artifact ${name}@${version} before it is promoted. Check the metadata and content for errors, missing information and risks, and finish with a recommendation: promote, or fix first (say what).\n\nMetadata:\n${JSON.stringify(meta, null, 2)}\n\nContent (${artifact.mediaType}):\n${body}`,
                },
              },
            ],
          };
        },
      );
    }
    if (hasRag) registerRagSurface(app, server, principal);
    if (hasDag) registerDagSurface(app, server, principal);
    if (stdio) deliverChanges(app, server, era, subscribe ? (uri) => assertSubscribable(app, principal, uri) : undefined);
    if (hasTaxonomy) registerTaxonomySurface(app, server, principal);
    if (hasPromotion) registerPromotionSurface(app, server, principal);
    traceMcpRequests(server, transport, app.log);
    return server;
  };
}

function registerRagSurface(app: App, server: McpServer, principal: Principal): void {
  const rag = async () => (await enginesFor(app, principal, ragQuery.scope, 'collections')).rag;
  const collectionNames = async (prefix: string) =>
    (await (await rag()).collections()).map((c) => c.name).filter((name) => name.startsWith(prefix));

  server.registerResource(
    'rag-collection',
    new ResourceTemplate('rag://collections/{name}', {
      list: async () => ({
        resources: hasScope(principal, ragQuery.scope)
          ? (await (await rag()).collections()).map((c) => ({ uri: `rag://collections/${c.name}`, name: c.name, mimeType: 'application/json' }))
          : [],
      }),
      complete: { name: (value) => collectionNames(value) },
    }),
    { title: 'RAG collection', description: 'A collection: counts, embedder, creation time.' },
    async (uri, variables) => {
      const name = decodeVariable(variables.name);
      const found = (await (await rag()).collections()).find((c) => c.name === name);
      if (!found) throw new EngineError('NOT_FOUND', `no collection "${name}"`);
      return { contents: [{ uri: uri.href, mimeType: 'application/json', text: JSON.stringify(found) }] };
    },
  );

  server.registerResource(
    'rag-communities',
    new ResourceTemplate('rag://collections/{name}/communities', { list: undefined, complete: { name: (value) => collectionNames(value) } }),
    {
      title: 'RAG graph communities',
      description: "GraphRAG's global view: Louvain communities of a collection's entity graph, with central entities and an extractive summary.",
    },
    async (uri, variables) => {
      const communities = await (await rag()).communities(decodeVariable(variables.name));
      return { contents: [{ uri: uri.href, mimeType: 'application/json', text: JSON.stringify({ communities }) }] };
    },
  );

  server.registerResource(
    'rag-document',
    new ResourceTemplate('rag://documents/{collection}/{id}', {
      list: undefined,
      complete: {
        collection: (value) => collectionNames(value),
        id: async (value, context) => {
          const collection = decodeVariable(context?.arguments?.collection);
          return collection ? (await (await rag()).documentIds(collection, decodeVariable(value))).map(encodeURIComponent) : [];
        },
      },
    }),
    { title: 'RAG document', description: 'The full text of an ingested document; id is URL-encoded.' },
    async (uri, variables) => {
      const doc = await (await rag()).document(decodeVariable(variables.collection), decodeVariable(variables.id));
      return { contents: [{ uri: uri.href, mimeType: doc.mimeType, text: doc.text }] };
    },
  );

  server.registerPrompt(
    'rag_answer',
    {
      title: 'Answer from a collection',
      description: 'Retrieves context for the question and asks the model to answer only from it, citing [n].',
      argsSchema: ANSWER_ARGS,
    },
    async ({ collection, question }) => {
      const { hits } = (await app.invoke(ragQuery, { collection, query: question, topK: ANSWER_CONTEXT_CHUNKS }, { principal })) as z.output<typeof ragQuery.output>;
      const context = hits
        .map((hit, i) => `[${i + 1}] ${hit.citation.title ?? hit.documentId} (document ${hit.documentId}, characters ${hit.citation.start}-${hit.citation.end})\n${hit.text}`)
        .join('\n\n');
      return {
        description: `Answer from "${collection}" with ${hits.length} retrieved passages`,
        messages: [
          {
            role: 'user' as const,
            content: {
              type: 'text' as const,
              text:
                `Answer the question using only the numbered passages below. Cite the passages you use as [n]. ` +
                `If the passages do not contain the answer, say that they do not, and do not guess.\n\n` +
                `Passages:\n${context || '(nothing relevant was found)'}\n\nQuestion: ${question}`,
            },
          },
        ],
      };
    },
  );
}
