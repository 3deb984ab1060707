import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { AnyOperation } from '../../src/surface/operation.js';
import { registryPublish } from '../../tools/registry.js';
import { validationListSchemas, validationRegisterSchema, validationValidate } from '../../tools/validation.js';
import { failure } from '../helpers/failures.js';
import { ADMIN, appBackends, startTestApp, title, type TestApp } from '../helpers/backends.js';


const person = {
  type: 'object',
  required: ['name'],
  properties: {
    name: { type: 'string', minLength: 1 },
    email: { type: 'string', format: 'email' },
    address: { type: 'object', properties: { city: { type: 'string' } } },
    tags: { type: 'array', items: { type: 'string' } },
  },
};

for (const backend of appBackends()) {
  describe.skipIf(backend.skip)(`validation operations on ${title(backend)}`, () => {
    let t: TestApp;
    const call = <O extends AnyOperation>(op: O, args: unknown) => t.app.invoke(op, args, ADMIN);

    beforeAll(async () => {
      t = await startTestApp(backend);
    });
    afterAll(async () => t?.close());

    it('registers a schema and replaces it with a new revision', async () => {
      const first = await call(validationRegisterSchema, { id: 'person/v1', schema: person });
      expect(first).toMatchObject({ id: 'person/v1', revision: 1, created: true, mediaType: null });
      const second = await call(validationRegisterSchema, { id: 'person/v1', schema: person });
      expect(second).toMatchObject({ revision: 2, created: false });
      const { schemas } = await call(validationListSchemas, {});
      expect(schemas.map((s) => s.id)).toContain('person/v1');
    });

    it('confirms inside a transaction the schema binding content was validated against, and refuses a changed one', async () => {
      const { sql, engines } = await t.app.services();
      const mediaType = 'application/vnd.confirm+json';
      const unbound = await engines.validation.validateForMediaType(mediaType, () => ({}));
      expect(unbound).toBeUndefined();
      await call(validationRegisterSchema, { id: 'confirm/v1', schema: person, mediaType });
      // Validated while no schema was bound; bound before the publishing transaction ran.
      const late = await failure(sql.transaction((tx) => engines.validation.confirmBinding(tx, mediaType, undefined)));
      expect(late.code).toBe('CONFLICT');
      expect(late.message).toBe(
        `the schema bound to ${mediaType} changed while the content was validated (no schema, now schema "confirm/v1" revision 1); send the request again to validate against the current one`,
      );
      const seen = await engines.validation.validateForMediaType(mediaType, () => ({ name: 'Ada' }));
      expect(seen).toMatchObject({ schemaId: 'confirm/v1', revision: 1, valid: true });
      await sql.transaction((tx) => engines.validation.confirmBinding(tx, mediaType, seen));
      await call(validationRegisterSchema, { id: 'confirm/v1', schema: person, mediaType });
      const changed = await failure(sql.transaction((tx) => engines.validation.confirmBinding(tx, mediaType, seen)));
      expect(changed.message).toContain('(schema "confirm/v1" revision 1, now schema "confirm/v1" revision 2)');
    });

    it('refuses an invalid JSON Schema with the reason', async () => {
      const error = await failure(call(validationRegisterSchema, { id: 'broken', schema: { type: 'no-such-type' } }));
      expect(error.code).toBe('INVALID_INPUT');
      expect(error.message).toMatch(/not a valid JSON Schema 2020-12 document: \/type/);
      const badRef = await failure(call(validationRegisterSchema, { id: 'broken', schema: { $ref: '#/$defs/missing' } }));
      expect(badRef.message).toMatch(/cannot be compiled/);
      expect((await call(validationListSchemas, {})).schemas.map((s) => s.id)).not.toContain('broken');
    });

    it('accepts a valid value', async () => {
      expect(await call(validationValidate, { schemaId: 'person/v1', value: { name: 'Ada', tags: ['x'] } })).toEqual({ valid: true, errors: [] });
    });

    it('reports each error with its JSON pointer', async () => {
      const result = await call(validationValidate, { schemaId: 'person/v1', value: { email: 'nope', tags: ['ok', 3] } });
      expect(result.valid).toBe(false);
      const byPointer = Object.fromEntries(result.errors.map((e) => [e.pointer, e.message]));
      expect(byPointer['/name']).toBe('is required');
      expect(byPointer['/email']).toMatch(/format "email"/);
      expect(byPointer['/tags/1']).toMatch(/string/);
    });

    it('in strictMode reports properties the schema does not declare, at any depth', async () => {
      const result = await call(validationValidate, { schemaId: 'person/v1', value: { name: 'Ada', nickname: 'A', address: { city: 'X', zip: '1' } } });
      expect(result.valid).toBe(false);
      expect(result.errors.map((e) => e.pointer).sort()).toEqual(['/address/zip', '/nickname']);
      expect(result.errors[0]!.message).toContain('strictMode');
    });

    it('in strictMode keeps composition working: allOf and $ref see each other\'s properties', async () => {
      await call(validationRegisterSchema, {
        id: 'composed',
        schema: {
          $defs: { base: { type: 'object', properties: { id: { type: 'string' } } } },
          allOf: [{ $ref: '#/$defs/base' }, { properties: { extra: { type: 'number' } } }],
        },
      });
      expect((await call(validationValidate, { schemaId: 'composed', value: { id: 'a', extra: 1 } })).valid).toBe(true);
      const stray = await call(validationValidate, { schemaId: 'composed', value: { id: 'a', stray: true } });
      expect(stray.errors).toEqual([{ pointer: '/stray', message: expect.stringContaining('not declared') }]);
    });

    it('leaves additionalProperties decisions to the schema author', async () => {
      await call(validationRegisterSchema, { id: 'open-map', schema: { type: 'object', properties: { a: { type: 'string' } }, additionalProperties: { type: 'number' } } });
      expect((await call(validationValidate, { schemaId: 'open-map', value: { a: 'x', b: 1 } })).valid).toBe(true);
      expect((await call(validationValidate, { schemaId: 'open-map', value: { a: 'x', b: 'y' } })).valid).toBe(false);
    });

    it('without strictMode accepts undeclared properties', async () => {
      const lax = await startTestApp(backend, { env: { VALIDATION_STRICT_MODE: 'false' } });
      try {
        await lax.app.invoke(validationRegisterSchema, { id: 'person/v1', schema: person }, ADMIN);
        const result = await lax.app.invoke(validationValidate, { schemaId: 'person/v1', value: { name: 'Ada', nickname: 'A' } }, ADMIN);
        expect(result.valid).toBe(true);
      } finally {
        await lax.close();
      }
    });

    it('validates a published artifact, JSON or YAML', async () => {
      await call(registryPublish, { name: 'people/ada', version: '1.0.0', mediaType: 'application/json', content: JSON.stringify({ name: 'Ada' }) });
      await call(registryPublish, { name: 'people/bob', version: '1.0.0', mediaType: 'application/yaml', content: 'name: ""\nextra: 1\n' });
      expect(await call(validationValidate, { schemaId: 'person/v1', artifact: { name: 'people/ada', version: '1.0.0' } })).toEqual({ valid: true, errors: [] });
      const bob = await call(validationValidate, { schemaId: 'person/v1', artifact: { name: 'people/bob', version: '1.0.0' } });
      expect(bob.errors.map((e) => e.pointer).sort()).toEqual(['/extra', '/name']);
    });

    it('uses the new revision after a schema is replaced', async () => {
      await call(validationRegisterSchema, { id: 'counter', schema: { type: 'integer', maximum: 5 } });
      expect((await call(validationValidate, { schemaId: 'counter', value: 7 })).valid).toBe(false);
      await call(validationRegisterSchema, { id: 'counter', schema: { type: 'integer', maximum: 10 } });
      expect((await call(validationValidate, { schemaId: 'counter', value: 7 })).valid).toBe(true);
    });

    it('says how to fix unknown schemas, missing targets and media type clashes', async () => {
      const unknown = await failure(call(validationValidate, { schemaId: 'nope', value: 1 }));
      expect(unknown.code).toBe('NOT_FOUND');
      expect(unknown.message).toContain('validation_register_schema');
      const neither = await failure(call(validationValidate, { schemaId: 'person/v1' }));
      expect(neither.message).toContain('exactly one of value or artifact');
      await call(validationRegisterSchema, { id: 'a', schema: true, mediaType: 'application/vnd.x+json' });
      const clash = await failure(call(validationRegisterSchema, { id: 'b', schema: true, mediaType: 'application/vnd.x+json' }));
      expect(clash.code).toBe('CONFLICT');
      expect(clash.message).toContain('"a"');
    });
  });
}
