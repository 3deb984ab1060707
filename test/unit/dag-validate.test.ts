/*
 * Workflow validation: every problem is reported with its node id and says what to change.
 */
import { describe, expect, it } from 'vitest';
import { validateDefinition, type ValidationIssue } from '../../src/engines/dag/validate.js';

const ACTIONS = ['noop', 'delay', 'fail', 'transform', 'http_request', 'registry_publish', 'registry_get'];
const options = { maxNodes: 50, isAction: (name: string) => ACTIONS.includes(name), actionNames: () => ACTIONS };

function errors(definition: unknown): ValidationIssue[] {
  const result = validateDefinition(definition, options);
  return result.valid ? [] : result.errors;
}

const wf = (nodes: unknown[], extra: Record<string, unknown> = {}) => ({ name: 'test/wf', nodes, ...extra });

describe('workflow validation', () => {
  it('accepts a valid workflow and plans children and references', () => {
    const result = validateDefinition(
      wf([
        { id: 'a', action: 'noop' },
        { id: 'b', action: 'transform', dependsOn: ['a'], input: { x: '=nodes.a.v' } },
        { id: 'c', action: 'transform', dependsOn: ['b'], input: { y: '=nodes.a.v + 1', literal: '==not an expression' }, when: 'params.go' },
      ]),
      options,
    );
    expect(result.valid).toBe(true);
    if (!result.valid) return;
    expect(result.plan.nodes.map((n) => [n.def.id, n.children, n.dependencies, n.refs])).toEqual([
      ['a', [1], 0, []],
      ['b', [2], 1, ['a']],
      ['c', [], 1, ['a']],
    ]);
  });

  it('reports a cycle with its path', () => {
    const found = errors(
      wf([
        { id: 'start', action: 'noop' },
        { id: 'a', action: 'noop', dependsOn: ['start', 'c'] },
        { id: 'b', action: 'noop', dependsOn: ['a'] },
        { id: 'c', action: 'noop', dependsOn: ['b'] },
      ]),
    );
    expect(found).toHaveLength(1);
    expect(found[0]!.message).toMatch(/^cycle: (a → b → c → a|b → c → a → b|c → a → b → c); a workflow must be acyclic$/);
  });

  it('reports unknown and self dependencies, duplicate ids and unknown actions by node', () => {
    expect(
      errors(
        wf([
          { id: 'a', action: 'noop', dependsOn: ['ghost'] },
          { id: 'b', action: 'noop', dependsOn: ['b'] },
          { id: 'a', action: 'noop' },
          { id: 'c', action: 'registry_publsh' },
        ]),
      ),
    ).toEqual([
      { nodeId: 'a', message: 'duplicate node id "a" (also nodes[0]); node ids must be unique' },
      expect.objectContaining({ nodeId: 'c', message: expect.stringMatching(/^unknown action "registry_publsh"; did you mean one of registry_publish, registry_get\?/) }),
      { nodeId: 'a', message: 'depends on unknown node "ghost"' },
      { nodeId: 'b', message: 'depends on itself; remove it from its own dependsOn' },
    ]);
  });

  it('refuses expressions that read nodes which are not upstream, unknown, or not named', () => {
    const found = errors(
      wf([
        { id: 'a', action: 'noop' },
        { id: 'b', action: 'noop' },
        { id: 'c', action: 'transform', dependsOn: ['a'], input: { fromSibling: '=nodes.b' } },
        { id: 'd', action: 'transform', dependsOn: ['c'], input: { fromGrandparent: '=nodes.a', missing: '=nodes.zzz' } },
        { id: 'e', action: 'noop', dependsOn: ['a'], when: '$count($keys(nodes)) > 0' },
      ]),
    );
    expect(found).toEqual([
      { nodeId: 'c', message: 'an expression reads nodes.b, but "b" is not upstream of "c"; add it to dependsOn' },
      { nodeId: 'd', message: 'an expression reads nodes.zzz, but there is no node "zzz"' },
      expect.objectContaining({ nodeId: 'e', message: expect.stringContaining('reads "nodes" without naming a node') }),
    ]);
  });

  it('reports expression syntax errors with the position', () => {
    const [error] = errors(wf([{ id: 'a', action: 'transform', input: { x: '=params.a +' } }]));
    expect(error!.nodeId).toBe('a');
    expect(error!.message).toMatch(/^"params\.a \+" is not a valid JSONata expression: .* \(at character \d+\)$/);
  });

  it('reports shape errors with the node id and the key path', () => {
    const found = errors(wf([{ id: 'ok', action: 'noop' }, { id: 'bad', action: 'noop', retry: { maxAttempts: 0 } }, { id: '1x', action: 'noop' }]));
    expect(found).toEqual([
      { nodeId: 'bad', message: 'nodes[1].retry.maxAttempts: too small: expected number to be >=1, got 0' },
      { nodeId: '1x', message: expect.stringMatching(/^nodes\[2\]\.id: expected letters, digits/) },
    ]);
    expect(errors({ name: 'x', nodes: [] })).toEqual([{ message: 'nodes: a workflow needs at least one node, got []' }]);
  });

  it('refuses more than maxNodes nodes, naming the setting', () => {
    const nodes = Array.from({ length: 51 }, (_, i) => ({ id: `n${i}`, action: 'noop' }));
    expect(errors(wf(nodes))).toEqual([
      { message: 'the workflow has 51 nodes; the limit is 50 (DAG_engine.settings.maxNodes): split it into several workflows' },
    ]);
  });

  it('validates a 10,000-node layered workflow', () => {
    const nodes = Array.from({ length: 10_000 }, (_, i) => ({
      id: `n${i}`,
      action: 'transform',
      ...(i >= 100 ? { dependsOn: [`n${i - 100}`, `n${i - 100 + ((i + 1) % 100)}`], input: { v: `=nodes.n${i - 100}` } } : {}),
    }));
    const result = validateDefinition(wf(nodes), { ...options, maxNodes: 10_000 });
    expect(result.errors).toEqual([]);
  });
});
