/*
 * validation/strict-schema
 * ========================
 * strictMode: properties a schema does not declare are errors. Rather than rely on each
 * author to write `additionalProperties: false`, every object schema that declares
 * properties (directly, or through $ref / allOf / anyOf / oneOf / if) gets
 * `unevaluatedProperties: false` — the 2020-12 keyword that sees properties declared by
 * in-place subschemas, so composition keeps working. Subschemas applied in place are left
 * alone (their parent carries the check), as are schemas that already decide for
 * themselves with additionalProperties or unevaluatedProperties.
 */

type JsonObject = Record<string, unknown>;

const isObject = (value: unknown): value is JsonObject => value !== null && typeof value === 'object' && !Array.isArray(value);

const DECLARES_OBJECT_SHAPE = ['properties', 'patternProperties', '$ref', '$dynamicRef', 'allOf', 'anyOf', 'oneOf', 'if', 'dependentSchemas'];
const IN_PLACE_ARRAYS = ['allOf', 'anyOf', 'oneOf'];
const IN_PLACE_SINGLE = ['not', 'if', 'then', 'else'];
const IN_PLACE_MAPS = ['dependentSchemas', '$defs', 'definitions'];
const CHILD_MAPS = ['properties', 'patternProperties'];
const CHILD_SINGLE = ['items', 'additionalProperties', 'unevaluatedItems', 'contains', 'propertyNames', 'additionalItems'];
const CHILD_ARRAYS = ['prefixItems'];

function transform(schema: unknown, inPlace: boolean): unknown {
  if (!isObject(schema)) return schema;
  const out: JsonObject = { ...schema };
  for (const key of CHILD_MAPS) {
    if (isObject(out[key])) out[key] = Object.fromEntries(Object.entries(out[key]).map(([k, v]) => [k, transform(v, false)]));
  }
  for (const key of IN_PLACE_MAPS) {
    if (isObject(out[key])) out[key] = Object.fromEntries(Object.entries(out[key]).map(([k, v]) => [k, transform(v, true)]));
  }
  for (const key of CHILD_SINGLE) if (key in out) out[key] = transform(out[key], false);
  for (const key of IN_PLACE_SINGLE) if (key in out) out[key] = transform(out[key], true);
  for (const key of CHILD_ARRAYS) if (Array.isArray(out[key])) out[key] = (out[key] as unknown[]).map((s) => transform(s, false));
  for (const key of IN_PLACE_ARRAYS) if (Array.isArray(out[key])) out[key] = (out[key] as unknown[]).map((s) => transform(s, true));

  const declaresShape = DECLARES_OBJECT_SHAPE.some((key) => key in out);
  const decidesItself = 'additionalProperties' in out || 'unevaluatedProperties' in out;
  if (!inPlace && declaresShape && !decidesItself) out.unevaluatedProperties = false;
  return out;
}

export function toStrictSchema(schema: unknown): unknown {
  return transform(schema, false);
}
