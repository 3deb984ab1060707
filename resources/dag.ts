/*
 * DAG resources: a workflow's latest definition and a run with its nodes. Both change, and
 * their changes are announced as resource updates (subscribable).
 */
import { dagRuns, dagStatus } from '../tools/dag.js';
import { MCP_APP_MIME_TYPE, mcpAppHtml } from '../src/surface/mcp-app.js';
import { defineResource } from '../src/surface/resource.js';
import { RUN_GRAPH_APP_URI, runUri, workflowUri } from '../src/surface/uris.js';

export const dagWorkflow = defineResource({
  name: 'dag-workflow',
  engine: 'dag',
  uriTemplate: 'dag://workflows/{name}',
  title: 'Workflow',
  description: 'Latest version of a defined workflow; name is URL-encoded ("release%2Fpublish").',
  scope: 'dag:read',
  governedAs: { operation: 'dag_runs', input: ({ name }) => ({ workflow: name }) },
  subscribable: true,
  async list({ engines }) {
    return (await engines.dag.workflowNames('', 100)).map((name) => ({ uri: workflowUri(name), name, mimeType: 'application/json' }));
  },
  complete: { name: (value, _values, { engines }) => engines.dag.workflowNames(value) },
  async read({ name }, { engines }) {
    return { mimeType: 'application/json', text: JSON.stringify(await engines.dag.workflow(name)) };
  },
});

export const dagRun = defineResource({
  name: 'dag-run',
  engine: 'dag',
  uriTemplate: 'dag://runs/{id}',
  title: 'Workflow run',
  description: 'A run and its nodes, as dag_status shows them; subscribe to be told of every change.',
  scope: dagStatus.scope,
  governedAs: { operation: dagStatus.name, input: ({ id }) => ({ runId: id }) },
  subscribable: true,
  async list(ctx) {
    const { runs } = await ctx.handle(dagRuns, { limit: 50 });
    return runs.map((r) => ({ uri: runUri(r.runId), name: `${r.workflow} ${r.status}`, mimeType: 'application/json' }));
  },
  async read({ id }, ctx) {
    return { mimeType: 'application/json', text: JSON.stringify(await ctx.handle(dagStatus, { runId: id })) };
  },
});

/** The MCP App dag_run and dag_status name: the run drawn as the console draws it. */
export const runGraphApp = defineResource({
  name: 'dag-run-graph-app',
  engine: 'dag',
  uriTemplate: RUN_GRAPH_APP_URI,
  title: 'Run graph (MCP App)',
  description: 'HTML view of a dag_run or dag_status result: the run as an SVG graph of its nodes and states.',
  scope: dagStatus.scope,
  governedAs: { operation: dagRuns.name, input: () => ({}) },
  async read() {
    return { mimeType: MCP_APP_MIME_TYPE, text: mcpAppHtml('run-graph') };
  },
});

export const DAG_RESOURCES = [dagWorkflow, dagRun, runGraphApp];
