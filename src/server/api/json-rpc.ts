/*
 * JSON-RPC 2.0
 * ============
 * Every operation is a method of the same name, params by name. Batches (up to
 * MAX_BATCH calls) run in order, each call counted against the caller's rate limit (a call
 * over it gets the rate-limit error in its place); notifications (no id) run and get no
 * response. Errors use
 * the standard codes (-32700 parse, -32600 invalid request, -32601 unknown method, -32602
 * invalid params) and, for failures of the operation itself, the error table's code with
 * `data: {code, details?}` carrying the REST API's error code.
 */
import type { ServerHost } from '../host.js';
import { ERROR_CODES, invalidInput, isEngineError, type EngineError } from '../../errors.js';
import { refusedInvocation } from '../../invoke-pipeline.js';
import type { AnyOperation, Principal } from '../../surface/operation.js';

export const MAX_BATCH = 100;

type Id = string | number | null;

interface RpcError {
  code: number;
  message: string;
  data?: unknown;
}

export type RpcResponse = { jsonrpc: '2.0'; id: Id; result: unknown } | { jsonrpc: '2.0'; id: Id; error: RpcError };

const failure = (id: Id, code: number, message: string, data?: unknown): RpcResponse => ({
  jsonrpc: '2.0',
  id,
  error: { code, message, ...(data !== undefined ? { data } : {}) },
});

export const parseError = (message: string): RpcResponse => failure(null, -32700, `Parse error: ${message}`);
export const invalidRequest = (message: string): RpcResponse => failure(null, -32600, `Invalid Request: ${message}`);

function validId(id: unknown): id is Id {
  return id === null || typeof id === 'string' || (typeof id === 'number' && Number.isFinite(id));
}

/** The error response for a batch entry that was not run; none for a notification. */
function refused(entry: unknown, error: EngineError): RpcResponse | undefined {
  const request = entry && typeof entry === 'object' && !Array.isArray(entry) ? (entry as Record<string, unknown>) : undefined;
  if (request && !Object.hasOwn(request, 'id')) return undefined;
  const id = request && validId(request.id) ? request.id : null;
  return failure(id, ERROR_CODES[error.code].jsonRpc, error.message, { code: error.code, ...(error.details !== undefined ? { details: error.details } : {}) });
}

export interface RpcCall {
  principal: Principal;
  signal: AbortSignal;
  /**
   * Counts one more call of a batch against the caller's rate limit (the request itself paid
   * for the first); resolves to the error to answer instead when it is over the limit.
   */
  charge?: () => Promise<EngineError | undefined>;
}

export class JsonRpcEndpoint {
  private readonly methods: Map<string, AnyOperation>;

  constructor(
    private readonly app: ServerHost,
    operations: readonly AnyOperation[],
  ) {
    this.methods = new Map(operations.map((op) => [op.name, op]));
  }

  /** The response body for a parsed request or batch; undefined when nothing is to be answered. */
  async handle(message: unknown, call: RpcCall): Promise<RpcResponse | RpcResponse[] | undefined> {
    if (!Array.isArray(message)) return this.one(message, call);
    if (message.length === 0) return invalidRequest('an empty batch; send at least one request');
    if (message.length > MAX_BATCH) return invalidRequest(`a batch of ${message.length} requests; send at most ${MAX_BATCH} per batch`);
    const responses: RpcResponse[] = [];
    for (const [index, entry] of message.entries()) {
      if (call.signal.aborted) break;
      // A batch costs its calls: each after the first is counted, and answered with the
      // rate-limit error (not run) once over the limit.
      const refusal = index > 0 && call.charge ? await call.charge() : undefined;
      const response = refusal ? refused(entry, refusal) : await this.one(entry, call);
      if (response) responses.push(response);
    }
    return responses.length > 0 ? responses : undefined;
  }

  private async one(message: unknown, call: RpcCall): Promise<RpcResponse | undefined> {
    if (!message || typeof message !== 'object' || Array.isArray(message)) return invalidRequest('expected an object {"jsonrpc": "2.0", "method", "params", "id"}');
    const request = message as Record<string, unknown>;
    const hasId = Object.hasOwn(request, 'id');
    const id = hasId && validId(request.id) ? request.id : null;
    if (hasId && !validId(request.id)) return failure(null, -32600, 'Invalid Request: id must be a string, a number or null');
    if (request.jsonrpc !== '2.0') return failure(id, -32600, 'Invalid Request: "jsonrpc" must be "2.0"');
    if (typeof request.method !== 'string') return failure(id, -32600, 'Invalid Request: "method" must be a string naming an operation');
    const respond = (response: RpcResponse) => (hasId ? response : undefined);

    const operation = this.methods.get(request.method);
    if (!operation) {
      return respond(failure(id, -32601, `Method not found: ${JSON.stringify(request.method.slice(0, 100))}; GET /api/docs/openapi.json lists the operations of this server`));
    }
    const params = request.params;
    if (params !== undefined && (params === null || typeof params !== 'object' || Array.isArray(params))) {
      const message = `Invalid params: params must be an object naming ${operation.name}'s inputs, not ${Array.isArray(params) ? 'an array' : JSON.stringify(params)}`;
      // Refused before validation, and audited all the same: the call named an operation.
      await this.app.run(refusedInvocation(operation, invalidInput(message), { refused: 'params is not an object' }), call).catch(() => undefined);
      return respond(failure(id, -32602, message));
    }
    try {
      const result = await this.app.invoke(operation, params ?? {}, call);
      return respond({ jsonrpc: '2.0', id, result });
    } catch (error) {
      if (isEngineError(error)) {
        const data = { code: error.code, ...(error.details !== undefined ? { details: error.details } : {}) };
        return respond(failure(id, ERROR_CODES[error.code].jsonRpc, error.message, data));
      }
      return respond(failure(id, -32603, 'internal error; the server log has the details', { code: 'INTERNAL' }));
    }
  }
}
