/*
 * JSON responses in one shape
 * ===========================
 * Every error any HTTP route answers is {error: {code, message, details?}} with the status
 * from the one error table (errors.ts). Anything that is not an EngineError is reported as
 * INTERNAL with nothing of its message, stack or paths. On /mcp the same refusal (401, 403,
 * 413, 429, ...) is a JSON-RPC error response instead, {jsonrpc, id: null, error: {code,
 * message, data: {code}}}: MCP clients show a JSON-RPC error's message, while a body they
 * cannot read becomes a generic "internal error" (-32603) in some (the Python SDK).
 */
import type { ServerResponse } from 'node:http';
import { ERROR_CODES, isEngineError, type EngineError, type ErrorCode } from '../../errors.js';

export interface ErrorBody {
  error: { code: ErrorCode; message: string; details?: unknown };
}

export function errorBody(code: ErrorCode, message: string, details?: unknown): ErrorBody {
  return { error: { code, message, ...(details !== undefined ? { details } : {}) } };
}

/** An error answered with a status other than its code's (415 for a body that is not JSON). */
export function withHttpStatus<E extends EngineError>(error: E, status: number): E {
  return Object.assign(error, { httpStatus: status });
}

export function toErrorBody(error: unknown): { status: number; body: ErrorBody } {
  if (isEngineError(error)) {
    const status = (error as { httpStatus?: number }).httpStatus ?? ERROR_CODES[error.code].http;
    return { status, body: errorBody(error.code, error.message, error.details) };
  }
  return { status: 500, body: errorBody('INTERNAL', 'internal error; the server log has the details') };
}

export function sendJson(res: ServerResponse, status: number, body: unknown, headers: Record<string, string | string[]> = {}): void {
  if (res.headersSent) {
    res.end();
    return;
  }
  const payload = JSON.stringify(body);
  res.writeHead(status, { ...headers, 'content-type': 'application/json; charset=utf-8', 'content-length': Buffer.byteLength(payload), 'cache-control': 'no-store' });
  res.end(payload);
}

/** Retry-After from an error that says when to retry (details.retryAfterSeconds: a full queue). */
function retryAfter(error: unknown): Record<string, string> {
  const seconds = isEngineError(error) ? (error.details as { retryAfterSeconds?: unknown } | undefined)?.retryAfterSeconds : undefined;
  return typeof seconds === 'number' && seconds > 0 ? { 'retry-after': String(Math.ceil(seconds)) } : {};
}

export function sendError(res: ServerResponse, error: unknown, headers: Record<string, string | string[]> = {}): void {
  const { status, body } = toErrorBody(error);
  if (isMcpPath(res.req?.url)) {
    const { code, message } = body.error;
    sendJson(res, status, { jsonrpc: '2.0', id: null, error: { code: ERROR_CODES[code].jsonRpc, message, data: { code } } }, { ...retryAfter(error), ...headers });
    return;
  }
  sendJson(res, status, body, { ...retryAfter(error), ...headers });
}

function isMcpPath(url: string | undefined): boolean {
  if (!url) return false;
  const path = url.split('?')[0]!;
  return path === '/mcp' || path === '/mcp/';
}
