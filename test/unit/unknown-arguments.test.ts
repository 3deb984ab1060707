import { describe, expect, it } from 'vitest';
import { ALL_OPERATIONS } from '../../tools/index.js';
import { ragIngest, ragQuery } from '../../tools/rag.js';
import { governanceCheck } from '../../tools/governance.js';
import { registryPublish } from '../../tools/registry.js';
import { closestName, rejectUnknownArguments } from '../../src/surface/unknown-arguments.js';

const refusal = (run: () => void): string => {
  try {
    run();
  } catch (error) {
    return (error as Error).message;
  }
  throw new Error('expected a refusal');
};

describe('unknown arguments', () => {
  it('refuses snake_case with its camelCase name', () => {
    expect(refusal(() => rejectUnknownArguments(ragQuery.input, { collection: 'c', query: 'q', top_k: 1 }))).toBe('unknown argument `top_k`; did you mean `topK`?');
  });

  it('suggests the nearest name for a typo, and lists the names when none is near', () => {
    expect(refusal(() => rejectUnknownArguments(ragQuery.input, { collection: 'c', query: 'q', diversty: 0.5 }))).toContain('did you mean `diversity`?');
    expect(refusal(() => rejectUnknownArguments(ragQuery.input, { collection: 'c', query: 'q', zzzzzzzz: 1 }))).toMatch(/the input takes `collection`, `query`, `mode`/);
  });

  it('checks declared nested objects, but not free-form records', () => {
    const documents = [{ id: 'a', text: 't', metadata: { any_key: 1 } }];
    expect(() => rejectUnknownArguments(ragIngest.input, { collection: 'c', documents })).not.toThrow();
    expect(refusal(() => rejectUnknownArguments(ragIngest.input, { collection: 'c', documents: [{ id: 'a', text: 't', mime_type: 'text/html' }] }))).toBe(
      'unknown argument `documents[0].mime_type`; did you mean `documents[0].mimeType`?',
    );
    expect(() => rejectUnknownArguments(registryPublish.input, { name: 'a/b', version: '1.0.0', content: 'x', metadata: { free: { form: true } } })).not.toThrow();
    expect(() => rejectUnknownArguments(governanceCheck.input, { target: 'promotion', input: { whatever: 1 } })).not.toThrow();
  });

  it('accepts every declared name of every operation', () => {
    for (const op of ALL_OPERATIONS) {
      const shape = (op.input as unknown as { _zod: { def: { shape?: Record<string, unknown>; type: string } } })._zod.def;
      const names = Object.keys(shape.shape ?? {});
      expect(() => rejectUnknownArguments(op.input, Object.fromEntries(names.map((n) => [n, undefined]))), op.name).not.toThrow();
    }
  });

  it('finds the closest name case-insensitively', () => {
    expect(closestName('TOPK', ['topK', 'mode'])).toBe('topK');
    expect(closestName('registry_publsh', ['registry_publish', 'registry_get'])).toBe('registry_publish');
    expect(closestName('banana', ['topK', 'mode'])).toBeUndefined();
  });
});
