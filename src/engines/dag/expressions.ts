/*
 * dag/expressions
 * ===============
 * Node inputs, `when` conditions and the workflow output are written in JSONata
 * (https://jsonata.org), evaluated over `{ params, nodes }`, where `nodes.<id>` is the
 * output of an upstream node. In an input, every string starting with "=" is an
 * expression ("==" escapes a literal leading "="); `when` is always an expression.
 * References to `nodes.<id>` are read from the parsed expression, so validation can tell
 * which nodes an expression needs and refuse any that is not upstream.
 */
import jsonata from 'jsonata';
import { LRUCache } from 'lru-cache';

type Expression = ReturnType<typeof jsonata>;

interface AstNode {
  type?: string;
  value?: unknown;
  position?: number;
  steps?: AstNode[];
  stages?: unknown[];
  [key: string]: unknown;
}

export class ExpressionError extends Error {}

const compiled = new LRUCache<string, Expression>({ max: 20_000 });

export function compile(source: string): Expression {
  let expression = compiled.get(source);
  if (!expression) {
    try {
      expression = jsonata(source);
    } catch (error) {
      const e = error as { message: string; position?: number };
      throw new ExpressionError(`${JSON.stringify(source)} is not a valid JSONata expression: ${e.message}${e.position !== undefined ? ` (at character ${e.position})` : ''}`);
    }
    compiled.set(source, expression);
  }
  return expression;
}

export interface References {
  nodes: Set<string>;
  /** Uses of `nodes` that do not name a node (`nodes[0]`, `$keys(nodes)`): they cannot be checked. */
  dynamic: boolean;
}

/** A plain dotted path such as `nodes.build.version` or `params.env`: read without the parser. */
const SIMPLE_PATH = /^\s*(?:\$\$\.)?([A-Za-z_][\w]*)(?:\.(?:`([^`]+)`|([A-Za-z_][\w]*)))*\s*$/;
const NAMED_NODE = /^\s*(?:\$\$\.)?nodes\.(?:`([^`]+)`|([A-Za-z_][\w]*))/;
const referenceCache = new LRUCache<string, { nodes: string[]; dynamic: boolean }>({ max: 20_000 });

/** The node ids an expression reads as `nodes.<id>`. Throws ExpressionError on a syntax error. */
export function references(source: string, into: References = { nodes: new Set(), dynamic: false }): References {
  let found = referenceCache.get(source);
  if (!found) {
    const simple = SIMPLE_PATH.exec(source);
    if (simple) {
      // JSONata's parser is costly next to a regular expression; most inputs are plain paths.
      const named = simple[1] === 'nodes' ? NAMED_NODE.exec(source) : null;
      found = { nodes: named ? [named[1] ?? named[2]!] : [], dynamic: simple[1] === 'nodes' && !named };
    } else {
      const walked: References = { nodes: new Set(), dynamic: false };
      walk(compile(source).ast() as AstNode, walked);
      found = { nodes: [...walked.nodes], dynamic: walked.dynamic };
    }
    referenceCache.set(source, found);
  }
  for (const id of found.nodes) into.nodes.add(id);
  if (found.dynamic) into.dynamic = true;
  return into;
}

function walk(node: unknown, into: References): void {
  if (Array.isArray(node)) {
    for (const child of node) walk(child, into);
    return;
  }
  if (!node || typeof node !== 'object') return;
  const ast = node as AstNode;
  if (ast.type === 'path' && ast.steps) {
    let i = 0;
    if (ast.steps[0]?.type === 'variable' && (ast.steps[0].value === '$' || ast.steps[0].value === '')) i = 1;
    const head = ast.steps[i];
    if (head?.type === 'name' && head.value === 'nodes') {
      const next = ast.steps[i + 1];
      if (!head.stages && next?.type === 'name' && typeof next.value === 'string') into.nodes.add(next.value);
      else into.dynamic = true;
    }
  }
  for (const [key, value] of Object.entries(ast)) {
    if (key !== 'position' && key !== 'value' && typeof value === 'object') walk(value, into);
  }
}

/** Calls visit for each expression in an input value: strings starting with "=" (not "=="). */
export function inputExpressions(value: unknown, visit: (source: string) => void): void {
  if (typeof value === 'string') {
    if (value.startsWith('=') && !value.startsWith('==')) visit(value.slice(1));
  } else if (Array.isArray(value)) {
    for (const item of value) inputExpressions(item, visit);
  } else if (value && typeof value === 'object') {
    for (const item of Object.values(value)) inputExpressions(item, visit);
  }
}

export interface Scope {
  params: Record<string, unknown>;
  nodes: Record<string, unknown>;
}

export async function evaluate(source: string, scope: Scope): Promise<unknown> {
  let result: unknown;
  try {
    result = await compile(source).evaluate(scope);
  } catch (error) {
    if (error instanceof ExpressionError) throw error;
    const e = error as { message: string; position?: number };
    throw new ExpressionError(`expression ${JSON.stringify(source)} failed: ${e.message}${e.position !== undefined ? ` (at character ${e.position})` : ''}`);
  }
  // JSONata returns its own sequence arrays and functions; keep plain JSON only.
  return result === undefined ? undefined : (JSON.parse(JSON.stringify(result)) as unknown);
}

/** The input with every "=" expression replaced by its value ("==x" becomes "=x"). */
export async function evaluateInput(value: unknown, scope: Scope): Promise<unknown> {
  if (typeof value === 'string') {
    if (value.startsWith('==')) return value.slice(1);
    if (value.startsWith('=')) return evaluate(value.slice(1), scope);
    return value;
  }
  if (Array.isArray(value)) return Promise.all(value.map((item) => evaluateInput(item, scope)));
  if (value && typeof value === 'object') {
    const out: Record<string, unknown> = {};
    for (const [key, item] of Object.entries(value)) {
      const evaluated = await evaluateInput(item, scope);
      if (evaluated !== undefined) out[key] = evaluated;
    }
    return out;
  }
  return value;
}

/** JSONata truthiness, as its $boolean() defines it: empty strings, arrays and objects, 0 and null are false. */
export async function condition(source: string, scope: Scope): Promise<boolean> {
  return truthy(await evaluate(source, scope));
}

function truthy(value: unknown): boolean {
  if (Array.isArray(value)) return value.some(truthy);
  if (value && typeof value === 'object') return Object.keys(value).length > 0;
  return Boolean(value);
}
