/*
 * /metrics as Prometheus scrapes it: after real tool calls over HTTP, the request, tool,
 * RAG and cache series have moved; the pool figures appear where there is a pool; every
 * engine's metric is defined with help text so the engines only have to count.
 */
import type { Client } from '@modelcontextprotocol/client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { appBackends, startTestApp, title, type TestApp } from '../helpers/backends.js';
import { connectWithHeaders, serveInProcess, type InProcessHttp } from '../helpers/in-process-http.js';

interface Sample {
  name: string;
  labels: Record<string, string>;
  value: number;
}

function parse(text: string): Sample[] {
  const samples: Sample[] = [];
  for (const line of text.split('\n')) {
    const match = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)$/.exec(line);
    if (!match) continue;
    const labels: Record<string, string> = {};
    for (const pair of (match[2] ?? '').matchAll(/(\w+)="((?:[^"\\]|\\.)*)"/g)) labels[pair[1]!] = pair[2]!;
    samples.push({ name: match[1]!, labels, value: Number(match[3]) });
  }
  return samples;
}

/** Sum of the samples of `name` whose labels include `labels`. */
function total(samples: Sample[], name: string, labels: Record<string, string> = {}): number {
  return samples
    .filter((s) => s.name === name && Object.entries(labels).every(([k, v]) => s.labels[k] === v))
    .reduce((sum, s) => sum + s.value, 0);
}

const DOCUMENTS = [
  { id: 'gpl', title: 'GPL', text: 'The GNU General Public License is a copyleft license. Derivative works must be distributed under the same terms.' },
  { id: 'mit', title: 'MIT', text: 'The MIT License is a permissive license. It requires preservation of the copyright notice and nothing more.' },
];

for (const backend of appBackends()) {
  describe.skipIf(backend.skip)(`/metrics after real calls, ${title(backend)}`, () => {
    let t: TestApp;
    let http: InProcessHttp;
    let client: Client;
    const scrape = async () => {
      const response = await fetch(`${http.origin}/metrics`);
      expect(response.headers.get('content-type')).toContain('text/plain');
      const text = await response.text();
      return { text, samples: parse(text) };
    };

    beforeAll(async () => {
      t = await startTestApp(backend);
      http = await serveInProcess(t.app);
      client = await connectWithHeaders(http.url);
    });
    afterAll(async () => {
      await client?.close();
      await http?.close();
      await t?.close();
    });

    it('counts ingested chunks, queries by mode, cache hits and misses, tool calls and HTTP requests', async () => {
      const before = (await scrape()).samples;
      const ingest = await client.callTool({ name: 'rag_ingest', arguments: { collection: 'metrics', documents: DOCUMENTS } });
      expect(ingest.isError).toBeFalsy();
      const chunks = (ingest.structuredContent as { chunks: number }).chunks;
      expect(chunks).toBeGreaterThan(0);
      // The same query twice: the second is answered from the cache.
      for (let i = 0; i < 2; i++) {
        const query = await client.callTool({ name: 'rag_query', arguments: { collection: 'metrics', query: 'copyleft license' } });
        expect(query.isError).toBeFalsy();
      }
      await client.callTool({ name: 'rag_query', arguments: { collection: 'metrics', query: 'copyright notice', mode: 'fulltext' } });
      const after = (await scrape()).samples;

      const moved = (name: string, labels: Record<string, string> = {}) => total(after, name, labels) - total(before, name, labels);
      expect(moved('rag_ingested_chunks_total')).toBe(chunks);
      expect(moved('rag_query_duration_seconds_count', { mode: 'hybrid' })).toBe(2);
      expect(moved('rag_query_duration_seconds_count', { mode: 'fulltext' })).toBe(1);
      expect(moved('cache_hits_total', { backend: backend.redisUrl ? 'memory+redis' : 'memory', keyspace: 'rag' })).toBe(1);
      expect(moved('cache_misses_total', { keyspace: 'rag' })).toBe(2);
      expect(moved('mcp_tool_calls_total', { tool: 'rag_query', outcome: 'ok' })).toBe(3);
      expect(moved('mcp_tool_duration_seconds_count', { tool: 'rag_ingest' })).toBe(1);
      expect(moved('http_requests_total', { route: '/mcp', method: 'POST' })).toBeGreaterThanOrEqual(4);
      // Every call leaves an audit record.
      expect(moved('audit_records_total')).toBe(4);
    });

    it('counts DAG runs by status and times their nodes by operation and status', async () => {
      const before = (await scrape()).samples;
      const run = await client.callTool({
        name: 'dag_run',
        arguments: {
          wait: true,
          definition: {
            name: 'metrics/publish',
            nodes: [
              { id: 'shape', action: 'transform', input: { content: 'hello' } },
              { id: 'publish', action: 'registry_publish', dependsOn: ['shape'], input: { name: 'acme/from-dag', version: '1.0.0', content: '=nodes.shape.content' } },
            ],
          },
        },
      });
      expect(run.structuredContent).toMatchObject({ status: 'succeeded' });
      const after = (await scrape()).samples;
      const moved = (name: string, labels: Record<string, string> = {}) => total(after, name, labels) - total(before, name, labels);
      expect(moved('dag_runs_total', { status: 'succeeded' })).toBe(1);
      expect(moved('dag_node_duration_seconds_count', { operation: 'transform', status: 'succeeded' })).toBe(1);
      expect(moved('dag_node_duration_seconds_count', { operation: 'registry_publish', status: 'succeeded' })).toBe(1);
      // The node's operation went through invoke, like any tool call.
      expect(moved('mcp_tool_calls_total', { tool: 'registry_publish', outcome: 'ok' })).toBe(1);
      // Nothing is left queued or running once the run is over.
      expect(total(after, 'execution_queue_depth')).toBe(0);
      expect(total(after, 'execution_inflight')).toBe(0);
    });

    it('reports process figures and the database pool where there is one', async () => {
      const { samples } = await scrape();
      expect(total(samples, 'process_cpu_user_seconds_total')).toBeGreaterThan(0);
      expect(total(samples, 'nodejs_heap_size_used_bytes')).toBeGreaterThan(0);
      const pool = samples.filter((s) => s.name === 'db_pool_connections');
      if (backend.databaseUrl) {
        expect(pool.map((s) => s.labels.state).sort()).toEqual(['idle', 'used']);
        expect(total(samples, 'db_pool_connections', { pool: 'postgres' })).toBeGreaterThan(0);
        expect(total(samples, 'db_pool_max_connections', { pool: 'postgres' })).toBe(t.app.config.engineMap.database.pool.max);
        expect(samples.some((s) => s.name === 'db_pool_pending_requests')).toBe(true);
      } else {
        // PGlite is one in-process connection: no pool to report.
        expect(pool).toEqual([]);
      }
    });

    it('counts decided promotions by outcome', async () => {
      const call = async (name: string, args: Record<string, unknown>) => {
        const result = await client.callTool({ name, arguments: args });
        expect(result.isError, JSON.stringify(result.content)).toBeFalsy();
        return result.structuredContent as Record<string, unknown>;
      };
      await call('registry_publish', { name: 'metrics/promoted', version: '1.0.0', content: 'x', mediaType: 'text/plain' });
      const before = total((await scrape()).samples, 'promotion_requests_total', { outcome: 'promoted' });
      expect(await call('promotion_request', { name: 'metrics/promoted', version: '1.0.0', environment: 'dev', reason: 'metrics test' })).toMatchObject({ status: 'promoted' });
      expect(total((await scrape()).samples, 'promotion_requests_total', { outcome: 'promoted' })).toBe(before + 1);
    });

    it('defines every engine figure with help text, ready for the engines to count', async () => {
      const { text, samples } = await scrape();
      for (const name of [
        'dag_runs_total',
        'dag_node_duration_seconds',
        'execution_queue_depth',
        'execution_inflight',
        'promotion_requests_total',
        'audit_records_total',
        'audit_chain_verifications_total',
        'execution_max_concurrency',
        'execution_max_queued',
        'cache_hits_total',
        'cache_misses_total',
        'rag_ingested_chunks_total',
        'rag_query_duration_seconds',
      ]) {
        expect(text).toMatch(new RegExp(`^# HELP ${name} \\S`, 'm'));
      }
      expect(total(samples, 'execution_queue_depth')).toBe(0);
      // the bounds the alert rules compare the executor gauges with, as configured
      const execution = t.app.config.engineMap.engine_map.execution.settings;
      expect(total(samples, 'execution_max_concurrency')).toBe(execution.maxConcurrency);
      expect(total(samples, 'execution_max_queued')).toBe(execution.maxQueued);
      // both results exist before any verification, so increase() sees the first broken one
      expect(samples.filter((s) => s.name === 'audit_chain_verifications_total').map((s) => s.labels.result).sort()).toEqual(['broken', 'ok']);
    });
  });
}
