/*
 * Unknown arguments
 * =================
 * zod drops object keys it does not declare, so `top_k: 1` (a model's snake_case for `topK`)
 * would silently run with the default. Every operation call passes here first: an argument
 * name that the input schema does not declare, at any depth of declared objects, is refused
 * with the closest declared name. Free-form records (metadata, labels, JSON values) declare
 * no names and are not checked.
 */
import { distance } from 'fastest-levenshtein';
import type { z } from 'zod';
import { invalidInput } from '../errors.js';

interface Def {
  type: string;
  shape?: Record<string, z.ZodType>;
  catchall?: z.ZodType;
  innerType?: z.ZodType;
  element?: z.ZodType;
  in?: z.ZodType;
  out?: z.ZodType;
}

const defOf = (schema: z.ZodType): Def => (schema as unknown as { _zod: { def: Def } })._zod.def;

/** The object schema under wrappers (optional, default, nullable, refine, pipe), if any. */
function objectShape(schema: z.ZodType): Record<string, z.ZodType> | undefined {
  for (let current: z.ZodType | undefined = schema, depth = 0; current && depth < 16; depth++) {
    const def = defOf(current);
    if (def.type === 'object') {
      // A loose object (catchall) takes any key.
      return def.catchall && defOf(def.catchall).type !== 'never' ? undefined : def.shape;
    }
    if (def.type === 'pipe') current = def.in && defOf(def.in).type === 'transform' ? def.out : def.in;
    else current = def.innerType;
  }
  return undefined;
}

function arrayElement(schema: z.ZodType): z.ZodType | undefined {
  for (let current: z.ZodType | undefined = schema, depth = 0; current && depth < 16; depth++) {
    const def = defOf(current);
    if (def.type === 'array') return def.element;
    if (def.type === 'pipe') current = def.in;
    else current = def.innerType;
  }
  return undefined;
}

const camel = (name: string) => name.replace(/[_-]+([a-z0-9])/gi, (_, c: string) => c.toUpperCase());

/** The declared name closest to an unknown one: its camelCase form, else the nearest by edit distance. */
export function closestName(name: string, known: readonly string[]): string | undefined {
  const camelName = camel(name);
  const exact = known.find((k) => k === camelName || k.toLowerCase() === name.toLowerCase() || k.toLowerCase() === camelName.toLowerCase());
  if (exact) return exact;
  let best: string | undefined;
  let bestDistance = Infinity;
  for (const candidate of known) {
    const d = distance(name.toLowerCase(), candidate.toLowerCase());
    if (d < bestDistance) [best, bestDistance] = [candidate, d];
  }
  return best !== undefined && bestDistance <= Math.max(2, Math.floor(best.length / 3)) ? best : undefined;
}

function collect(schema: z.ZodType, value: unknown, path: string, problems: string[]): void {
  if (value === null || typeof value !== 'object' || problems.length >= 5) return;
  if (Array.isArray(value)) {
    const element = arrayElement(schema);
    if (element) value.slice(0, 1000).forEach((item, i) => collect(element, item, `${path}[${i}]`, problems));
    return;
  }
  const shape = objectShape(schema);
  if (!shape) return;
  const known = Object.keys(shape);
  for (const [key, inner] of Object.entries(value as Record<string, unknown>)) {
    if (Object.hasOwn(shape, key)) {
      collect(shape[key]!, inner, path ? `${path}.${key}` : key, problems);
      continue;
    }
    const at = path ? `${path}.${key}` : key;
    const suggestion = closestName(key, known);
    problems.push(
      suggestion
        ? `unknown argument \`${at}\`; did you mean \`${path ? `${path}.` : ''}${suggestion}\`?`
        : `unknown argument \`${at}\`; ${path ? `\`${path}\`` : 'the input'} takes ${known.length > 0 ? known.map((k) => `\`${k}\``).join(', ') : 'no arguments'}`,
    );
  }
}

/** Throws INVALID_INPUT naming every argument the schema does not declare (at most five). */
export function rejectUnknownArguments(schema: z.ZodType, args: unknown): void {
  const problems: string[] = [];
  collect(schema, args, '', problems);
  if (problems.length > 0) throw invalidInput(problems.join('; '));
}
