/*
 * dag/expressions
 * ===============
 * Node inputs, `when` conditions and the workflow output are written in JSONata
 * (https://jsonata.org), evaluated over `{ params, nodes }`, where `nodes.<id>` is the
 * output of an upstream node. In an input, every string starting with "=" is an
 * expression ("==" escapes a literal leading "="); `when` is always an expression.
 * References to `nodes.<id>` are read from the parsed expression, so validation can tell
 * which nodes an expression needs and refuse any that is not upstream.
 *
 * Expressions are user programs, so every evaluation runs under budgets: a time budget
 * (DAG_engine.settings.expressionTimeoutMs) and a nesting-depth budget
 * (expressionMaxDepth), checked at each step; an evaluation over either fails with an error
 * that names the setting. The time is what the evaluation's own steps took, not the time it
 * waited while others ran. Evaluation gives the event loop back every few milliseconds, so a
 * runaway expression delays other work by at most that much, and regex literals run on RE2
 * (linear time).
 */
import type jsonataType from 'jsonata';
import { LRUCache } from 'lru-cache';
import { lazyRequire } from '../../platform/lazy-require.js';
import { compileLinear, LinearRegExp, UnsupportedPatternError } from '../../platform/linear-regex.js';

type Expression = ReturnType<typeof jsonataType>;

// Required on the first expression to compile (it is CommonJS, so synchronously): a server
// whose workflows never reach one does not keep it loaded (about 9 MB of RSS).
const jsonata = lazyRequire<typeof jsonataType>('jsonata');

interface AstNode {
  type?: string;
  value?: unknown;
  position?: number;
  steps?: AstNode[];
  stages?: unknown[];
  [key: string]: unknown;
}

export class ExpressionError extends Error {}

/** The budgets of one evaluation. */
export interface ExpressionLimits {
  /** Milliseconds of its own steps one evaluation may take (DAG_engine.settings.expressionTimeoutMs). */
  timeoutMs: number;
  /** How deeply evaluation may nest, recursion included (DAG_engine.settings.expressionMaxDepth). */
  maxDepth: number;
}

export const DEFAULT_EXPRESSION_LIMITS: ExpressionLimits = { timeoutMs: 1000, maxDepth: 1000 };

/** An evaluation that went over a budget: the node fails and is not retried. */
export class ExpressionBudgetError extends ExpressionError {}

/** How long JSONata keeps the thread before giving the event loop a turn. */
const SLICE_MS = 10;
/** Most time one step is charged: a longer gap between two steps was mostly other work. */
const MAX_STEP_CHARGE_MS = 50;
/** When the current run of JSONata work began (after a turn given to the event loop). */
let sliceStart = 0;
/** When the last step of any evaluation began, or JSONata got the thread back. */
let lastStep = 0;

/** Time charged to each evaluation (keyed by its root frame). */
const charged = new WeakMap<object, { used: number }>();

/**
 * JSONata calls this before every step and awaits what it returns. It charges the time since
 * the previous step of any evaluation to this one (steps of concurrent evaluations
 * interleave, so each pays for its own steps), stops the evaluation over its time budget,
 * and every SLICE_MS gives the event loop a turn: JSONata's steps are promise continuations
 * (microtasks), which run before any I/O callback, so without a pause a long evaluation
 * would starve the event loop, and HTTP requests (/health included) and timers would wait
 * for it to end. The time spent waiting for that turn is not charged.
 */
function meter(timeoutMs: number) {
  return (_expr: unknown, _input: unknown, environment: { base: object }): Promise<void> | undefined => {
    const now = performance.now();
    let budget = charged.get(environment.base);
    if (!budget) {
      budget = { used: 0 };
      charged.set(environment.base, budget);
    }
    budget.used += Math.min(Math.max(0, now - lastStep), MAX_STEP_CHARGE_MS);
    lastStep = now;
    if (budget.used > timeoutMs) throw { code: 'D1012', value: timeoutMs, stack: new Error().stack };
    if (now - sliceStart < SLICE_MS) return undefined;
    return new Promise((resolve) =>
      setImmediate(() => {
        sliceStart = lastStep = performance.now();
        resolve();
      }),
    );
  };
}

const compiled = new LRUCache<string, Expression>({ max: 20_000 });

/**
 * The compiled expression, with the given budgets (the depth as JSONata's `stack` option, the
 * time by meter()) and RE2 for its regex literals. Without limits: for reading the tree.
 */
export function compile(source: string, limits?: ExpressionLimits): Expression {
  const key = limits ? `${limits.timeoutMs}/${limits.maxDepth}/${source}` : `-/${source}`;
  let expression = compiled.get(key);
  if (!expression) {
    try {
      expression = jsonata()(source, { RegexEngine: LinearRegExp as unknown as RegExpConstructor, ...(limits ? { stack: limits.maxDepth } : {}) });
    } catch (error) {
      const e = error as { message: string; position?: number };
      throw new ExpressionError(`${JSON.stringify(source)} is not a valid JSONata expression: ${e.message}${e.position !== undefined ? ` (at character ${e.position})` : ''}`);
    }
    if (limits) expression.assign(Symbol.for('jsonata.__evaluate_entry') as unknown as string, meter(limits.timeoutMs));
    compiled.set(key, expression);
  }
  return expression;
}

export interface References {
  nodes: Set<string>;
  /** Uses of `nodes` that do not name a node (`nodes[0]`, `$keys(nodes)`): they cannot be checked. */
  dynamic: boolean;
  /** The expression calls $secret(). */
  secret?: boolean;
}

/** A plain dotted path such as `nodes.build.version` or `params.env`: read without the parser. */
const SIMPLE_PATH = /^\s*(?:\$\$\.)?([A-Za-z_][\w]*)(?:\.(?:`([^`]+)`|([A-Za-z_][\w]*)))*\s*$/;
const NAMED_NODE = /^\s*(?:\$\$\.)?nodes\.(?:`([^`]+)`|([A-Za-z_][\w]*))/;
const referenceCache = new LRUCache<string, { nodes: string[]; dynamic: boolean; secret?: boolean }>({ max: 20_000 });

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
      try {
        walk(compile(source).ast() as AstNode, walked);
      } catch (error) {
        if (error instanceof UnsupportedPatternError) throw new ExpressionError(`expression ${JSON.stringify(source)}: ${error.message}`);
        throw error;
      }
      found = { nodes: [...walked.nodes], dynamic: walked.dynamic, secret: walked.secret };
    }
    referenceCache.set(source, found);
  }
  for (const id of found.nodes) into.nodes.add(id);
  if (found.dynamic) into.dynamic = true;
  if (found.secret) into.secret = true;
  return into;
}

function walk(node: unknown, into: References): void {
  if (Array.isArray(node)) {
    for (const child of node) walk(child, into);
    return;
  }
  if (!node || typeof node !== 'object') return;
  const ast = node as AstNode;
  // Regex literals run on RE2: one it cannot compile is refused with the definition.
  if (ast.type === 'regex' && ast.value instanceof RegExp) compileLinear(ast.value.source, ast.value.flags);
  // Any use of $secret, called or passed around.
  if (ast.type === 'variable' && ast.value === 'secret') into.secret = true;
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

/** Extra functions for one evaluation, e.g. $secret in http_request headers. */
export type Bindings = Record<string, unknown>;

export async function evaluate(source: string, scope: Scope, limits: ExpressionLimits, bindings?: Bindings): Promise<unknown> {
  let result: unknown;
  const expression = compile(source, limits);
  // Whatever ran since JSONata's last step was not JSONata: charge none of it to this evaluation.
  lastStep = performance.now();
  try {
    result = await expression.evaluate(scope, bindings);
  } catch (error) {
    if (error instanceof ExpressionError) throw error;
    const e = error as { message: string; position?: number; code?: string };
    if (e.code === 'D1012') {
      throw new ExpressionBudgetError(
        `expression ${JSON.stringify(source)} ran longer than expressionTimeoutMs (${limits.timeoutMs} ms, DAG_engine.settings.expressionTimeoutMs) and was stopped: look for recursion that never ends or work that grows with the input, or raise the setting`,
      );
    }
    if (e.code === 'D1011') {
      throw new ExpressionBudgetError(
        `expression ${JSON.stringify(source)} nested deeper than expressionMaxDepth (${limits.maxDepth}, DAG_engine.settings.expressionMaxDepth) and was stopped: look for recursion without a base case, write it tail-recursively, or raise the setting`,
      );
    }
    if (error instanceof UnsupportedPatternError) throw new ExpressionError(`expression ${JSON.stringify(source)}: ${error.message}`);
    throw new ExpressionError(`expression ${JSON.stringify(source)} failed: ${e.message}${e.position !== undefined ? ` (at character ${e.position})` : ''}`);
  }
  // JSONata returns its own sequence arrays and functions; keep plain JSON only.
  return result === undefined ? undefined : (JSON.parse(JSON.stringify(result)) as unknown);
}

/**
 * The input with every "=" expression replaced by its value ("==x" becomes "=x").
 * `bindingsAt` gives the extra functions for the value at a path (keys from the input's root).
 */
export async function evaluateInput(value: unknown, scope: Scope, limits: ExpressionLimits, bindingsAt?: (path: readonly string[]) => Bindings | undefined, path: readonly string[] = []): Promise<unknown> {
  if (typeof value === 'string') {
    if (value.startsWith('==')) return value.slice(1);
    if (value.startsWith('=')) return evaluate(value.slice(1), scope, limits, bindingsAt?.(path));
    return value;
  }
  if (Array.isArray(value)) {
    const out: unknown[] = [];
    // One after another: each evaluation's time budget is its own.
    for (const [i, item] of value.entries()) out.push(await evaluateInput(item, scope, limits, bindingsAt, [...path, String(i)]));
    return out;
  }
  if (value && typeof value === 'object') {
    const out: Record<string, unknown> = {};
    for (const [key, item] of Object.entries(value)) {
      const evaluated = await evaluateInput(item, scope, limits, bindingsAt, [...path, key]);
      if (evaluated !== undefined) out[key] = evaluated;
    }
    return out;
  }
  return value;
}

/** JSONata truthiness, as its $boolean() defines it: empty strings, arrays and objects, 0 and null are false. */
export async function condition(source: string, scope: Scope, limits: ExpressionLimits, bindings?: Bindings): Promise<boolean> {
  return truthy(await evaluate(source, scope, limits, bindings));
}

function truthy(value: unknown): boolean {
  if (Array.isArray(value)) return value.some(truthy);
  if (value && typeof value === 'object') return Object.keys(value).length > 0;
  return Boolean(value);
}
