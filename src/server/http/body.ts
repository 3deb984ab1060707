/*
 * Request bodies
 * ==============
 * Reads a body up to a byte limit (413 past it, checked on Content-Length before reading)
 * and parses it as JSON no deeper than a nesting limit. The depth is checked on the raw
 * bytes before parsing, so a deeply nested body never reaches code that recurses over it.
 */
import type { IncomingMessage } from 'node:http';
import { EngineError } from '../../errors.js';

/** A body that is not JSON: JSON-RPC's -32700, REST's 400. */
export class JsonSyntaxError extends Error {}

export async function readBody(req: IncomingMessage, limit: number): Promise<Buffer> {
  const declared = Number(req.headers['content-length']);
  const tooLarge = () => new EngineError('TOO_LARGE', `the request body is larger than ${limit} bytes; send less (security.max_body_bytes sets the limit)`);
  if (Number.isFinite(declared) && declared > limit) {
    req.resume(); // drain, so the connection can answer
    throw tooLarge();
  }
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > limit) {
      req.resume();
      throw tooLarge();
    }
    chunks.push(chunk);
  }
  return Buffer.concat(chunks, size);
}

/** The deepest nesting of arrays and objects in JSON text, counted outside strings. */
export function jsonDepth(bytes: Uint8Array, stopAbove = Infinity): number {
  let depth = 0;
  let deepest = 0;
  let inString = false;
  for (let i = 0; i < bytes.length; i++) {
    const c = bytes[i];
    if (inString) {
      if (c === 0x5c) i++; // skip the escaped character
      else if (c === 0x22) inString = false;
    } else if (c === 0x22) inString = true;
    else if (c === 0x7b || c === 0x5b) {
      depth++;
      if (depth > deepest) {
        deepest = depth;
        if (deepest > stopAbove) return deepest;
      }
    } else if (c === 0x7d || c === 0x5d) depth--;
  }
  return deepest;
}

export function parseJson(bytes: Buffer, maxDepth: number): unknown {
  if (jsonDepth(bytes, maxDepth) > maxDepth) {
    throw new EngineError('INVALID_INPUT', `the JSON body nests arrays and objects deeper than ${maxDepth} levels; flatten it (security.max_json_depth sets the limit)`);
  }
  try {
    return JSON.parse(bytes.toString('utf8'));
  } catch (error) {
    throw new JsonSyntaxError(`the body is not valid JSON: ${(error as Error).message}`);
  }
}
