/*
 * JSON Schemas of an operation
 * ============================
 * The zod declarations converted to JSON Schema 2020-12 once per process. tools/list, the
 * pinned tool snapshots (and the OpenAPI document of the HTTP API) all read these.
 *
 * Agents pay for every token of tools/list, so what zod emits that says nothing to a client
 * is dropped: the `$schema` URL (2020-12 is MCP's default dialect), the ±2^53 bounds every
 * `.int()` carries, and in outputs `additionalProperties: false` (a result may gain fields in
 * a later version, which a client validating structuredContent must not refuse; about 340
 * tokens over the whole list).
 *
 * Portable for clients that take only the OpenAPI subset of JSON Schema (Gemini-based and some
 * IDE agents drop or refuse the rest): no type arrays anywhere (["string", "null"] becomes an
 * anyOf of single types), and in inputs every value has a type: free-form JSON (a DAG
 * definition, a value to validate) is declared an object, and a JSON Schema document (an
 * object or a boolean) an object. The zod schemas still accept what they did; the declared
 * type is what a client is told to send.
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
  tidy(json, io);
  if (io === 'input') typeInputProperties(json);
  return json;
}

const COMPOSED = ['anyOf', 'oneOf', 'allOf', '$ref', 'enum', 'const', 'not'];

const isEmpty = (value: unknown) => value !== null && typeof value === 'object' && !Array.isArray(value) && Object.keys(value).length === 0;

/**
 * Type arrays (zod writes them for unions of primitives, after override runs) become anyOf.
 * What says nothing is dropped: `propertyNames: {type: "string"}` (JSON keys are strings) and
 * an empty `additionalProperties` (any value is the default), which strict checkers also flag
 * as a schema that constrains nothing; in outputs, `additionalProperties: false` too.
 */
function tidy(node: unknown, io: 'input' | 'output'): void {
  if (node === null || typeof node !== 'object') return;
  if (Array.isArray(node)) return node.forEach((item) => tidy(item, io));
  const record = node as Record<string, unknown>;
  if (Array.isArray(record.type)) {
    const types = record.type as string[];
    delete record.type;
    record.anyOf = types.map((type) => ({ type }));
  }
  const names = record.propertyNames as Record<string, unknown> | undefined;
  if (names && Object.keys(names).length === 1 && names.type === 'string') delete record.propertyNames;
  if (isEmpty(record.additionalProperties) || (io === 'output' && record.additionalProperties === false)) delete record.additionalProperties;
  for (const value of Object.values(record)) tidy(value, io);
}

/** Every property of an input (at any depth of declared objects and arrays) gets one type. */
function typeInputProperties(schema: Record<string, unknown>): void {
  const properties = schema.properties as Record<string, Record<string, unknown>> | undefined;
  for (const property of Object.values(properties ?? {})) {
    if (property.type === undefined) {
      const anyOf = property.anyOf as Record<string, unknown>[] | undefined;
      const objectBranch = anyOf?.find((branch) => branch.type === 'object');
      if (anyOf && objectBranch && anyOf.every((branch) => branch === objectBranch || branch.type === 'boolean')) {
        // A JSON Schema document: an object (true and false are {} and {"not": {}}).
        delete property.anyOf;
        Object.assign(property, objectBranch);
      } else if (!COMPOSED.some((key) => key in property)) {
        property.type = 'object'; // free-form JSON
      }
    }
    typeInputProperties(property);
    if (property.items && typeof property.items === 'object') typeInputProperties(property.items as Record<string, unknown>);
  }
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
