/*
 * OpenAPI 3.1 document
 * ====================
 * Built from the operation declarations the server was started with (so --toolsets and
 * --read-only shape it too): one path per operation, operationId = operation name,
 * parameters and bodies from the same JSON Schemas as tools/list, and the JSON-RPC
 * endpoint. Schemas local to an operation ($defs) are moved to components, since a
 * `#/$defs/...` reference means nothing once the schema sits inside this document.
 */
import { ERROR_CODES } from '../../errors.js';
import { operationJsonSchemas } from '../../surface/json-schema.js';
import type { AnyOperation } from '../../surface/operation.js';
import type { Authenticator, AuthRequirement } from '../auth/authenticator.js';
import { restMethod, restPath } from './rest.js';

type Json = Record<string, unknown>;

export interface OpenApiOptions {
  operations: readonly AnyOperation[];
  basePath: string;
  rest: boolean;
  jsonRpc: boolean;
  version: string;
  auth: Authenticator['methods'] & { requirement: AuthRequirement };
}

const ERROR_STATUSES: Record<string, string> = {
  '400': 'The input is invalid; the message names the field and what was expected.',
  '401': 'Credentials are missing or were refused (see WWW-Authenticate).',
  '403': 'The principal lacks the scope this operation needs, or the Host/Origin is not allowed.',
  '404': 'No such route, or the thing asked for does not exist.',
  '405': 'The route exists but not with this method (see Allow).',
  '409': 'The request conflicts with what is stored.',
  '413': 'The request body or content is too large.',
  '415': 'The body is not JSON.',
  '429': 'Too many requests; wait Retry-After seconds.',
  '500': 'Unexpected failure; the server log has the details under the reference in the message.',
  '503': 'Storage, or the OAuth2 issuer, cannot be reached right now (UNAVAILABLE), or a queue is full (QUEUE_FULL, with Retry-After); retry.',
};

const COMPLEX = new Set(['object', 'array']);

/** Strips `$schema` and moves `$defs` into `defs` under prefixed names, rewriting references. */
function embed(schema: Json, prefix: string, defs: Json): Json {
  const rename = (name: string) => `${prefix}_${name}`;
  const walk = (node: unknown): unknown => {
    if (Array.isArray(node)) return node.map(walk);
    if (!node || typeof node !== 'object') return node;
    const out: Json = {};
    for (const [key, value] of Object.entries(node as Json)) {
      if (key === '$schema') continue;
      if (key === '$defs' && value && typeof value === 'object') {
        for (const [name, def] of Object.entries(value as Json)) defs[rename(name)] = walk(def);
        continue;
      }
      if (key === '$ref' && typeof value === 'string' && value.startsWith('#/$defs/')) {
        out[key] = `#/components/schemas/${rename(value.slice('#/$defs/'.length))}`;
        continue;
      }
      out[key] = walk(value);
    }
    return out;
  };
  return walk(schema) as Json;
}

function isSimpleParameter(schema: Json): boolean {
  const type = schema.type;
  if (typeof type !== 'string') return false;
  if (type === 'object') return false;
  if (type === 'array') {
    const items = (schema.items ?? {}) as Json;
    return typeof items.type === 'string' && !COMPLEX.has(items.type);
  }
  return true;
}

function errorResponses(statuses: string[]): Json {
  return Object.fromEntries(
    statuses.map((status) => [status, { description: ERROR_STATUSES[status], content: { 'application/json': { schema: { $ref: '#/components/schemas/Error' } } } }]),
  );
}

export function buildOpenApiDocument(options: OpenApiOptions): Json {
  const schemas: Json = {
    Error: {
      type: 'object',
      required: ['error'],
      properties: {
        error: {
          type: 'object',
          required: ['code', 'message'],
          properties: {
            code: { type: 'string', enum: Object.keys(ERROR_CODES), description: 'Stable error code.' },
            message: { type: 'string', description: 'What went wrong and what to change.' },
            details: { description: 'Structured details, when there are any.' },
          },
        },
      },
    },
  };
  const securitySchemes: Json = {};
  const { auth } = options;
  if (auth.apiKey) securitySchemes.apiKey = { type: 'apiKey', in: 'header', name: auth.apiKey.header, description: 'A key from `mcp-level3 apikey create`.' };
  if (auth.jwt || auth.oauth2) {
    securitySchemes.bearer = { type: 'http', scheme: 'bearer', bearerFormat: 'JWT', description: 'An HS256 JWT or an OAuth2 access token; scopes in the "scope" claim.' };
  }
  // `when-keys-exist`: credentials are optional (the empty requirement) until a key is made.
  const schemes = Object.keys(securitySchemes).map((name) => ({ [name]: [] }));
  const security = auth.requirement === 'always' ? schemes : auth.requirement === 'when-keys-exist' ? [...schemes, {}] : undefined;
  const mayRefuse = auth.requirement !== 'never';
  const authStatuses = mayRefuse ? ['401', '403', '429'] : ['403'];

  const paths: Json = {};
  if (options.rest) {
    for (const operation of options.operations) {
      const { input, output } = operationJsonSchemas(operation);
      const inputSchema = embed(input, operation.name, schemas);
      const method = restMethod(operation).toLowerCase();
      const entry: Json = {
        operationId: operation.name,
        summary: operation.title,
        description: `${operation.description}\n\nScope: \`${operation.scope}\`.`,
        tags: [operation.engine],
        'x-scope': operation.scope,
        'x-mcp-annotations': operation.annotations,
        ...(security ? { security } : {}),
        responses: {
          '200': { description: 'The operation\'s result.', content: { 'application/json': { schema: embed(output, `${operation.name}_output`, schemas) } } },
          ...errorResponses(['400', ...authStatuses, '404', '405', '409', '413', ...(method === 'post' ? ['415'] : []), '500', '503']),
        },
      };
      if (method === 'get') {
        const properties = (inputSchema.properties ?? {}) as Record<string, Json>;
        const required = new Set((inputSchema.required ?? []) as string[]);
        entry.parameters = Object.entries(properties).map(([name, schema]) => {
          const { description, ...rest } = schema;
          return {
            name,
            in: 'query',
            required: required.has(name),
            ...(description ? { description } : {}),
            ...(isSimpleParameter(rest) ? { schema: rest } : { content: { 'application/json': { schema: rest } } }),
          };
        });
      } else {
        entry.requestBody = { required: true, content: { 'application/json': { schema: inputSchema } } };
      }
      paths[restPath(options.basePath, operation)] = { [method]: entry };
    }
  }

  if (options.jsonRpc) {
    const request = {
      type: 'object',
      required: ['jsonrpc', 'method'],
      properties: {
        jsonrpc: { const: '2.0' },
        id: { type: ['string', 'number', 'null'], description: 'Absent for a notification (no response).' },
        method: { type: 'string', enum: options.operations.map((op) => op.name), description: 'An operation name.' },
        params: { type: 'object', description: 'The operation\'s input, by name.' },
      },
    };
    const response = {
      type: 'object',
      required: ['jsonrpc', 'id'],
      properties: {
        jsonrpc: { const: '2.0' },
        id: { type: ['string', 'number', 'null'] },
        result: { description: 'The operation\'s result.' },
        error: {
          type: 'object',
          required: ['code', 'message'],
          properties: { code: { type: 'integer' }, message: { type: 'string' }, data: { description: '{code, details?}: the error code of the REST API.' } },
        },
      },
    };
    schemas.JsonRpcRequest = request;
    schemas.JsonRpcResponse = response;
    paths[`${options.basePath}/rpc`] = {
      post: {
        operationId: 'jsonrpc',
        summary: 'JSON-RPC 2.0',
        description: 'Every operation as a JSON-RPC 2.0 method (params by name). Batches of up to 100 calls run in order; notifications get no response.',
        tags: ['json-rpc'],
        ...(security ? { security } : {}),
        requestBody: {
          required: true,
          content: {
            'application/json': {
              schema: { oneOf: [{ $ref: '#/components/schemas/JsonRpcRequest' }, { type: 'array', items: { $ref: '#/components/schemas/JsonRpcRequest' } }] },
            },
          },
        },
        responses: {
          '200': {
            description: 'The response, or the batch of responses.',
            content: {
              'application/json': {
                schema: { oneOf: [{ $ref: '#/components/schemas/JsonRpcResponse' }, { type: 'array', items: { $ref: '#/components/schemas/JsonRpcResponse' } }] },
              },
            },
          },
          '204': { description: 'Only notifications were sent: nothing to answer.' },
          '400': {
            description: 'Not JSON (-32700), or not a JSON-RPC request or batch (-32600).',
            content: { 'application/json': { schema: { $ref: '#/components/schemas/JsonRpcResponse' } } },
          },
          ...errorResponses([...(mayRefuse ? ['401', '429'] : []), '403', '405', '413', '415', '500']),
        },
      },
    };
  }

  return {
    openapi: '3.1.0',
    info: {
      title: 'mcp-level3 API',
      version: options.version,
      description: 'The operations of the mcp-level3 MCP server as REST routes and JSON-RPC methods, generated from the same declarations as the MCP tools. Errors are {error: {code, message, details?}}.',
    },
    servers: [{ url: '/' }],
    tags: [...new Set(options.operations.map((op) => op.engine))].map((name) => ({ name })),
    paths,
    components: { schemas, ...(Object.keys(securitySchemes).length > 0 ? { securitySchemes } : {}) },
  };
}
