/*
 * JSON Schemas of an operation
 * ============================
 * The zod declarations converted to JSON Schema 2020-12 once per process. tools/list, the
 * pinned tool snapshots (and the OpenAPI document of the HTTP API) all read these.
 *
 * Agents pay for every token of tools/list, so two things zod emits that say nothing are
 * dropped: the `$schema` URL (2020-12 is MCP's default dialect) and the ±2^53 bounds every
 * `.int()` carries.
 */
import { z } from 'zod';
import type { AnyOperation } from './operation.js';

export interface OperationJsonSchemas {
  input: Record<string, unknown>;
  output: Record<string, unknown>;
}

const memo = new WeakMap<AnyOperation, OperationJsonSchemas>();

function convert(schema: z.ZodType, io: 'input' | 'output'): Record<string, unknown> {
  const json = z.toJSONSchema(schema, {
    target: 'draft-2020-12',
    io,
    override: ({ jsonSchema }) => {
      if (jsonSchema.minimum === Number.MIN_SAFE_INTEGER) delete jsonSchema.minimum;
      if (jsonSchema.maximum === Number.MAX_SAFE_INTEGER) delete jsonSchema.maximum;
    },
  }) as Record<string, unknown>;
  delete json.$schema;
  return json;
}

export function operationJsonSchemas(operation: AnyOperation): OperationJsonSchemas {
  let schemas = memo.get(operation);
  if (!schemas) {
    schemas = {
      input: convert(operation.input, 'input'),
      output: convert(operation.output, 'output'),
    };
    memo.set(operation, schemas);
  }
  return schemas;
}
