/*
 * Static checks on the operation registry: what every agent sees in tools/list.
 */
import { describe, expect, it } from 'vitest';
import { ALL_OPERATIONS, parseToolsets, selectOperations } from '../../tools/index.js';
import { operationJsonSchemas } from '../../src/surface/json-schema.js';
import { ENGINE_IDS } from '../../src/surface/operation.js';

type JsonSchema = { type?: string | string[]; description?: string; properties?: Record<string, JsonSchema>; items?: JsonSchema; anyOf?: JsonSchema[] };

function undescribed(schema: JsonSchema, path: string): string[] {
  const missing: string[] = [];
  for (const [key, child] of Object.entries(schema.properties ?? {})) {
    const at = `${path}.${key}`;
    if (!child.description) missing.push(at);
    missing.push(...undescribed(child, at));
    if (child.items) missing.push(...undescribed(child.items, `${at}[]`));
  }
  return missing;
}

describe('operation registry', () => {
  it('names every operation <engine>_<verb> in snake_case, once', () => {
    const names = ALL_OPERATIONS.map((op) => op.name);
    expect(new Set(names).size).toBe(names.length);
    for (const op of ALL_OPERATIONS) {
      expect(op.name).toMatch(/^[a-z]+(_[a-z]+)+$/);
      expect(op.name.startsWith(`${op.engine}_`)).toBe(true);
      expect(ENGINE_IDS).toContain(op.engine);
    }
  });

  it('annotates every operation: readOnlyHint always, destructiveHint on writes', () => {
    for (const op of ALL_OPERATIONS) {
      expect(typeof op.annotations.readOnlyHint, op.name).toBe('boolean');
      if (!op.annotations.readOnlyHint) expect(typeof op.annotations.destructiveHint, op.name).toBe('boolean');
      expect(op.scope, op.name).toMatch(new RegExp(`^${op.engine}:(read|write|run|request|approve|admin)$`));
      if (op.annotations.readOnlyHint) expect(op.scope, op.name).toMatch(/:read$/);
    }
  });

  it('describes every input and output field so an LLM can act on it', () => {
    for (const op of ALL_OPERATIONS) {
      expect(op.description.length, op.name).toBeGreaterThan(20);
      expect(op.description.length, `${op.name} description is long`).toBeLessThan(300);
      const { input, output } = operationJsonSchemas(op) as { input: JsonSchema; output: JsonSchema };
      expect(input.type, op.name).toBe('object');
      expect(output.type, op.name).toBe('object');
      expect([...undescribed(input, `${op.name} input`), ...undescribed(output, `${op.name} output`)]).toEqual([]);
    }
  });

  it('gives every input property one type, and uses no type arrays anywhere (portable to OpenAPI-subset clients)', () => {
    const untyped: string[] = [];
    const typeArrays: string[] = [];
    const walkProperties = (schema: JsonSchema, path: string) => {
      for (const [key, child] of Object.entries(schema.properties ?? {})) {
        if (typeof child.type !== 'string') untyped.push(`${path}.${key}`);
        walkProperties(child, `${path}.${key}`);
        if (child.items) walkProperties(child.items, `${path}.${key}[]`);
      }
    };
    const findTypeArrays = (node: unknown, path: string) => {
      if (node === null || typeof node !== 'object') return;
      if (Array.isArray((node as JsonSchema).type)) typeArrays.push(path);
      for (const [key, value] of Object.entries(node)) findTypeArrays(value, `${path}/${key}`);
    };
    for (const op of ALL_OPERATIONS) {
      const { input, output } = operationJsonSchemas(op) as { input: JsonSchema; output: JsonSchema };
      walkProperties(input, op.name);
      findTypeArrays(input, `${op.name} input`);
      findTypeArrays(output, `${op.name} output`);
    }
    expect(untyped).toEqual([]);
    expect(typeArrays).toEqual([]);
  });

  it('keeps the whole tools/list under 10k tokens', () => {
    const list = ALL_OPERATIONS.map((op) => ({
      name: op.name,
      title: op.title,
      description: op.description,
      inputSchema: operationJsonSchemas(op).input,
      outputSchema: operationJsonSchemas(op).output,
      annotations: op.annotations,
      ...(op.ui ? { _meta: { ui: { resourceUri: op.ui } } } : {}),
    }));
    // ~4 characters per token for JSON-heavy text is a generous upper estimate.
    const approxTokens = JSON.stringify(list).length / 4;
    expect(approxTokens).toBeLessThan(10_000);
  });

  it('pins each tool schema (update with vitest -u when a change is intended)', async () => {
    for (const op of ALL_OPERATIONS) {
      const snapshot = {
        name: op.name,
        annotations: op.annotations,
        scope: op.scope,
        inputSchema: operationJsonSchemas(op).input,
        outputSchema: operationJsonSchemas(op).output,
      };
      await expect(JSON.stringify(snapshot, null, 2)).toMatchFileSnapshot(`../__toolsnaps__/${op.name}.snap`);
    }
  });

  it('filters by toolset and by read-only annotation', () => {
    expect(selectOperations({ toolsets: ['validation'] }).every((op) => op.engine === 'validation')).toBe(true);
    const readOnly = selectOperations({ readOnly: true });
    expect(readOnly.length).toBeGreaterThan(0);
    expect(readOnly.every((op) => op.annotations.readOnlyHint)).toBe(true);
    expect(readOnly.map((op) => op.name)).not.toContain('registry_publish');
  });

  it('rejects unknown toolsets naming the valid ones', () => {
    expect(parseToolsets('registry, validation')).toEqual(['registry', 'validation']);
    expect(() => parseToolsets('registry,regsitry')).toThrow(/unknown toolset "regsitry"; choose from rag, dag/);
  });
});
