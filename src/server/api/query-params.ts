/*
 * Query parameters as operation input
 * ===================================
 * GET routes (read-only operations) take their input from the query string. Each value is
 * coerced by the type its property has in the operation's JSON Schema: numbers, booleans,
 * JSON for objects, repeated parameters (or a JSON array) for arrays. A value that does
 * not fit is passed on as the string it was, so validation reports it in the usual words.
 */
interface JsonSchema {
  type?: string | string[];
  items?: JsonSchema;
  anyOf?: JsonSchema[];
  oneOf?: JsonSchema[];
  properties?: Record<string, JsonSchema>;
}

const NUMBER = /^-?(0|[1-9]\d*)(\.\d+)?([eE][+-]?\d+)?$/;

function typesOf(schema: JsonSchema): Set<string> {
  const types = new Set<string>();
  const add = (s: JsonSchema) => {
    if (typeof s.type === 'string') types.add(s.type);
    else if (Array.isArray(s.type)) s.type.forEach((t) => types.add(t));
    else if (s.properties) types.add('object');
    for (const branch of [...(s.anyOf ?? []), ...(s.oneOf ?? [])]) add(branch);
  };
  add(schema);
  return types;
}

function coerceOne(value: string, schema: JsonSchema): unknown {
  const types = typesOf(schema);
  if (types.has('string')) return value;
  if ((types.has('integer') || types.has('number')) && NUMBER.test(value)) return Number(value);
  if (types.has('boolean') && (value === 'true' || value === 'false')) return value === 'true';
  if (types.has('null') && value === 'null') return null;
  if (types.has('object') || types.has('array')) {
    try {
      return JSON.parse(value);
    } catch {
      // left as text: validation says what was expected
    }
  }
  return value;
}

export function queryToInput(search: URLSearchParams, inputSchema: Record<string, unknown>): Record<string, unknown> {
  const properties = (inputSchema as JsonSchema).properties ?? {};
  const input: Record<string, unknown> = {};
  for (const key of new Set(search.keys())) {
    const values = search.getAll(key);
    const schema = Object.hasOwn(properties, key) ? properties[key]! : {};
    if (typesOf(schema).has('array')) {
      const single = values.length === 1 ? values[0]!.trim() : '';
      input[key] = single.startsWith('[') ? coerceOne(single, { type: 'array' }) : values.map((v) => coerceOne(v, schema.items ?? {}));
    } else {
      input[key] = values.length === 1 ? coerceOne(values[0]!, schema) : values;
    }
  }
  return input;
}
