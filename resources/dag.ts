/*
 * DAG resources: a workflow's latest definition and a run with its nodes. Both change, and
 * their changes are announced as resource updates (subscribable).
 */
import { dagRuns, dagStatus } from '../tools/dag.js';
import { defineResource } from '../src/surface/resource.js';
import { runUri, workflowUri } from '../src/surface/uris.js';

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

export const DAG_RESOURCES = [dagWorkflow, dagRun];
