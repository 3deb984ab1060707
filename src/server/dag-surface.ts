/*
 * DAG resources
 * =============
 * `dag://workflows/{name}` (the latest version's definition; name URL-encoded) and
 * `dag://runs/{id}` (the run and its nodes, as dag_status shows them). Both change, and
 * their changes are announced on app.events (change-notifications.ts delivers them).
 */
import { ResourceTemplate, type McpServer } from '@modelcontextprotocol/server';
import { hasScope, type App } from '../app.js';
import { EngineError } from '../errors.js';
import { decodeVariable, enginesFor } from './resource-access.js';
import { dagStatus, runUri, runViewer, workflowUri } from '../operations/dag.js';
import type { Principal } from '../operations/operation.js';

const SUBSCRIBABLE = /^dag:\/\/(runs|workflows)\/([^/]+)$/;

export function registerDagSurface(app: App, server: McpServer, principal: Principal): void {
  const dag = async () => (await enginesFor(app, principal, dagStatus.scope, 'workflows and runs')).dag;

  server.registerResource(
    'dag-workflow',
    new ResourceTemplate('dag://workflows/{name}', {
      list: async () => ({
        resources: hasScope(principal, dagStatus.scope)
          ? (await (await dag()).workflowNames('', 100)).map((name) => ({ uri: workflowUri(name), name, mimeType: 'application/json' }))
          : [],
      }),
      complete: { name: async (value) => (await (await dag()).workflowNames(decodeVariable(value))).map(encodeURIComponent) },
    }),
    { title: 'Workflow', description: 'Latest version of a defined workflow; name is URL-encoded ("release%2Fpublish").' },
    async (uri, variables) => {
      const record = await (await dag()).workflow(decodeVariable(variables.name));
      return { contents: [{ uri: uri.href, mimeType: 'application/json', text: JSON.stringify(record) }] };
    },
  );

  server.registerResource(
    'dag-run',
    new ResourceTemplate('dag://runs/{id}', {
      list: async () => ({
        resources: hasScope(principal, dagStatus.scope)
          ? (await (await dag()).listRuns({ limit: 50, viewer: runViewer(principal) })).runs.map((r) => ({ uri: runUri(r.runId), name: `${r.workflow} ${r.status}`, mimeType: 'application/json' }))
          : [],
      }),
    }),
    { title: 'Workflow run', description: 'A run and its nodes; subscribe to be told of every change.' },
    async (uri, variables) => {
      const status = await app.invoke(dagStatus, { runId: decodeVariable(variables.id) }, { principal });
      return { contents: [{ uri: uri.href, mimeType: 'application/json', text: JSON.stringify(status) }] };
    },
  );
}

/**
 * Refuses a resources/subscribe the server will never send updates for: only runs and
 * workflows change, and the principal must be able to read them.
 */
export async function assertSubscribable(app: App, principal: Principal, uri: string): Promise<void> {
  const match = SUBSCRIBABLE.exec(uri);
  if (!match) throw new EngineError('INVALID_INPUT', `only runs and workflows can be subscribed to (dag://runs/{id}, dag://workflows/{name}); got ${JSON.stringify(uri)}`);
  const dag = (await enginesFor(app, principal, dagStatus.scope, 'workflows and runs')).dag;
  const key = decodeVariable(match[2]);
  if (match[1] === 'runs') await dag.run(key, runViewer(principal));
  else await dag.workflow(key);
}
