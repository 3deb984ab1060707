/*
 * governance/cel-policy
 * =====================
 * Compiling and evaluating policy expressions in CEL (@bufbuild/cel). A policy's expression
 * describes the situation it objects to: true means the policy fires (deny or warn).
 *
 * @bufbuild/cel parses with positions but does not export a type checker, so compile()
 * adds a small static check of its own over the parsed tree: every identifier is a declared
 * variable (or a comprehension variable in scope), every function exists, operands whose
 * types are known at compile time fit the operator, and the result can be a bool. What
 * stays dynamic (fields of `request`, `artifact`, `principal`) is checked when evaluated.
 *
 * Policies run on every gated call, so each has a cost budget, counted in comprehension
 * steps (one iteration of all, exists, exists_one, map or filter):
 * governance.settings.policyCostLimit. At governance_set_policy, a static estimate
 * (the product of the sizes of nested comprehension ranges whose size is known from the
 * expression: list and map literals, and comprehensions over them) over the limit is
 * refused. When evaluated, every step is counted, and so is the time: an evaluation over
 * either budget stops at once and reports an error naming the limit, which a deny policy
 * turns into a violation (fail closed). `matches()` runs on RE2 (linear time).
 */
import { celEnv, celFunc, CelScalar, isCelError, isCelList, isCelMap, mapType, parse, plan, type CelValue } from '@bufbuild/cel';
import { strings } from '@bufbuild/cel/ext';

/** The variables every policy sees. */
export const POLICY_VARIABLES = {
  principal: mapType(CelScalar.STRING, CelScalar.DYN),
  action: CelScalar.STRING,
  artifact: mapType(CelScalar.STRING, CelScalar.DYN),
  environment: CelScalar.STRING,
  request: mapType(CelScalar.STRING, CelScalar.DYN),
};

export interface PolicyInput {
  principal: { id: string; scopes: readonly string[] };
  action: string;
  artifact: Record<string, unknown>;
  environment: string;
  request: Record<string, unknown>;
}

/** The budget of one evaluation. */
export interface PolicyLimits {
  /** Comprehension steps (governance.settings.policyCostLimit). */
  costLimit: number;
  /** Milliseconds (governance.settings.policyTimeoutMs). */
  timeoutMs: number;
}

export const DEFAULT_POLICY_LIMITS: PolicyLimits = { costLimit: 100_000, timeoutMs: 200 };

/** Counted steps of the evaluation under way (CEL evaluates synchronously: one at a time). */
interface Meter {
  steps: number;
  limits: PolicyLimits;
  deadline: number;
  over?: 'cost' | 'time';
}
let meter: Meter | undefined;

/**
 * Wraps every comprehension's loop condition: counts the step and, over a budget, answers
 * false, which ends the loop (and every enclosing one) at once.
 */
const STEP = '__policy_step';
const step = celFunc(STEP, [CelScalar.DYN], CelScalar.DYN, (condition) => {
  const m = meter;
  if (!m) return condition;
  if (m.over) return false;
  if (++m.steps > m.limits.costLimit) m.over = 'cost';
  else if ((m.steps & 15) === 0 && performance.now() > m.deadline) m.over = 'time';
  return m.over ? false : condition;
});

const env = celEnv({ variables: POLICY_VARIABLES, funcs: [...strings, step] });

export class PolicyCompileError extends Error {
  constructor(
    readonly reason: string,
    readonly line: number,
    readonly column: number,
  ) {
    super(`line ${line}, column ${column}: ${reason}`);
  }
}

export type CompiledPolicy = ((input: PolicyInput) => { fired: boolean } | { error: string; overBudget?: boolean }) & {
  /** Static estimate of the steps one evaluation takes (comprehensions over ranges of known size). */
  estimatedCost: number;
};

type Kind = 'bool' | 'int' | 'uint' | 'double' | 'string' | 'bytes' | 'null' | 'list' | 'map' | 'dyn';

const VARIABLE_KINDS: Record<string, Kind> = { principal: 'map', action: 'string', artifact: 'map', environment: 'string', request: 'map' };
// Operators the parser emits that are not functions in the environment.
const SPECIAL = new Set(['_&&_', '_||_', '_?_:_', '_[_]', '@not_strictly_false', '_[?_]', '_?._']);
const ARITHMETIC = new Set(['_+_', '_-_', '_*_', '_/_', '_%_']);
const ORDERING = new Set(['_<_', '_<=_', '_>_', '_>=_']);
const NUMERIC = new Set<Kind>(['int', 'uint', 'double']);

function operatorName(fn: string): string {
  return fn.replace(/^@/, '').replace(/_/g, '').trim() || fn;
}

interface ExprNode {
  id: bigint;
  exprKind: { case: string | undefined; value?: unknown };
}

function positionOf(source: string, offset: number): { line: number; column: number } {
  const before = source.slice(0, Math.max(0, offset));
  const lines = before.split('\n');
  return { line: lines.length, column: lines.at(-1)!.length + 1 };
}

/** Parses and statically checks an expression; throws PolicyCompileError with a position. */
export function compile(expression: string, limits: PolicyLimits = DEFAULT_POLICY_LIMITS): CompiledPolicy {
  let parsed: ReturnType<typeof parse>;
  try {
    parsed = parse(expression);
  } catch (error) {
    const e = error as Error & { location?: { start: { line: number; column: number } }; found?: string | null; rawMessage?: string };
    const at = e.location?.start ?? { line: 1, column: 1 };
    const reason = e.location ? `syntax error: ${e.rawMessage ?? e.message}` : `syntax error: ${e.message}`;
    throw new PolicyCompileError(reason, at.line, at.column);
  }
  const positions = parsed.sourceInfo?.positions ?? {};
  const fail = (node: ExprNode, reason: string): never => {
    const { line, column } = positionOf(expression, positions[node.id.toString()] ?? 0);
    throw new PolicyCompileError(reason, line, column);
  };

  const kindOf = (node: ExprNode, scope: ReadonlySet<string>): Kind => {
    const { exprKind } = node;
    switch (exprKind.case) {
      case 'constExpr': {
        const constant = (exprKind.value as { constantKind: { case: string } }).constantKind.case;
        const kinds: Record<string, Kind> = { boolValue: 'bool', int64Value: 'int', uint64Value: 'uint', doubleValue: 'double', stringValue: 'string', bytesValue: 'bytes', nullValue: 'null' };
        return kinds[constant] ?? 'dyn';
      }
      case 'identExpr': {
        const { name } = exprKind.value as { name: string };
        if (scope.has(name)) return 'dyn';
        const kind = VARIABLE_KINDS[name];
        if (!kind) return fail(node, `undeclared reference to "${name}"; policies see principal, action, artifact, environment and request`);
        return kind;
      }
      case 'selectExpr': {
        const { operand, testOnly } = exprKind.value as { operand: ExprNode; testOnly: boolean };
        const operandKind = kindOf(operand, scope);
        if (operandKind !== 'map' && operandKind !== 'dyn') return fail(node, `cannot select a field of a ${operandKind}`);
        return testOnly ? 'bool' : 'dyn';
      }
      case 'listExpr': {
        for (const element of (exprKind.value as { elements: ExprNode[] }).elements) kindOf(element, scope);
        return 'list';
      }
      case 'structExpr': {
        for (const entry of (exprKind.value as { entries: { keyKind: { case: string; value: unknown }; value: ExprNode }[] }).entries) {
          if (entry.keyKind.case === 'mapKey') kindOf(entry.keyKind.value as ExprNode, scope);
          kindOf(entry.value, scope);
        }
        return 'map';
      }
      case 'comprehensionExpr': {
        const c = exprKind.value as { iterVar: string; iterVar2: string; accuVar: string; iterRange: ExprNode; accuInit: ExprNode; loopCondition: ExprNode; loopStep: ExprNode; result: ExprNode };
        const rangeKind = kindOf(c.iterRange, scope);
        if (rangeKind !== 'list' && rangeKind !== 'map' && rangeKind !== 'dyn') return fail(c.iterRange, `cannot iterate over a ${rangeKind}; use a list or a map`);
        kindOf(c.accuInit, scope);
        const inner = new Set([...scope, c.iterVar, c.accuVar, ...(c.iterVar2 ? [c.iterVar2] : [])]);
        kindOf(c.loopCondition, inner);
        kindOf(c.loopStep, inner);
        return kindOf(c.result, new Set([...scope, c.accuVar]));
      }
      case 'callExpr': {
        const call = exprKind.value as { function: string; target?: ExprNode; args: ExprNode[] };
        const targetKind = call.target ? kindOf(call.target, scope) : undefined;
        const args = call.args.map((arg) => kindOf(arg, scope));
        const fn = call.function;
        if (fn === STEP || (!SPECIAL.has(fn) && !env.funcs.find(fn))) return fail(node, `unknown function "${fn}"`);
        const known = (k: Kind) => k !== 'dyn';
        if (fn === '_&&_' || fn === '_||_' || fn === '!_') {
          args.forEach((k, i) => {
            if (known(k) && k !== 'bool') fail(call.args[i]!, `"${operatorName(fn)}" needs bool operands, got ${k}`);
          });
          return 'bool';
        }
        if (fn === '_?_:_') {
          if (known(args[0]!) && args[0] !== 'bool') fail(call.args[0]!, `a condition must be bool, got ${args[0]}`);
          return args[1] === args[2] ? args[1]! : 'dyn';
        }
        if (ARITHMETIC.has(fn) && args.length === 2) {
          const [a, b] = args as [Kind, Kind];
          if (known(a) && known(b)) {
            const fits = a === b && (NUMERIC.has(a) || (fn === '_+_' && (a === 'string' || a === 'bytes' || a === 'list')));
            if (!fits) fail(node, `no "${operatorName(fn)}" for (${a}, ${b})`);
          }
          return known(a) ? a : b;
        }
        if (ORDERING.has(fn)) {
          const [a, b] = args as [Kind, Kind];
          if (known(a) && known(b) && a !== b && !(NUMERIC.has(a) && NUMERIC.has(b))) fail(node, `cannot compare ${a} with ${b}`);
          return 'bool';
        }
        if (fn === '_==_' || fn === '_!=_' || fn === '@in' || fn === 'startsWith' || fn === 'endsWith' || fn === 'contains' || fn === 'matches') {
          if (fn === '@in' && known(args[1]!) && args[1] !== 'list' && args[1] !== 'map') fail(call.args[1]!, `"in" needs a list or a map on its right, got ${args[1]}`);
          if (['startsWith', 'endsWith', 'matches'].includes(fn) && targetKind && known(targetKind) && targetKind !== 'string') fail(node, `${fn}() applies to strings, got ${targetKind}`);
          return 'bool';
        }
        if (fn === 'size' || fn === 'int') return 'int';
        if (fn === 'string') return 'string';
        if (fn === 'double') return 'double';
        return 'dyn';
      }
      default:
        return 'dyn';
    }
  };

  const resultKind = kindOf(parsed.expr as unknown as ExprNode, new Set());
  if (resultKind !== 'bool' && resultKind !== 'dyn') {
    const { line, column } = positionOf(expression, 0);
    throw new PolicyCompileError(`the expression must evaluate to a bool (true when the policy fires), but it is of type ${resultKind}`, line, column);
  }

  const estimatedCost = staticCost(parsed.expr as unknown as ExprNode, 1);
  meterComprehensions(parsed.expr as unknown as ExprNode);
  const evaluate = plan(env, parsed);
  const run = (input: PolicyInput) => {
    const started = performance.now();
    const m: Meter = { steps: 0, limits, deadline: started + limits.timeoutMs };
    meter = m;
    let result: ReturnType<typeof evaluate>;
    try {
      result = evaluate({
        principal: { id: input.principal.id, scopes: [...input.principal.scopes] },
        action: input.action,
        artifact: toCel(input.artifact) as Record<string, never>,
        environment: input.environment,
        request: toCel(input.request) as Record<string, never>,
      } as never);
    } finally {
      meter = undefined;
    }
    if (m.over === 'cost') {
      return { error: `evaluation stopped after ${limits.costLimit} comprehension steps, the policyCostLimit (governance.settings.policyCostLimit); iterate over less, or nest fewer comprehensions`, overBudget: true };
    }
    if (m.over === 'time') {
      return { error: `evaluation stopped after ${limits.timeoutMs} ms, the policyTimeoutMs (governance.settings.policyTimeoutMs); iterate over less, or nest fewer comprehensions`, overBudget: true };
    }
    if (isCelError(result)) return { error: result.message };
    if (typeof result !== 'boolean') return { error: `evaluated to ${describe(result)}, not a bool` };
    return { fired: result };
  };
  return Object.assign(run, { estimatedCost });
}

/** How many elements a range has, when the expression says: literals, and comprehensions or concatenations of them. */
function knownSize(node: ExprNode): number | undefined {
  const { exprKind } = node;
  switch (exprKind.case) {
    case 'listExpr':
      return (exprKind.value as { elements: unknown[] }).elements.length;
    case 'structExpr':
      return (exprKind.value as { entries: unknown[] }).entries.length;
    case 'comprehensionExpr':
      // map and filter produce at most one element per element of their range
      return knownSize((exprKind.value as { iterRange: ExprNode }).iterRange);
    case 'callExpr': {
      const call = exprKind.value as { function: string; args: ExprNode[] };
      if (call.function === '_+_' && call.args.length === 2) {
        const [a, b] = call.args.map(knownSize);
        return a !== undefined && b !== undefined ? a + b : undefined;
      }
      return undefined;
    }
    default:
      return undefined;
  }
}

/**
 * Comprehension steps one evaluation takes at least: each comprehension runs once per
 * element of its range for every step of the comprehensions around it. Ranges of unknown
 * size (from the request) count as one element here; the meter counts them when evaluated.
 */
function staticCost(node: ExprNode | undefined, outer: number): number {
  if (!node || typeof node !== 'object') return 0;
  const { exprKind } = node;
  if (exprKind?.case === 'comprehensionExpr') {
    const c = exprKind.value as { iterRange: ExprNode; accuInit: ExprNode; loopCondition: ExprNode; loopStep: ExprNode; result: ExprNode };
    const inner = outer * Math.max(1, knownSize(c.iterRange) ?? 1);
    return inner + staticCost(c.iterRange, outer) + staticCost(c.accuInit, outer) + staticCost(c.loopCondition, inner) + staticCost(c.loopStep, inner) + staticCost(c.result, outer);
  }
  let total = 0;
  for (const child of children(node)) total += staticCost(child, outer);
  return total;
}

function children(node: ExprNode): ExprNode[] {
  const { exprKind } = node;
  const v = exprKind?.value as Record<string, unknown> | undefined;
  switch (exprKind?.case) {
    case 'selectExpr':
      return [v!.operand as ExprNode];
    case 'callExpr':
      return [...(v!.target ? [v!.target as ExprNode] : []), ...(v!.args as ExprNode[])];
    case 'listExpr':
      return v!.elements as ExprNode[];
    case 'structExpr':
      return (v!.entries as { keyKind: { case: string; value: unknown }; value: ExprNode }[]).flatMap((e) => [...(e.keyKind.case === 'mapKey' ? [e.keyKind.value as ExprNode] : []), e.value]);
    case 'comprehensionExpr': {
      const c = v as unknown as { iterRange: ExprNode; accuInit: ExprNode; loopCondition: ExprNode; loopStep: ExprNode; result: ExprNode };
      return [c.iterRange, c.accuInit, c.loopCondition, c.loopStep, c.result];
    }
    default:
      return [];
  }
}

/** Rewrites every comprehension's loop condition `c` to `__policy_step(c)`, which the meter counts. */
function meterComprehensions(node: ExprNode): void {
  for (const child of children(node)) meterComprehensions(child);
  if (node.exprKind.case === 'comprehensionExpr') {
    const c = node.exprKind.value as { loopCondition: ExprNode };
    c.loopCondition = { id: c.loopCondition.id, exprKind: { case: 'callExpr', value: { function: STEP, args: [c.loopCondition] } } } as unknown as ExprNode;
  }
}

// JSON numbers become CEL doubles; integers stay comparable with int literals through
// CEL's cross-type numeric equality and ordering.
function toCel(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(toCel);
  if (value && typeof value === 'object' && !(value instanceof Uint8Array)) {
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, toCel(v)]));
  }
  return value === undefined ? null : value;
}

function describe(value: CelValue): string {
  if (isCelList(value)) return 'a list';
  if (isCelMap(value)) return 'a map';
  return `${typeof value} ${String(value)}`;
}
