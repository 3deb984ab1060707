/*
 * Traces as an SRE finds them in Jaeger: the built server, started with
 * OTEL_EXPORTER_OTLP_ENDPOINT pointing at a real Jaeger, exports one trace per MCP request
 * whose spans nest request → operation → SQL (and Redis), over HTTP and over stdio; the
 * server's log lines name the same trace id. Needs a running Jaeger
 * (`bash .ci/services/jaeger.sh` prints both variables); .ci/run starts one.
 */
import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connectStdio } from '../helpers/clients.js';
import { cleanEnv, startHttpServer, type RunningServer } from '../helpers/cli.js';
import { DATABASE_URL, dropSchema, REDIS_URL, uniqueId } from '../helpers/backends.js';
import { connectWithHeaders } from '../helpers/in-process-http.js';
import pg from 'pg';
import { sleep } from '../helpers/timing.js';

const OTLP = process.env.OTEL_TEST_ENDPOINT;
const QUERY = process.env.JAEGER_QUERY_URL;
const skip = !OTLP || !QUERY ? 'set OTEL_TEST_ENDPOINT and JAEGER_QUERY_URL to a Jaeger (bash .ci/services/jaeger.sh prints them)' : undefined;

interface JaegerSpan {
  traceID: string;
  spanID: string;
  operationName: string;
  references: { refType: string; spanID: string }[];
  tags: { key: string; value: unknown }[];
}
interface JaegerTrace {
  traceID: string;
  spans: JaegerSpan[];
}

const tag = (span: JaegerSpan, key: string) => span.tags.find((t) => t.key === key)?.value;
const parentId = (span: JaegerSpan) => span.references.find((r) => r.refType === 'CHILD_OF')?.spanID;

/** The trace holding a span with this name, once Jaeger has stored it (export is batched). */
async function findTrace(service: string, spanName: string): Promise<JaegerTrace> {
  for (let attempt = 0; attempt < 100; attempt++) {
    const response = await fetch(`${QUERY}/api/traces?service=${encodeURIComponent(service)}&limit=100&lookback=1h`);
    if (response.ok) {
      const { data } = (await response.json()) as { data: JaegerTrace[] | null };
      const trace = data?.find((t) => t.spans.some((s) => s.operationName === spanName));
      if (trace) return trace;
    }
    await sleep(200);
  }
  throw new Error(`Jaeger has no trace of ${service} with a span "${spanName}"`);
}

function tracingEnv(service: string, extra: Record<string, string> = {}) {
  // A short batch delay only makes the test quicker; shutdown flushes in any case.
  return { OTEL_EXPORTER_OTLP_ENDPOINT: OTLP!, OTEL_SERVICE_NAME: service, OTEL_BSP_SCHEDULE_DELAY: '200', ...extra };
}

describe.skipIf(skip)(`traces in a real OTLP receiver (Jaeger)${skip ? ` (skipped: ${skip})` : ''}`, () => {
  describe(`over HTTP, on ${DATABASE_URL ? 'PostgreSQL' : 'PGlite'}${REDIS_URL ? ' and Redis' : ''}`, () => {
    const service = `mcp-level3-test-http-${randomBytes(4).toString('hex')}`;
    const schema = DATABASE_URL ? uniqueId('trace') : undefined;
    let server: RunningServer;
    let trace: JaegerTrace;

    beforeAll(async () => {
      const storage: Record<string, string> = {};
      if (DATABASE_URL && schema) {
        const client = new pg.Client({ connectionString: DATABASE_URL });
        await client.connect();
        await client.query(`create schema ${schema}`);
        await client.end();
        const url = new URL(DATABASE_URL);
        url.searchParams.set('options', `-c search_path=${schema},public`);
        storage.DATABASE_URL = url.toString();
      }
      if (REDIS_URL) storage.REDIS_URL = REDIS_URL;
      server = await startHttpServer(['--data-dir', 'memory://'], cleanEnv({ ...tracingEnv(service, storage), LOG_LEVEL: 'debug' }));
      const client = await connectWithHeaders(server.url, { 'X-Request-Id': 'trace-test-1' });
      const ingest = await client.callTool({ name: 'rag_ingest', arguments: { collection: 'traced', documents: [{ id: 'd1', text: 'Copyleft licenses require derivative works to keep the license.' }] } });
      expect(ingest.isError).toBeFalsy();
      const query = await client.callTool({ name: 'rag_query', arguments: { collection: 'traced', query: 'copyleft' } });
      expect(query.isError).toBeFalsy();
      await client.close();
      await server.stop(); // flushes the spans still batched
      trace = await findTrace(service, 'tools/call rag_query');
    });
    afterAll(async () => {
      await server?.stop();
      if (DATABASE_URL && schema) await dropSchema(DATABASE_URL, schema);
    });

    it('nests the HTTP request, the MCP request, the operation and its SQL', () => {
      const byId = new Map(trace.spans.map((s) => [s.spanID, s]));
      const request = trace.spans.find((s) => s.operationName === 'tools/call rag_query')!;
      expect(tag(request, 'mcp.method.name')).toBe('tools/call');
      expect(tag(request, 'gen_ai.tool.name')).toBe('rag_query');
      expect(tag(request, 'network.transport')).toBe('tcp');
      // Over HTTP the MCP request is a child of the HTTP server span.
      const http = byId.get(parentId(request)!)!;
      expect(http).toBeDefined();
      expect(tag(http, 'http.request.method') ?? tag(http, 'http.method')).toBe('POST');

      const operation = trace.spans.find((s) => s.operationName === 'operation rag_query')!;
      expect(parentId(operation)).toBe(request.spanID);
      expect(tag(operation, 'mcp_level3.engine')).toBe('RAG_engine');
      expect(tag(operation, 'mcp_level3.outcome')).toBe('ok');

      const sql = trace.spans.filter((s) => parentId(s) === operation.spanID && (tag(s, 'db.system') ?? tag(s, 'db.system.name')) === 'postgresql');
      expect(sql.length).toBeGreaterThan(0);
      expect(sql.map((s) => s.operationName).join(' ')).toMatch(DATABASE_URL ? /pg\.query/ : /pglite\.query/);
    });

    it.skipIf(!REDIS_URL)(`traces the Redis commands of an operation${REDIS_URL ? '' : ' (skipped: set REDIS_URL to a Redis server)'}`, () => {
      const operation = trace.spans.find((s) => s.operationName === 'operation rag_query')!;
      const redis = trace.spans.filter((s) => parentId(s) === operation.spanID && (tag(s, 'db.system') ?? tag(s, 'db.system.name')) === 'redis');
      expect(redis.map((s) => s.operationName)).toContain('get');
    });

    it('writes the trace id and the request id on the log lines of the operation', () => {
      const lines = server.stderr.flatMap((line) => {
        try {
          return [JSON.parse(line) as Record<string, unknown>];
        } catch {
          return [];
        }
      });
      const line = lines.find((l) => l.msg === 'operation' && l.operation === 'rag_query');
      expect(line).toMatchObject({ engine: 'RAG_engine', trace_id: trace.traceID.padStart(32, '0'), request_id: 'trace-test-1' });
    });
  });

  describe('over stdio, on PGlite', () => {
    const service = `mcp-level3-test-stdio-${randomBytes(4).toString('hex')}`;
    let trace: JaegerTrace;
    let ingestTrace: JaegerTrace;

    beforeAll(async () => {
      // The embeddings endpoint is a real HTTP server that has no /v1/embeddings (Jaeger's
      // OTLP port answers 404): enough to see the outbound call in the trace.
      const client = await connectStdio('v2', ['--data-dir', 'memory://'], tracingEnv(service, { EMBEDDINGS_PROVIDER: 'openai', EMBEDDINGS_URL: OTLP! }));
      const published = await client.callTool({ name: 'registry_publish', arguments: { name: 'acme/traced', version: '1.0.0', content: 'hello' } });
      expect(published.isError).toBeFalsy();
      const ingest = await client.callTool({ name: 'rag_ingest', arguments: { collection: 'remote', documents: [{ id: 'd1', text: 'needs embeddings' }] } });
      expect(ingest.isError).toBe(true);
      await client.close(); // the server flushes its spans as stdin closes
      trace = await findTrace(service, 'tools/call registry_publish');
      ingestTrace = await findTrace(service, 'tools/call rag_ingest');
    });

    it('makes the MCP request the root, with the operation and its SQL beneath', () => {
      const request = trace.spans.find((s) => s.operationName === 'tools/call registry_publish')!;
      expect(parentId(request)).toBeUndefined();
      expect(tag(request, 'network.transport')).toBe('pipe');
      const operation = trace.spans.find((s) => s.operationName === 'operation registry_publish')!;
      expect(parentId(operation)).toBe(request.spanID);
      const sql = trace.spans.filter((s) => parentId(s) === operation.spanID && s.operationName.startsWith('pglite.query:'));
      expect(sql.map((s) => s.operationName)).toContain('pglite.query:INSERT');
    });

    it('traces the outbound HTTP call of an operation, and marks the failed call', () => {
      const request = ingestTrace.spans.find((s) => s.operationName === 'tools/call rag_ingest')!;
      const operation = ingestTrace.spans.find((s) => s.operationName === 'operation rag_ingest')!;
      expect(tag(operation, 'mcp_level3.outcome')).toBe('error');
      expect(tag(operation, 'error.type')).toBe('UNAVAILABLE');
      expect(tag(request, 'otel.status_code')).toBe('ERROR');
      const outbound = ingestTrace.spans.find((s) => parentId(s) === operation.spanID && String(tag(s, 'url.full')).endsWith('/v1/embeddings'))!;
      expect(outbound).toBeDefined();
      expect(tag(outbound, 'http.response.status_code')).toBe(404);
    });
  });
});
