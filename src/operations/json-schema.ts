/*
 * JSON Schemas of an operation
 * ============================
 * The zod declarations converted to JSON Schema 2020-12 once per process. tools/list, the
 * pinned tool snapshots (and the OpenAPI document of the HTTP API) all read these.
 */
import { z } from 'zod';
import type { AnyOperation } from './operation.js';

export interface OperationJsonSchemas {
  input: Record<string, unknown>;
  output: Record<string, unknown>;
}

const memo = new WeakMap<AnyOperation, OperationJsonSchemas>();

export function operationJsonSchemas(operation: AnyOperation): OperationJsonSchemas {
  let schemas = memo.get(operation);
  if (!schemas) {
    schemas = {
      input: z.toJSONSchema(operation.input, { target: 'draft-2020-12', io: 'input' }) as Record<string, unknown>,
      output: z.toJSONSchema(operation.output, { target: 'draft-2020-12', io: 'output' }) as Record<string, unknown>,
    };
    memo.set(operation, schemas);
  }
  return schemas;
}
