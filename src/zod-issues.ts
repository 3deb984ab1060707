/*
 * Readable validation messages
 * ============================
 * One formatter for every zod failure a user sees: configuration files at start-up and
 * operation inputs on every surface. Each line names the key path, what was expected and
 * what was found, e.g. `engine_map.DAG_engine.settings.maxNodes: expected a positive integer, got "ten"`.
 */
import type { z } from 'zod';

type Issue = z.core.$ZodIssue & { input?: unknown };

export function formatPath(path: readonly PropertyKey[]): string {
  let out = '';
  for (const key of path) {
    if (typeof key === 'number') out += `[${key}]`;
    else out += out ? `.${String(key)}` : String(key);
  }
  return out;
}

function describeInput(input: unknown): string {
  if (input === undefined) return 'nothing';
  const json = JSON.stringify(input);
  if (json === undefined) return typeof input;
  return json.length > 80 ? `${json.slice(0, 77)}...` : json;
}

export function formatIssue(issue: Issue): string {
  const path = formatPath(issue.path);
  const prefix = path ? `${path}: ` : '';
  if (issue.code === 'unrecognized_keys') {
    const keys = issue.keys.map((k) => JSON.stringify(k)).join(', ');
    return `${prefix}unknown key${issue.keys.length > 1 ? 's' : ''} ${keys}: remove ${issue.keys.length > 1 ? 'them' : 'it'} or check the spelling`;
  }
  if (issue.code === 'invalid_type' && issue.input === undefined) {
    return `${prefix}is required (${lowerFirst(issue.message)})`;
  }
  if (issue.code === 'invalid_union') {
    return `${prefix}${issue.message}`;
  }
  const got = 'input' in issue ? `, got ${describeInput(issue.input)}` : '';
  return `${prefix}${lowerFirst(issue.message)}${got}`;
}

function lowerFirst(message: string): string {
  return message.length > 1 && /^[A-Z][a-z]/.test(message) ? message[0]!.toLowerCase() + message.slice(1) : message;
}

export function formatIssues(issues: readonly z.core.$ZodIssue[]): string[] {
  return issues.map((issue) => formatIssue(issue as Issue));
}
