/*
 * REST routes
 * ===========
 * One route per operation, derived from its declaration: `<base>/<engine>/<verb>`, GET with
 * query parameters for read-only operations, POST with a JSON body for the rest. The
 * response is the operation's output; errors are {error: {code, message, details?}}.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { refusedInvocation } from '../../invoke-pipeline.js';
import type { ServerHost } from '../host.js';
import { EngineError } from '../../errors.js';
import { operationJsonSchemas } from '../../surface/json-schema.js';
import type { AnyOperation, Principal } from '../../surface/operation.js';
import { JsonSyntaxError, parseJson, readBody } from '../http/body.js';
import { sendJson, withHttpStatus } from '../http/responses.js';
import { queryToInput } from './query-params.js';

export interface RestRoute {
  operation: AnyOperation;
  method: 'GET' | 'POST';
  path: string;
}

export const restMethod = (operation: AnyOperation): 'GET' | 'POST' => (operation.annotations.readOnlyHint ? 'GET' : 'POST');

export const restPath = (basePath: string, operation: AnyOperation) => `${basePath}/${operation.engine}/${operation.name.slice(operation.engine.length + 1)}`;

export function restRoutes(operations: readonly AnyOperation[], basePath: string): Map<string, RestRoute> {
  return new Map(
    operations.map((operation) => {
      const path = restPath(basePath, operation);
      return [path, { operation, method: restMethod(operation), path }];
    }),
  );
}

export interface RequestLimits {
  maxBodyBytes: number;
  maxJsonDepth: number;
}

/** The operation's input from the query string (GET) or the JSON body (POST). */
async function readInput(route: RestRoute, req: IncomingMessage, url: URL, limits: RequestLimits): Promise<unknown> {
  if (route.method === 'GET') return queryToInput(url.searchParams, operationJsonSchemas(route.operation).input);
  const body = await readBody(req, limits.maxBodyBytes);
  if (body.length === 0) return {};
  const type = req.headers['content-type'] ?? '';
  if (!/^application\/([a-z0-9.+-]*\+)?json\b/i.test(type)) {
    throw withHttpStatus(new EngineError('INVALID_INPUT', `send the input as a JSON object with Content-Type: application/json (got ${JSON.stringify(type || 'none')})`), 415);
  }
  try {
    return parseJson(body, limits.maxJsonDepth);
  } catch (error) {
    if (error instanceof JsonSyntaxError) throw new EngineError('INVALID_INPUT', error.message);
    throw error;
  }
}

/** Aborted when the client goes away before the answer is written. */
export function requestSignal(res: ServerResponse): AbortSignal {
  const controller = new AbortController();
  res.on('close', () => {
    if (!res.writableFinished) controller.abort();
  });
  return controller.signal;
}

export async function serveRest(app: ServerHost, route: RestRoute, req: IncomingMessage, res: ServerResponse, url: URL, principal: Principal, limits: RequestLimits): Promise<void> {
  const call = { principal, signal: requestSignal(res) };
  let input: unknown;
  try {
    input = await readInput(route, req, url, limits);
  } catch (error) {
    // Refused before validation, and audited all the same: the request reached the route.
    const reason = error instanceof Error ? error.message : String(error);
    return app.run(refusedInvocation(route.operation, error, { refused: reason, contentType: req.headers['content-type'] ?? null }), call);
  }
  const output = await app.invoke(route.operation, input, call);
  sendJson(res, 200, output);
}
