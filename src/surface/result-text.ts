/*
 * The text a model reads
 * ======================
 * A tool result carries its data twice over MCP: `structuredContent` (the JSON the output
 * schema describes, for programs) and a text block (what most clients hand the model). The
 * text block is not a second copy of the JSON: it is a compact form in the fewest tokens an
 * LLM reads well. An operation may declare its own (`summarize`: numbered passages with
 * citations for rag_query, a status line and one row per node for dag_status); the others
 * get one `key: value` line per field and one line per list item, with no JSON quoting
 * where none is needed.
 */
import type { AnyOperation } from './operation.js';

const WORD = /^[\w@./:+-]+$/;
const WORDS = /^[\w@./:+(),'-][\w@./:+(),' -]*$/;

/**
 * A value on one line: a string that is one word (or, with `spaces`, plain words on one line)
 * as it is; other strings and structures as compact JSON.
 */
export function inline(value: unknown, spaces = false): string {
  if (value === null || value === undefined) return '-';
  if (typeof value === 'string') return (spaces ? WORDS : WORD).test(value) && value.length <= 500 && !value.endsWith(' ') ? value : JSON.stringify(value);
  if (typeof value === 'number' || typeof value === 'boolean') return String(value);
  return JSON.stringify(value);
}

/** An object as one line of `key=value` pairs (null and undefined fields left out). */
export function row(item: unknown): string {
  if (item === null || typeof item !== 'object' || Array.isArray(item)) return inline(item);
  return Object.entries(item as Record<string, unknown>)
    .filter(([, v]) => v !== null && v !== undefined)
    .map(([k, v]) => `${k}=${inline(v)}`)
    .join(' ');
}

/** The generic compact form: one line per scalar field, one line per list item. */
export function compactText(output: Record<string, unknown>): string {
  const lines: string[] = [];
  for (const [key, value] of Object.entries(output)) {
    if (value === undefined) continue;
    if (Array.isArray(value)) {
      if (value.length === 0) lines.push(`${key}: none`);
      else if (value.every((v) => v === null || typeof v !== 'object')) lines.push(`${key}: ${value.map((v) => inline(v)).join(', ')}`);
      else {
        lines.push(`${key} (${value.length}):`);
        for (const item of value) lines.push(`- ${row(item)}`);
      }
    } else if (value !== null && typeof value === 'object') {
      lines.push(`${key}: ${row(value)}`);
    } else {
      lines.push(`${key}: ${inline(value, true)}`);
    }
  }
  return lines.join('\n');
}

/** The text block of a successful call: the operation's own summary, else the compact form. */
export function resultText(operation: AnyOperation, output: Record<string, unknown>): string {
  if (operation.summarize) return operation.summarize(output);
  return compactText(output);
}

export type ResultBlock = { type: 'text'; text: string } | { type: 'resource_link'; uri: string; name: string; mimeType?: string };

/** The `content` of a successful tools/call result: the text, then links to the resources it names. */
export function resultContent(operation: AnyOperation, output: Record<string, unknown>): ResultBlock[] {
  const links = operation.links?.(output) ?? [];
  return [{ type: 'text', text: resultText(operation, output) }, ...links.map((link) => ({ type: 'resource_link' as const, ...link }))];
}
