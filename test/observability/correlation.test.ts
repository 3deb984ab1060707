/*
 * Log lines an SRE can join up: with tracing on, the lines a request's work writes carry
 * its request id (X-Request-Id, honoured or generated, echoed back) and the trace and span
 * ids of the spans it ran in; credentials never reach the output. Also the context API
 * engines use to carry a trace across a hand-off (the DAG engine's node executions).
 *
 * Tracing runs here on the real OpenTelemetry SDK with its in-memory exporter (this file
 * runs in a process of its own); tracing.test.ts checks the export to a real receiver.
 */
import { Writable } from 'node:stream';
import type { Client } from '@modelcontextprotocol/client';
import { InMemorySpanExporter, SimpleSpanProcessor, type ReadableSpan } from '@opentelemetry/sdk-trace';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { createLogger } from '../../src/platform/log.js';
import { startTracing } from '../../src/platform/tracing-sdk.js';
import { captureContext, currentSpanId, currentTraceId, runInContext, shutdownTracing, withSpan } from '../../src/platform/tracing.js';
import { startTestApp, type TestApp } from '../helpers/backends.js';
import { connectWithHeaders, serveInProcess, type InProcessHttp } from '../helpers/in-process-http.js';
import { sleep } from '../helpers/timing.js';

interface Line {
  msg: string;
  [field: string]: unknown;
}

const lines: Line[] = [];
const raw: string[] = [];
const sink = new Writable({
  write(chunk: Buffer, _encoding, done) {
    for (const text of chunk.toString().split('\n').filter(Boolean)) {
      raw.push(text);
      lines.push(JSON.parse(text) as Line);
    }
    done();
  },
});
const log = createLogger('debug', sink);
const exporter = new InMemorySpanExporter();

const SECRET_TOKEN = 'tok_9f8e7d6c5b4a';
const SECRET_KEY = 'key_1a2b3c4d5e6f';
const SECRET_PASSWORD = 'pw_0z9y8x7w';

beforeAll(() => startTracing({ serviceName: 'mcp-level3-test', version: '0.0.0', log, spanProcessors: [new SimpleSpanProcessor({ exporter })], instrument: false }));
afterAll(() => shutdownTracing());

const spanNamed = (name: string) => exporter.getFinishedSpans().find((s) => s.name === name);
const parentOf = (span: ReadableSpan) => span.parentSpanContext?.spanId;

describe('log correlation and secrets, with tracing on', () => {
  let t: TestApp;
  let http: InProcessHttp;
  let client: Client;

  beforeAll(async () => {
    t = await startTestApp({ name: 'pglite + memory cache' }, { logger: log });
    http = await serveInProcess(t.app);
    client = await connectWithHeaders(http.url, { 'X-Request-Id': 'req-obs-42', Authorization: `Bearer ${SECRET_TOKEN}`, 'X-API-Key': SECRET_KEY });
  });
  afterAll(async () => {
    await client?.close();
    await http?.close();
    await t?.close();
  });
  beforeEach(() => {
    exporter.reset();
    lines.length = 0;
    raw.length = 0;
  });

  it('puts the request id and the trace id of the operation on the lines its engine writes', async () => {
    const result = await client.callTool({ name: 'registry_publish', arguments: { name: 'acme/logged', version: '1.0.0', content: 'hello' } });
    expect(result.isError).toBeFalsy();

    const operationSpan = spanNamed('operation registry_publish')!;
    const requestSpan = spanNamed('tools/call registry_publish')!;
    expect(operationSpan).toBeDefined();
    expect(parentOf(operationSpan)).toBe(requestSpan.spanContext().spanId);

    const line = lines.find((l) => l.msg === 'operation' && l.operation === 'registry_publish')!;
    expect(line).toMatchObject({
      engine: 'registry',
      request_id: 'req-obs-42',
      trace_id: operationSpan.spanContext().traceId,
      span_id: operationSpan.spanContext().spanId,
    });
    // The access line of the same request names it too, and shows no credential.
    const access = lines.find((l) => l.msg === 'http request' && l.request_id === 'req-obs-42' && (l.req as { method: string }).method === 'POST')!;
    expect(access).toMatchObject({ req: { method: 'POST', path: '/mcp', headers: { authorization: '[redacted]', 'x-api-key': '[redacted]' } } });
    expect(raw.join('\n')).not.toContain(SECRET_TOKEN);
    expect(raw.join('\n')).not.toContain(SECRET_KEY);
  });

  it('makes the SQL of an operation children of its span', async () => {
    await client.callTool({ name: 'registry_get', arguments: { name: 'acme/logged', version: '1.0.0' } });
    const operationSpan = spanNamed('operation registry_get')!;
    const sql = exporter.getFinishedSpans().filter((s) => s.name.startsWith('pglite.query:'));
    expect(sql.length).toBeGreaterThan(0);
    expect(sql.every((s) => parentOf(s) === operationSpan.spanContext().spanId)).toBe(true);
    expect(sql[0]!.attributes).toMatchObject({ 'db.system.name': 'postgresql', 'db.operation.name': 'SELECT' });
  });

  it('makes each DAG node a span in the trace of the dag_run call, with the operation it runs beneath it', async () => {
    const run = await client.callTool({
      name: 'dag_run',
      arguments: { wait: true, definition: { name: 'traced/publish', nodes: [{ id: 'publish', action: 'registry_publish', input: { name: 'acme/dag-traced', version: '1.0.0', content: 'x' } }] } },
    });
    expect(run.structuredContent).toMatchObject({ status: 'succeeded' });
    const node = spanNamed('dag node publish')!;
    expect(node.attributes).toMatchObject({ 'dag.node.id': 'publish', 'dag.node.action': 'registry_publish', 'dag.node.attempt': 1 });
    expect(parentOf(spanNamed('operation registry_publish')!)).toBe(node.spanContext().spanId);
    // The node ran from the scheduler's loop, yet it hangs under the call that started the run.
    const started = spanNamed('operation dag_run')!;
    expect(node.spanContext().traceId).toBe(started.spanContext().traceId);
    expect(parentOf(node)).toBe(started.spanContext().spanId);
  });

  it("joins the client's trace when the request carries a traceparent in params._meta", async () => {
    const traceId = '4bf92f3577b34da6a3ce929d0e0e4736';
    const parentSpanId = '00f067aa0ba902b7';
    await client.callTool({ name: 'registry_list', arguments: {}, _meta: { traceparent: `00-${traceId}-${parentSpanId}-01` } });
    const request = spanNamed('tools/call registry_list')!;
    expect(request.spanContext().traceId).toBe(traceId);
    expect(parentOf(request)).toBe(parentSpanId);
    expect(spanNamed('operation registry_list')!.spanContext().traceId).toBe(traceId);
  });

  it('echoes the caller request id, and makes one up when there is none or it is unsafe', async () => {
    const given = await fetch(`${http.origin}/health`, { headers: { 'X-Request-Id': 'abc-123' } });
    expect(given.headers.get('x-request-id')).toBe('abc-123');
    const none = await fetch(`${http.origin}/health`);
    expect(none.headers.get('x-request-id')).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/);
    const unsafe = await fetch(`${http.origin}/health`, { headers: { 'X-Request-Id': '"a" b {"level":"fatal"}' } });
    expect(unsafe.headers.get('x-request-id')).toMatch(/^[0-9a-f-]{36}$/);
    expect(lines.filter((l) => l.msg === 'http request').map((l) => l.request_id)).toEqual([
      'abc-123',
      none.headers.get('x-request-id'),
      unsafe.headers.get('x-request-id'),
    ]);
  });

  it('masks secrets in fields, in URLs and in messages', () => {
    const error = new Error(`connect failed for postgres://mcp:${SECRET_PASSWORD}@db:5432/mcp`);
    log.warn({ password: SECRET_PASSWORD, config: { auth: { jwt: { secret: SECRET_KEY } } }, upstream: { apiKey: SECRET_KEY }, err: error }, `retrying with Bearer ${SECRET_TOKEN}`);
    log.info({ url: `redis://default:${SECRET_PASSWORD}@cache:6379` }, 'cache');
    const text = raw.join('\n');
    for (const secret of [SECRET_PASSWORD, SECRET_KEY, SECRET_TOKEN]) expect(text).not.toContain(secret);
    expect(lines[0]).toMatchObject({ password: '[redacted]', upstream: { apiKey: '[redacted]' }, msg: 'retrying with Bearer [redacted]' });
    expect((lines[0]!.err as { message: string }).message).toBe('connect failed for postgres://[redacted]@db:5432/mcp');
    expect(lines[1]!.url).toBe('redis://[redacted]@cache:6379');
    // The caller's own objects are left as they were.
    expect(error.message).toContain(SECRET_PASSWORD);
  });
});

describe('carrying a trace across a hand-off (the API engines use)', () => {
  beforeEach(() => exporter.reset());

  it('runs later work as a child of the span that was active when the context was captured', async () => {
    let captured = captureContext();
    let traceInside: string | undefined;
    await withSpan('dag run', { 'dag.run.id': 'r1' }, async () => {
      traceInside = currentTraceId();
      captured = captureContext();
    });
    // A queue or timer hop: the async context is gone, the captured one restores it.
    await sleep(1);
    expect(currentTraceId()).toBeUndefined();
    await runInContext(captured, () => withSpan('dag node a', { 'dag.node.id': 'a' }, () => currentSpanId()));

    const run = spanNamed('dag run')!;
    const node = spanNamed('dag node a')!;
    expect(run.spanContext().traceId).toBe(traceInside);
    expect(node.spanContext().traceId).toBe(run.spanContext().traceId);
    expect(parentOf(node)).toBe(run.spanContext().spanId);
    expect(node.attributes['dag.node.id']).toBe('a');
  });

  it('records a failure on the span and passes the error on', async () => {
    await expect(withSpan('failing node', {}, () => Promise.reject(new Error('node failed')))).rejects.toThrow('node failed');
    const span = spanNamed('failing node')!;
    expect(span.status).toMatchObject({ code: 2, message: 'node failed' });
    expect(span.events.map((e) => e.name)).toContain('exception');
  });
});
