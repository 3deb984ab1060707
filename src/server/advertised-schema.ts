/*
 * Advertised schemas
 * ==================
 * The SDK wants a Standard Schema with JSON conversion for each tool. This wrapper gives
 * it the zod schema's JSON Schema, converted once per process rather than once per
 * request (the HTTP transport builds a server per request), and leaves validation to
 * App.invoke so MCP, REST and JSON-RPC report bad input in the same words.
 */
import type { StandardSchemaWithJSON } from '@modelcontextprotocol/server';
import type { z } from 'zod';

type JsonSchemaOptions = { readonly target: string; readonly libraryOptions?: Record<string, unknown> | undefined };

export function advertisedSchema(schema: z.ZodType): StandardSchemaWithJSON {
  const standard = schema['~standard'] as unknown as StandardSchemaWithJSON['~standard'];
  const memo = new Map<string, Record<string, unknown>>();
  const convert = (io: 'input' | 'output') => (options: JsonSchemaOptions) => {
    const key = `${io}:${options.target}`;
    let json = memo.get(key);
    if (!json) {
      json = standard.jsonSchema[io](options as Parameters<StandardSchemaWithJSON['~standard']['jsonSchema']['input']>[0]);
      memo.set(key, json);
    }
    return json;
  };
  return {
    '~standard': {
      version: 1,
      vendor: 'mcp-level3',
      validate: (value: unknown) => ({ value }),
      jsonSchema: { input: convert('input'), output: convert('output') },
    },
  } as StandardSchemaWithJSON;
}
