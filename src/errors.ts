/*
 * Engine errors
 * =============
 * One table maps each error code to its HTTP status and JSON-RPC code, so every surface
 * (MCP tool results, REST, JSON-RPC) reports a failure the same way. Engines throw these;
 * anything else that escapes a handler is an internal error whose details stay in the logs.
 */

export const ERROR_CODES = {
  INVALID_INPUT: { http: 400, jsonRpc: -32602 },
  UNAUTHENTICATED: { http: 401, jsonRpc: -32001 },
  FORBIDDEN: { http: 403, jsonRpc: -32003 },
  NOT_FOUND: { http: 404, jsonRpc: -32004 },
  CONFLICT: { http: 409, jsonRpc: -32009 },
  TOO_LARGE: { http: 413, jsonRpc: -32013 },
  /** A rate limit refused this caller: wait Retry-After seconds. */
  BUSY: { http: 429, jsonRpc: -32029 },
  /** A bounded queue of the server is full (every caller is refused): retry after details.retryAfterSeconds. */
  QUEUE_FULL: { http: 503, jsonRpc: -32050 },
  UNAVAILABLE: { http: 503, jsonRpc: -32053 },
  INTERNAL: { http: 500, jsonRpc: -32603 },
} as const;

export type ErrorCode = keyof typeof ERROR_CODES;

export class EngineError extends Error {
  readonly code: ErrorCode;
  readonly details?: unknown;

  constructor(code: ErrorCode, message: string, details?: unknown) {
    super(message);
    this.name = 'EngineError';
    this.code = code;
    this.details = details;
  }
}

export const invalidInput = (message: string, details?: unknown) => new EngineError('INVALID_INPUT', message, details);
export const notFound = (message: string) => new EngineError('NOT_FOUND', message);
export const conflict = (message: string, details?: unknown) => new EngineError('CONFLICT', message, details);

export function isEngineError(error: unknown): error is EngineError {
  return error instanceof EngineError;
}

