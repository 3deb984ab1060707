/*
 * DAG resources
 * =============
 * `dag://workflows/{name}` (the latest version's definition; name URL-encoded) and
 * `dag://runs/{id}` (the run and its nodes, as dag_status shows them). Where the
 * connection lasts (stdio, 2025-era handshake), a client may subscribe to a run and is
 * sent notifications/resources/updated on every state change this process sees.
 */
import { ResourceTemplate, type McpServer } from '@modelcontextprotocol/server';
import { hasScope, type App } from '../app.js';
import { EngineError } from '../errors.js';
import { decodeVariable, enginesFor } from './resource-access.js';
import { dagStatus } from '../operations/dag.js';
import type { Principal } from '../operations/operation.js';

const RUN_URI = /^dag:\/\/runs\/([^/]+)$/;


export const runUri = (id: string) => `dag://runs/${encodeURIComponent(id)}`;

export function registerDagSurface(app: App, server: McpServer, principal: Principal, sessionful: boolean): void {
  const dag = async () => (await enginesFor(app, principal, dagStatus.scope, 'workflows and runs')).dag;

  server.registerResource(
    'dag-workflow',
    new ResourceTemplate('dag://workflows/{name}', {
      list: async () => ({
        resources: hasScope(principal, dagStatus.scope)
          ? (await (await dag()).workflowNames('', 100)).map((name) => ({ uri: `dag://workflows/${encodeURIComponent(name)}`, name, mimeType: 'application/json' }))
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
          ? (await (await dag()).listRuns({ limit: 50 })).runs.map((r) => ({ uri: runUri(r.runId), name: `${r.workflow} ${r.status}`, mimeType: 'application/json' }))
          : [],
      }),
    }),
    { title: 'Workflow run', description: 'A run and its nodes; subscribe (stdio) to be told of every change.' },
    async (uri, variables) => {
      const status = await app.invoke(dagStatus, { runId: decodeVariable(variables.id) }, { principal });
      return { contents: [{ uri: uri.href, mimeType: 'application/json', text: JSON.stringify(status) }] };
    },
  );

  if (!sessionful) return;
  const subscribed = new Map<string, (runId: string) => void>();
  const stop = async () => {
    const { engines } = await app.services();
    for (const listener of subscribed.values()) engines.dag.scheduler.events.off('run', listener);
    subscribed.clear();
  };
  server.server.setRequestHandler('resources/subscribe', async (request) => {
    const uri = request.params.uri;
    const match = RUN_URI.exec(uri);
    if (!match) throw new EngineError('INVALID_INPUT', `only runs can be subscribed to (dag://runs/{id}); got ${JSON.stringify(uri)}`);
    const engine = await dag();
    const runId = decodeVariable(match[1]);
    await engine.run(runId);
    if (!subscribed.has(uri)) {
      const listener = (changed: string) => {
        if (changed === runId) void server.server.sendResourceUpdated({ uri }).catch(() => undefined);
      };
      subscribed.set(uri, listener);
      engine.scheduler.events.on('run', listener);
    }
    return {};
  });
  server.server.setRequestHandler('resources/unsubscribe', async (request) => {
    const listener = subscribed.get(request.params.uri);
    if (listener) {
      (await app.services()).engines.dag.scheduler.events.off('run', listener);
      subscribed.delete(request.params.uri);
    }
    return {};
  });
  const previous = server.server.onclose;
  server.server.onclose = () => {
    previous?.();
    void stop().catch(() => undefined);
  };
}
