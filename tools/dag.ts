/*
 * DAG operations: define, validate, run, follow, cancel and list workflow runs. A run is
 * its starter's: status, cancel and the list show another principal's runs only to holders
 * of `dag:admin` (or `*`); to anyone else such a run does not exist (NOT_FOUND).
 * The definition format is documented in docs/dag.md; the tool schemas only name its
 * keys, to keep tools/list small, and the engine's validation reports what is wrong.
 */
import { z } from 'zod';
import type { RunViewer } from '../src/engines/dag/dag-engine.js';
import { defineOperation, type Principal } from '../src/surface/operation.js';

/** Sees every principal's runs (and their output); without it a principal sees its own only. */
export const DAG_ADMIN_SCOPE = 'dag:admin';

/** How the dag engine sees a caller: its runs are its own, an administrator sees all. */
export function runViewer(principal: Principal): RunViewer {
  return { id: principal.id, admin: principal.scopes.includes('*') || principal.scopes.includes(DAG_ADMIN_SCOPE) };
}
import { inline } from '../src/surface/result-text.js';
import { RUN_GRAPH_APP_URI, runUri } from '../src/surface/uris.js';


const RUN_STATUS = ['queued', 'running', 'succeeded', 'failed', 'cancelled'] as const;
const NODE_STATUS = ['pending', 'running', 'succeeded', 'failed', 'skipped', 'cancelled'] as const;

// Object or YAML text; the engine validates it and names what is wrong (docs/dag.md).
const DEFINITION_FORMAT = 'Object or YAML: {name, params?, nodes: [{id, action, input?, dependsOn?, when?, retry?, timeoutMs?}], output?}. Strings starting "=" are JSONata over {params, nodes}.';
const definition = (description: string) => z.unknown().describe(description);
const runId = () => z.string().max(64).describe('Run id.');
const outRunId = () => z.string().describe('Run id.');
const runStatus = () => z.string().describe('queued|running|succeeded|failed|cancelled');
const time = () => z.string().optional().describe('ISO time.');
const dropNull = <T extends Record<string, unknown>>(value: T) => Object.fromEntries(Object.entries(value).filter(([, v]) => v !== null && v !== undefined));

export const dagDefine = defineOperation({
  name: 'dag_define',
  engine: 'dag',
  title: 'Define workflow',
  description: 'Validate and store a workflow as a new immutable version.',
  input: z.object({ definition: definition(DEFINITION_FORMAT) }),
  output: z.object({
    name: z.string().describe('Workflow name.'),
    version: z.number().describe('Stored version.'),
    created: z.boolean().describe('false: identical to a stored one.'),
  }),
  annotations: { readOnlyHint: false, destructiveHint: false, idempotentHint: true },
  scope: 'dag:write',
  async handler(input, { engines, principal }) {
    return engines.dag.define(input.definition, principal.id);
  },
});

export const dagValidate = defineOperation({
  name: 'dag_validate',
  engine: 'dag',
  title: 'Validate workflow',
  description: 'Check a workflow definition without storing it.',
  input: z.object({ definition: definition('As for dag_define.') }),
  output: z.object({
    valid: z.boolean().describe('Runnable.'),
    errors: z.array(z.object({ nodeId: z.string().optional().describe('Node at fault.'), message: z.string().describe('Problem.') })).describe('Problems.'),
  }),
  annotations: { readOnlyHint: true, idempotentHint: true },
  scope: 'dag:read',
  async handler(input, { engines }) {
    const { valid, errors } = engines.dag.validate(input.definition);
    return { valid, errors };
  },
});

export const dagRun = defineOperation({
  name: 'dag_run',
  engine: 'dag',
  title: 'Run workflow',
  description: 'Run a defined workflow or an inline definition; with wait, report progress and return the final state.',
  input: z.object({
    workflow: z.string().max(200).optional().describe('"name" or "name@version".'),
    definition: definition('Inline definition, as for dag_define.').optional(),
    params: z.record(z.string(), z.unknown()).optional().describe('Run parameters.'),
    idempotencyKey: z.string().max(200).optional().describe('Repeat-safe key.'),
    wait: z.boolean().default(false).describe('Wait for the end.'),
  }),
  output: z.object({
    runId: outRunId(),
    status: runStatus(),
    output: z.unknown().optional().describe('Workflow output.'),
    error: z.string().optional().describe('Why it failed: each failed node with its error.'),
  }),
  annotations: { readOnlyHint: false, destructiveHint: true, idempotentHint: false, openWorldHint: true },
  scope: 'dag:run',
  ui: RUN_GRAPH_APP_URI,
  async handler(input, { engines, principal, signal, progress }) {
    const started = await engines.dag.startRun(input, { id: principal.id, scopes: [...principal.scopes] });
    if (!input.wait) return { runId: started.runId, status: started.status };
    let view;
    try {
      view = await engines.dag.waitForRun(started.runId, signal, (v) => progress(v.done, v.nodeCount, `${v.status}: ${v.done}/${v.nodeCount} nodes done`));
    } catch (error) {
      // The caller gave up on the call that started the run: the run stops too.
      if (signal.aborted && started.created) await engines.dag.cancel(started.runId, runViewer(principal));
      throw error;
    }
    // A failed run names its failed nodes and their errors, so the caller need not ask dag_status.
    let error = view.error;
    if (view.status === 'failed') {
      const failed = await engines.dag.nodes(view.runId, runViewer(principal), 'failed');
      if (failed.length > 0) {
        const shown = failed.slice(0, 5).map((n) => `node "${n.id}" (${n.action}) failed after ${n.attempts} attempt${n.attempts === 1 ? '' : 's'}: ${n.error ?? 'no error recorded'}`);
        error = `${shown.join('; ')}${failed.length > 5 ? `; and ${failed.length - 5} more (dag_status with nodeStatus "failed")` : ''}`;
      }
    }
    return { runId: view.runId, status: view.status, ...(view.output !== undefined ? { output: view.output } : {}), ...(error ? { error } : {}) };
  },
  links: (run) => [{ uri: runUri(run.runId), name: `run ${run.runId}`, mimeType: 'application/json' }],
});

export const dagStatus = defineOperation({
  name: 'dag_status',
  engine: 'dag',
  title: 'Run status',
  description: 'State of a run and its nodes.',
  input: z.object({ runId: runId(), nodeStatus: z.enum(NODE_STATUS).optional().describe('Only nodes in this state.') }),
  output: z.object({
    runId: outRunId(),
    workflow: z.string().describe('name@version.'),
    status: runStatus(),
    startedAt: time(),
    finishedAt: time(),
    output: z.unknown().optional().describe('Workflow output.'),
    error: z.string().optional().describe('Why it failed.'),
    nodes: z
      .array(
        z.object({
          id: z.string().describe('Node id.'),
          dependsOn: z.array(z.string()).describe('Upstream ids.'),
          status: z.string().describe('pending|running|succeeded|failed|skipped|cancelled'),
          attempts: z.number().describe('Attempts made.'),
          startedAt: time(),
          finishedAt: time(),
          error: z.string().optional().describe('Last error.'),
          output: z.unknown().optional().describe('Output.'),
        }),
      )
      .describe('Nodes.'),
  }),
  annotations: { readOnlyHint: true, idempotentHint: true },
  scope: 'dag:read',
  ui: RUN_GRAPH_APP_URI,
  async handler(input, { engines, principal }) {
    const viewer = runViewer(principal);
    const run = await engines.dag.run(input.runId, viewer);
    const nodes = await engines.dag.nodes(input.runId, viewer, input.nodeStatus);
    return {
      ...dropNull({ runId: run.runId, workflow: run.workflow, status: run.status, startedAt: run.startedAt, finishedAt: run.finishedAt, output: run.output, error: run.error }),
      nodes: nodes.map(({ action: _action, ...node }) => dropNull(node)),
    } as { runId: string; workflow: string; status: string; nodes: { id: string; dependsOn: string[]; status: string; attempts: number }[] };
  },
  summarize: (run) => {
    const lines = [`run ${run.runId} ${run.workflow}: ${run.status}${run.startedAt ? ` started ${run.startedAt}` : ''}${run.finishedAt ? ` finished ${run.finishedAt}` : ''}`];
    if (run.error) lines.push(`error: ${run.error}`);
    if (run.output !== undefined) lines.push(`output: ${inline(run.output)}`);
    lines.push(`nodes (${run.nodes.length}):`);
    for (const node of run.nodes) {
      let line = `- ${node.id} ${node.status} attempts=${node.attempts}`;
      if (node.error) line += ` error=${inline(node.error)}`;
      if (node.output !== undefined) {
        const output = inline(node.output);
        line += ` output=${output.length > 300 ? `${output.slice(0, 299)}… (cut; whole in structuredContent, ${runUri(run.runId)})` : output}`;
      }
      lines.push(line);
    }
    return lines.join('\n');
  },
  links: (run) => [{ uri: runUri(run.runId), name: `run ${run.runId}`, mimeType: 'application/json' }],
});

export const dagCancel = defineOperation({
  name: 'dag_cancel',
  engine: 'dag',
  title: 'Cancel run',
  description: 'Cancel a run: no new node starts; running ones are aborted.',
  input: z.object({ runId: runId() }),
  output: z.object({ runId: outRunId(), status: z.string().describe('Run state.') }),
  annotations: { readOnlyHint: false, destructiveHint: true, idempotentHint: true },
  scope: 'dag:run',
  async handler(input, { engines, principal }) {
    const view = await engines.dag.cancel(input.runId, runViewer(principal));
    return { runId: view.runId, status: view.status };
  },
});

export const dagRuns = defineOperation({
  name: 'dag_runs',
  engine: 'dag',
  title: 'List runs',
  description: 'List runs, newest first, paginated.',
  input: z.object({
    status: z.enum(RUN_STATUS).optional().describe('Only this status.'),
    workflow: z.string().max(200).optional().describe('Only this workflow.'),
    cursor: z.string().max(64).optional().describe('nextCursor.'),
    limit: z.number().int().min(1).max(100).default(20).describe('Page size.'),
  }),
  output: z.object({
    runs: z
      .array(
        z.object({
          runId: outRunId(),
          workflow: z.string().describe('name@version.'),
          status: z.string().describe('Run state.'),
          createdAt: z.string().describe('ISO time.'),
        }),
      )
      .describe('Runs.'),
    nextCursor: z.string().optional().describe('Next page.'),
  }),
  annotations: { readOnlyHint: true, idempotentHint: true },
  scope: 'dag:read',
  async handler(input, { engines, principal }) {
    const page = await engines.dag.listRuns({ ...input, viewer: runViewer(principal) });
    return {
      runs: page.runs.map((r) => ({ runId: r.runId, workflow: r.workflow, status: r.status, createdAt: r.createdAt })),
      ...(page.nextCursor ? { nextCursor: page.nextCursor } : {}),
    };
  },
});

export const DAG_OPERATIONS = [dagDefine, dagValidate, dagRun, dagStatus, dagCancel, dagRuns];
