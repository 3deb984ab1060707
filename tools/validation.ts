/*
 * Validation operations: a JSON Schema registry and validation of values and artifacts.
 */
import { z } from 'zod';
import { defineOperation } from '../src/surface/operation.js';
import { artifactName, artifactVersion, isoTime, mediaType } from '../src/surface/fields.js';

const schemaId = () =>
  z
    .string()
    .min(1)
    .max(128)
    .regex(/^[A-Za-z0-9][A-Za-z0-9._:/-]*$/, { error: 'expected letters, digits, ".", "_", ":", "/" or "-", e.g. "model-card/v1"' });

export const validationRegisterSchema = defineOperation({
  name: 'validation_register_schema',
  engine: 'validation',
  title: 'Register JSON Schema',
  description:
    'Register (or replace) a JSON Schema 2020-12 under an id; an invalid schema is refused with the reason. With mediaType, registry_publish validates content of that type against it first.',
  input: z.object({
    id: schemaId().describe('Schema id, e.g. "model-card/v1".'),
    schema: z.union([z.record(z.string(), z.unknown()), z.boolean()]).describe('The JSON Schema 2020-12 document.'),
    mediaType: mediaType().optional().describe('Bind to this media type, e.g. "application/vnd.acme.model-card+json".'),
  }),
  output: z.object({
    id: z.string().describe('Schema id.'),
    revision: z.number().int().describe('1 on first registration, +1 on each replacement.'),
    mediaType: z.string().nullable().describe('Bound media type, if any.'),
    created: z.boolean().describe('true when the id was new.'),
    updatedAt: isoTime(),
  }),
  annotations: { readOnlyHint: false, destructiveHint: false, idempotentHint: true },
  scope: 'validation:write',
  async handler(input, { engines }) {
    const saved = await engines.validation.registerSchema(input);
    return { id: saved.id, revision: saved.revision, mediaType: saved.mediaType, created: saved.created, updatedAt: saved.updatedAt };
  },
});

export const validationValidate = defineOperation({
  name: 'validation_validate',
  engine: 'validation',
  title: 'Validate against schema',
  description: 'Validate a JSON value, or a registry artifact (JSON or YAML content), against a registered schema. Each error names its JSON pointer.',
  input: z
    .object({
      schemaId: schemaId().describe('Id of a registered schema.'),
      value: z.unknown().optional().describe('The JSON value to check. Give value or artifact, not both.'),
      artifact: z
        .object({ name: artifactName(), version: artifactVersion() })
        .optional()
        .describe('A published artifact whose content is checked.'),
    })
    .refine((v) => (v.value === undefined) !== (v.artifact === undefined), { error: 'give exactly one of value or artifact' }),
  output: z.object({
    valid: z.boolean().describe('true when there are no errors.'),
    errors: z
      .array(
        z.object({
          pointer: z.string().describe('JSON pointer to the offending location, e.g. "/metrics/0/name".'),
          message: z.string().describe('What is wrong there.'),
        }),
      )
      .describe('At most 50 errors.'),
  }),
  annotations: { readOnlyHint: true, idempotentHint: true },
  scope: 'validation:read',
  async handler(input, { engines }) {
    if (input.artifact) {
      const artifact = await engines.registry.getVersion(input.artifact.name, input.artifact.version);
      // Loaded on first use: the YAML parser is not needed to answer `initialize`.
      const { parseStructuredContent } = await import('../src/engines/validation/structured-content.js');
      const value = parseStructuredContent(artifact.mediaType, artifact.content, 'artifact');
      return engines.validation.validate(input.schemaId, value);
    }
    return engines.validation.validate(input.schemaId, input.value);
  },
});

export const validationListSchemas = defineOperation({
  name: 'validation_list_schemas',
  engine: 'validation',
  title: 'List schemas',
  description: 'List registered schemas with their bound media types and revisions.',
  input: z.object({}),
  output: z.object({
    schemas: z.array(
      z.object({
        id: z.string().describe('Schema id.'),
        mediaType: z.string().nullable().describe('Bound media type, if any.'),
        revision: z.number().int().describe('Current revision.'),
        updatedAt: isoTime(),
      }),
    ).describe('Registered schemas, by id.'),
  }),
  annotations: { readOnlyHint: true, idempotentHint: true },
  scope: 'validation:read',
  async handler(_input, { engines }) {
    const schemas = await engines.validation.listSchemas();
    return { schemas: schemas.map(({ id, mediaType, revision, updatedAt }) => ({ id, mediaType, revision, updatedAt })) };
  },
});

export const VALIDATION_OPERATIONS = [validationRegisterSchema, validationValidate, validationListSchemas];
