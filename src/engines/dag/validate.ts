/*
 * dag/validate
 * ============
 * Checks a workflow definition and, when it is valid, returns its plan: nodes in
 * definition order with the ordinals of their children and the upstream nodes their
 * expressions read. Every problem is reported with its node id: the shape, more than
 * maxNodes nodes, duplicate ids, unknown actions, unknown or self dependencies, cycles
 * (with the cycle path), expression syntax, and references to nodes that are unknown or
 * not upstream. Runs in O(nodes + edges) plus the upstream searches for references
 * that are not direct dependencies.
 */
import { formatIssues } from '../../zod-issues.js';
import { definitionSchema, type NodeDefinition, type WorkflowDefinition } from './definition.js';
import { ExpressionError, inputExpressions, references, type References } from './expressions.js';

export interface ValidationIssue {
  nodeId?: string;
  message: string;
}

export interface PlannedNode {
  def: NodeDefinition;
  ordinal: number;
  children: number[];
  dependencies: number;
  /** Upstream node ids the node's expressions read. */
  refs: string[];
}

export interface Plan {
  definition: WorkflowDefinition;
  nodes: PlannedNode[];
}

export type ValidationResult = { valid: true; plan: Plan; errors: [] } | { valid: false; errors: ValidationIssue[] };

export interface ValidateOptions {
  maxNodes: number;
  isAction(name: string): boolean;
  /** A few names to suggest when an action is unknown. */
  actionNames(): readonly string[];
}

const MAX_REPORTED = 100;

export function validateDefinition(input: unknown, options: ValidateOptions): ValidationResult {
  const nodeCount = Array.isArray((input as { nodes?: unknown })?.nodes) ? (input as { nodes: unknown[] }).nodes.length : 0;
  if (nodeCount > options.maxNodes) {
    return { valid: false, errors: [{ message: `the workflow has ${nodeCount} nodes; the limit is ${options.maxNodes} (DAG_engine.settings.maxNodes): split it into several workflows` }] };
  }
  const parsed = definitionSchema.safeParse(input, { reportInput: true });
  if (!parsed.success) {
    const rawNodes = (input as { nodes?: { id?: unknown }[] })?.nodes;
    return {
      valid: false,
      errors: parsed.error.issues.slice(0, MAX_REPORTED).map((issue, i) => {
        const index = issue.path[0] === 'nodes' && typeof issue.path[1] === 'number' ? issue.path[1] : undefined;
        const id = index !== undefined && Array.isArray(rawNodes) ? rawNodes[index]?.id : undefined;
        return { ...(typeof id === 'string' ? { nodeId: id } : {}), message: formatIssues([parsed.error.issues[i]!])[0]! };
      }),
    };
  }
  const definition = parsed.data;
  const errors: ValidationIssue[] = [];
  const report = (issue: ValidationIssue) => {
    if (errors.length < MAX_REPORTED) errors.push(issue);
  };

  const index = new Map<string, number>();
  definition.nodes.forEach((node, i) => {
    if (index.has(node.id)) report({ nodeId: node.id, message: `duplicate node id "${node.id}" (also nodes[${index.get(node.id)}]); node ids must be unique` });
    else index.set(node.id, i);
  });

  for (const node of definition.nodes) {
    if (!options.isAction(node.action)) {
      const near = options.actionNames().filter((name) => name.split('_')[0] === node.action.split('_')[0]).slice(0, 8);
      report({ nodeId: node.id, message: `unknown action "${node.action}"; ${near.length ? `did you mean one of ${near.join(', ')}? ` : ''}actions are the builtins (noop, delay, fail, transform, http_request) and operation tool names` });
    }
  }

  const planned: PlannedNode[] = definition.nodes.map((def, ordinal) => ({ def, ordinal, children: [], dependencies: 0, refs: [] }));
  const parents: number[][] = definition.nodes.map(() => []);
  for (const node of planned) {
    const seen = new Set<string>();
    for (const dep of node.def.dependsOn ?? []) {
      if (seen.has(dep)) continue;
      seen.add(dep);
      const target = index.get(dep);
      if (dep === node.def.id) report({ nodeId: node.def.id, message: 'depends on itself; remove it from its own dependsOn' });
      else if (target === undefined) report({ nodeId: node.def.id, message: `depends on unknown node "${dep}"` });
      else {
        planned[target]!.children.push(node.ordinal);
        parents[node.ordinal]!.push(target);
        node.dependencies++;
      }
    }
  }

  const cycle = findCycle(planned);
  if (cycle) {
    const path = cycle.map((i) => planned[i]!.def.id);
    report({ nodeId: path[0], message: `cycle: ${[...path, path[0]].join(' → ')}; a workflow must be acyclic` });
  }

  const isUpstream = upstreamCheck(parents);
  for (const node of planned) {
    const refs: References = { nodes: new Set(), dynamic: false };
    try {
      inputExpressions(node.def.input, (source) => references(source, refs));
      if (node.def.when) references(node.def.when, refs);
    } catch (error) {
      if (!(error instanceof ExpressionError)) throw error;
      report({ nodeId: node.def.id, message: error.message });
      continue;
    }
    if (refs.dynamic) report({ nodeId: node.def.id, message: 'reads "nodes" without naming a node; write nodes.<id> (nodes.`my-id` for ids with "-") so the dependency can be checked' });
    if (refs.secret && secretOutsideHeaders(node.def)) report({ nodeId: node.def.id, message: SECRET_ONLY_IN_HEADERS });
    for (const ref of refs.nodes) {
      const target = index.get(ref);
      if (target === undefined) report({ nodeId: node.def.id, message: `an expression reads nodes.${ref}, but there is no node "${ref}"` });
      else if (!cycle && !isUpstream(target, node.ordinal)) {
        report({ nodeId: node.def.id, message: `an expression reads nodes.${ref}, but "${ref}" is not upstream of "${node.def.id}"; add it to dependsOn` });
      } else node.refs.push(ref);
    }
  }
  if (definition.output !== undefined) {
    const refs: References = { nodes: new Set(), dynamic: false };
    try {
      inputExpressions(definition.output, (source) => references(source, refs));
      for (const ref of refs.nodes) if (!index.has(ref)) report({ message: `output reads nodes.${ref}, but there is no node "${ref}"` });
      if (refs.secret) report({ message: `output: ${SECRET_ONLY_IN_HEADERS}` });
    } catch (error) {
      if (!(error instanceof ExpressionError)) throw error;
      report({ message: `output: ${error.message}` });
    }
  }

  if (errors.length > 0) return { valid: false, errors };
  return { valid: true, errors: [], plan: { definition, nodes: planned } };
}

/** One cycle as node ordinals in order, or undefined when the graph is acyclic. */
function findCycle(nodes: PlannedNode[]): number[] | undefined {
  // Iterative DFS with colours: 0 unvisited, 1 on the current path, 2 done.
  const colour = new Uint8Array(nodes.length);
  const parent = new Int32Array(nodes.length).fill(-1);
  for (let root = 0; root < nodes.length; root++) {
    if (colour[root] !== 0) continue;
    const stack: [number, number][] = [[root, 0]];
    colour[root] = 1;
    while (stack.length > 0) {
      const top = stack[stack.length - 1]!;
      const [at, next] = top;
      const children = nodes[at]!.children;
      if (next >= children.length) {
        colour[at] = 2;
        stack.pop();
        continue;
      }
      top[1]++;
      const child = children[next]!;
      if (colour[child] === 1) {
        // The path from child down to at is on the stack; walk it back through parent[].
        const path: number[] = [];
        for (let i = at; i !== child; i = parent[i]!) path.push(i);
        path.push(child);
        return path.reverse();
      }
      if (colour[child] === 0) {
        colour[child] = 1;
        parent[child] = at;
        stack.push([child, 0]);
      }
    }
  }
  return undefined;
}

/** Whether `ancestor` is upstream of `node`: a direct parent, else a search up the graph. */
function upstreamCheck(parents: number[][]): (ancestor: number, node: number) => boolean {
  return (ancestor, node) => {
    if (parents[node]!.includes(ancestor)) return true;
    const seen = new Set<number>([node]);
    const stack = [...parents[node]!];
    while (stack.length > 0) {
      const at = stack.pop()!;
      if (at === ancestor) return true;
      if (seen.has(at)) continue;
      seen.add(at);
      stack.push(...parents[at]!);
    }
    return false;
  };
}

const SECRET_ONLY_IN_HEADERS = '$secret() may be used only in the header values of an http_request node\'s input (headers: {name: \'=$secret("NAME")\'}), so that a secret never lands in an output or the audit log';

/** Whether a node calls $secret() anywhere but an http_request header value. */
function secretOutsideHeaders(node: { action: string; input?: unknown; when?: string }): boolean {
  const calls = (value: unknown) => {
    let found = false;
    inputExpressions(value, (source) => {
      if (references(source).secret) found = true;
    });
    return found;
  };
  if (node.when !== undefined && references(node.when).secret) return true;
  const input = node.input;
  if (node.action !== 'http_request' || !input || typeof input !== 'object' || Array.isArray(input)) return calls(input);
  return Object.entries(input).some(([key, value]) => {
    if (key !== 'headers') return calls(value);
    if (!value || typeof value !== 'object' || Array.isArray(value)) return calls(value);
    return Object.values(value).some((header) => typeof header !== 'string' && calls(header));
  });
}
