/*
 * validation engine
 * =================
 * A registry of JSON Schema 2020-12 documents (ajv), validation of values and artifacts
 * against them, and optional binding of a schema to a media type so that the registry
 * validates content of that type before storing it. Errors name the JSON pointer.
 * `pattern` and `patternProperties` run on RE2 (platform/linear-regex.ts), in time linear
 * in the input; a schema whose pattern RE2 cannot compile is refused at registration.
 */
import { Ajv2020, type ErrorObject, type ValidateFunction } from 'ajv/dist/2020.js';
import addFormatsModule from 'ajv-formats';
import { conflict, invalidInput, notFound } from '../../errors.js';
import { ajvLinearRegExp, UnsupportedPatternError } from '../../platform/linear-regex.js';
import type { Logger } from '../../platform/log.js';
import { isoTimestamp, type SqlExecutor, type SqlPort } from '../../platform/sql/sql-port.js';
import { toStrictSchema } from './strict-schema.js';

// ajv-formats ships CommonJS; under NodeNext its default import is the module object.
const addFormats = ((addFormatsModule as unknown as { default?: typeof addFormatsModule }).default ?? addFormatsModule) as unknown as (ajv: Ajv2020) => void;

export interface ValidationIssue {
  pointer: string;
  message: string;
}

export interface ValidationResult {
  valid: boolean;
  errors: ValidationIssue[];
}

export interface SchemaRecord {
  id: string;
  mediaType: string | null;
  revision: number;
  createdAt: string;
  updatedAt: string;
}

interface CompiledSchema {
  revision: number;
  validate: ValidateFunction;
}

const MAX_REPORTED_ERRORS = 50;

function createAjv(): Ajv2020 {
  const ajv = new Ajv2020({ allErrors: true, strict: false, validateFormats: true, code: { regExp: ajvLinearRegExp } });
  addFormats(ajv);
  return ajv;
}

function escapePointerToken(token: string): string {
  return token.replace(/~/g, '~0').replace(/\//g, '~1');
}

function toIssue(error: ErrorObject): ValidationIssue {
  const at = error.instancePath || '';
  switch (error.keyword) {
    case 'required':
      return { pointer: `${at}/${escapePointerToken(String(error.params.missingProperty))}`, message: 'is required' };
    case 'unevaluatedProperties':
      return { pointer: `${at}/${escapePointerToken(String(error.params.unevaluatedProperty))}`, message: 'is not declared by the schema (strictMode rejects undeclared properties)' };
    case 'additionalProperties':
      return { pointer: `${at}/${escapePointerToken(String(error.params.additionalProperty))}`, message: 'is not allowed by the schema (additionalProperties is false)' };
    default:
      return { pointer: at || '/', message: error.message ?? `fails ${error.keyword}` };
  }
}

export class ValidationEngine {
  private readonly compiled = new Map<string, CompiledSchema>();

  constructor(
    private readonly sql: SqlPort,
    private readonly settings: { strictMode: boolean },
    private readonly log: Logger,
  ) {}

  /** Compiles a schema, throwing INVALID_INPUT with ajv's reason when it is not a valid 2020-12 schema. */
  private compile(schema: unknown): ValidateFunction {
    if (typeof schema !== 'object' && typeof schema !== 'boolean') {
      throw invalidInput('schema: expected a JSON Schema object (or true/false)');
    }
    const ajv = createAjv();
    if (!ajv.validateSchema(schema as object)) {
      const reasons = (ajv.errors ?? []).map((e) => `${e.instancePath || '/'} ${e.message ?? e.keyword}`).join('; ');
      throw invalidInput(`schema: not a valid JSON Schema 2020-12 document: ${reasons}`);
    }
    try {
      return ajv.compile(this.settings.strictMode ? (toStrictSchema(schema) as object) : (schema as object));
    } catch (error) {
      if (error instanceof UnsupportedPatternError) throw invalidInput(`schema: ${error.message}`);
      throw invalidInput(`schema: cannot be compiled: ${(error as Error).message}`);
    }
  }

  async registerSchema(input: { id: string; schema: unknown; mediaType?: string }): Promise<SchemaRecord & { created: boolean }> {
    this.compile(input.schema);
    const mediaType = input.mediaType ?? null;
    return this.sql.transaction(async (tx) => {
      // A binding changes under the lock of each media type it names, old and new, so a
      // publish that confirms its binding (confirmBinding) orders itself before or after.
      const { rows: old } = await tx.query<{ media_type: string | null }>('select media_type from validation_schemas where id = $1', [input.id]);
      for (const type of [...new Set([old[0]?.media_type, mediaType])].sort()) {
        if (type) await tx.query(`select pg_advisory_xact_lock(hashtext('validation:binding:' || $1))`, [type]);
      }
      if (mediaType) {
        const bound = await tx.query<{ id: string }>('select id from validation_schemas where media_type = $1 and id <> $2', [mediaType, input.id]);
        if (bound.rows[0]) {
          throw conflict(`mediaType: ${mediaType} is already bound to schema "${bound.rows[0].id}"; register under that id, or bind a different media type`);
        }
      }
      const { rows } = await tx.query<{ id: string; media_type: string | null; revision: number; created_at: Date; updated_at: Date; created: boolean }>(
        `insert into validation_schemas (id, schema, media_type) values ($1, $2, $3)
         on conflict (id) do update set schema = excluded.schema, media_type = excluded.media_type,
           revision = validation_schemas.revision + 1, updated_at = now()
         returning id, media_type, revision, created_at, updated_at, (revision = 1) as created`,
        [input.id, JSON.stringify(input.schema), mediaType],
      );
      const row = rows[0]!;
      this.log.info({ schemaId: row.id, revision: row.revision, mediaType: row.media_type }, 'schema registered');
      return {
        id: row.id,
        mediaType: row.media_type,
        revision: row.revision,
        createdAt: isoTimestamp(row.created_at),
        updatedAt: isoTimestamp(row.updated_at),
        created: row.created,
      };
    });
  }

  async listSchemas(): Promise<SchemaRecord[]> {
    const { rows } = await this.sql.query<{ id: string; media_type: string | null; revision: number; created_at: Date; updated_at: Date }>(
      'select id, media_type, revision, created_at, updated_at from validation_schemas order by id',
    );
    return rows.map((row) => ({
      id: row.id,
      mediaType: row.media_type,
      revision: row.revision,
      createdAt: isoTimestamp(row.created_at),
      updatedAt: isoTimestamp(row.updated_at),
    }));
  }

  /**
   * Confirms inside the caller's transaction that the schema bound to mediaType is still the
   * one (id and revision) the content was validated against, or still none, and holds the
   * binding until the transaction ends (registerSchema waits for it). Throws CONFLICT otherwise.
   */
  async confirmBinding(tx: SqlExecutor, mediaType: string, seen: { schemaId: string; revision: number } | undefined): Promise<void> {
    await tx.query(`select pg_advisory_xact_lock_shared(hashtext('validation:binding:' || $1))`, [mediaType]);
    const { rows } = await tx.query<{ id: string; revision: number }>('select id, revision from validation_schemas where media_type = $1', [mediaType]);
    const now = rows[0];
    if (now?.id === seen?.schemaId && now?.revision === seen?.revision) return;
    const was = seen ? `schema "${seen.schemaId}" revision ${seen.revision}` : 'no schema';
    const is = now ? `schema "${now.id}" revision ${now.revision}` : 'no schema';
    throw conflict(`the schema bound to ${mediaType} changed while the content was validated (${was}, now ${is}); send the request again to validate against the current one`);
  }

  private async validator(where: { id: string } | { mediaType: string }): Promise<{ id: string; revision: number; validate: ValidateFunction } | undefined> {
    const { rows } =
      'id' in where
        ? await this.sql.query<{ id: string; revision: number }>('select id, revision from validation_schemas where id = $1', [where.id])
        : await this.sql.query<{ id: string; revision: number }>('select id, revision from validation_schemas where media_type = $1', [where.mediaType]);
    const row = rows[0];
    if (!row) return undefined;
    const cached = this.compiled.get(row.id);
    if (cached && cached.revision === row.revision) return { id: row.id, revision: row.revision, validate: cached.validate };
    const full = await this.sql.query<{ schema: unknown; revision: number }>('select schema, revision from validation_schemas where id = $1', [row.id]);
    const stored = full.rows[0];
    if (!stored) return undefined;
    const validate = this.compile(stored.schema);
    this.compiled.set(row.id, { revision: stored.revision, validate });
    return { id: row.id, revision: stored.revision, validate };
  }

  private run(validate: ValidateFunction, value: unknown): ValidationResult {
    const valid = validate(value) as boolean;
    const errors = valid ? [] : (validate.errors ?? []).slice(0, MAX_REPORTED_ERRORS).map(toIssue);
    return { valid, errors };
  }

  async validate(schemaId: string, value: unknown): Promise<ValidationResult> {
    const found = await this.validator({ id: schemaId });
    if (!found) throw notFound(`schemaId: no schema "${schemaId}" (validation_list_schemas shows the registered ones; validation_register_schema adds one)`);
    return this.run(found.validate, value);
  }

  /**
   * Validates content against the schema bound to its media type; undefined when none is
   * bound. The content is parsed only when a schema applies.
   */
  async validateForMediaType(mediaType: string, parse: () => unknown): Promise<(ValidationResult & { schemaId: string; revision: number }) | undefined> {
    const found = await this.validator({ mediaType });
    if (!found) return undefined;
    return { schemaId: found.id, revision: found.revision, ...this.run(found.validate, parse()) };
  }
}
