/* eslint-disable @typescript-eslint/no-explicit-any -- raw JSON-RPC bodies */
/*
 * The built server over streamable HTTP, as remote clients and operators meet it.
 */
import { createHash } from 'node:crypto';
import { mkdtempSync } from 'node:fs';
import { request } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MIGRATIONS } from '../../src/platform/sql/migrations.js';
import { ALL_OPERATIONS } from '../../tools/index.js';
import { CLIENT_KINDS, connectHttp, type McpClient } from '../helpers/clients.js';
import { startHttpServer, type RunningServer } from '../helpers/cli.js';
import { sleep } from '../helpers/timing.js';

const MCP_HEADERS = { 'content-type': 'application/json', accept: 'application/json, text/event-stream', 'mcp-protocol-version': '2025-06-18' };

/** A raw POST with node:http, which (unlike fetch) lets a test set the Host header. */
function rpc(url: string, body: unknown, headers: Record<string, string> = {}): Promise<{ status: number; body: any }> {
  const payload = typeof body === 'string' ? body : JSON.stringify(body);
  return new Promise((resolve, reject) => {
    const req = request(url, { method: 'POST', headers: { ...MCP_HEADERS, ...headers, 'content-length': Buffer.byteLength(payload) } }, (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (chunk) => (text += chunk));
      res.on('end', () => {
        const data = text.split('\n').find((line) => line.startsWith('data: '));
        resolve({ status: res.statusCode ?? 0, body: data ? JSON.parse(data.slice(6)) : text ? JSON.parse(text) : undefined });
      });
    });
    req.on('error', reject);
    req.end(payload);
  });
}

describe('HTTP transport', () => {
  let server: RunningServer;

  beforeAll(async () => {
    server = await startHttpServer(['--data-dir', 'memory://']);
  });
  afterAll(async () => server?.stop());

  it('answers /health at once and /ready once the database is migrated', async () => {
    const health = await fetch(`${server.origin}/health`);
    expect(health.status).toBe(200);
    expect(await health.json()).toMatchObject({ status: 'ok' });
    let ready: Response | undefined;
    for (let i = 0; i < 40; i++) {
      ready = await fetch(`${server.origin}/ready`);
      if (ready.status === 200) break;
      await sleep(250);
    }
    expect(ready!.status).toBe(200);
    expect(await ready!.json()).toMatchObject({ ready: true, checks: { database: { ok: true, backend: 'pglite', schemaVersion: MIGRATIONS.at(-1)!.version }, cache: { ok: true, backend: 'memory' } } });
  });

  for (const kind of CLIENT_KINDS) {
    describe(`with the ${kind} client`, () => {
      let client: McpClient;
      const name = `http/${kind}`;
      beforeAll(async () => {
        client = await connectHttp(kind, server.url);
      });
      afterAll(async () => client?.close());

      it('lists every tool with an output schema and annotations', async () => {
        const { tools } = await client.listTools();
        expect(tools.map((t) => t.name).sort()).toEqual(ALL_OPERATIONS.map((op) => op.name).sort());
        for (const tool of tools) {
          expect(tool.outputSchema, tool.name).toBeDefined();
          expect(typeof tool.annotations?.readOnlyHint, tool.name).toBe('boolean');
        }
      });

      it('publishes and reads back an artifact with structured content', async () => {
        const published = await client.callTool({ name: 'registry_publish', arguments: { name, version: '1.0.0', content: 'payload', mediaType: 'text/markdown' } });
        expect(published.isError).toBeFalsy();
        const digest = `sha256:${createHash('sha256').update('payload').digest('hex')}`;
        expect(published.structuredContent).toMatchObject({ name, version: '1.0.0', digest });
        const got = await client.callTool({ name: 'registry_get', arguments: { name, alias: 'latest' } });
        expect(got.structuredContent).toMatchObject({ digest, content: 'payload', encoding: 'utf8', mediaType: 'text/markdown' });
      });

      it('returns a tool error that says what to change, and keeps serving', async () => {
        const bad = await client.callTool({ name: 'registry_get', arguments: { name, version: 'latest' } });
        expect(bad.isError).toBe(true);
        expect(JSON.stringify(bad.content)).toContain('version: expected a semantic version');
        const ok = await client.callTool({ name: 'registry_list', arguments: { prefix: name } });
        expect(ok.isError).toBeFalsy();
      });

      it('treats an unknown tool as a protocol error', async () => {
        await expect(client.callTool({ name: 'registry_nope', arguments: {} })).rejects.toThrow(/registry_nope/);
      });

      it('serves artifacts as resources, with completions for names', async () => {
        const uri = `registry://artifacts/${encodeURIComponent(name)}/1.0.0`;
        const read = await client.readResource({ uri });
        expect(read.contents[0]).toMatchObject({ uri, text: 'payload' });
        const { resources } = await client.listResources();
        expect(resources.map((r) => r.uri)).toContain(uri);
        const completion = await client.complete({ ref: { type: 'ref/resource', uri: 'registry://artifacts/{name}/{version}' }, argument: { name: 'name', value: 'http/' } });
        expect(completion.completion.values).toContain(encodeURIComponent(name));
      });

      it('offers the registry_review prompt carrying the artifact', async () => {
        const { prompts } = await client.listPrompts();
        expect(prompts.map((p) => p.name)).toContain('registry_review');
        const prompt = await client.getPrompt({ name: 'registry_review', arguments: { name, version: '1.0.0' } });
        expect(JSON.stringify(prompt.messages)).toContain('payload');
      });
    });
  }

  it('counts requests and tool calls in /metrics', async () => {
    const text = await (await fetch(`${server.origin}/metrics`)).text();
    expect(text).toMatch(/mcp_tool_calls_total\{tool="registry_publish",outcome="ok"\} 3/);
    expect(text).toMatch(/mcp_tool_calls_total\{tool="registry_get",outcome="error"\} 3/);
    expect(text).toMatch(/http_request_duration_seconds_bucket\{le="[^"]+",method="POST",route="\/mcp",status="200"\}/);
    expect(text).toContain('mcp_tool_duration_seconds_bucket');
    expect(text).toContain('process_resident_memory_bytes');
  });

  it('refuses requests whose Host or Origin is not this server (DNS rebinding)', async () => {
    const init = { jsonrpc: '2.0', id: 1, method: 'tools/list', params: {} };
    expect((await rpc(server.url, init, { host: 'evil.example' })).status).toBe(403);
    expect((await rpc(server.url, init, { origin: 'http://evil.example' })).status).toBe(403);
    expect((await rpc(server.url, init, { origin: server.origin })).status).toBe(200);
  });

  it('answers malformed JSON with a JSON-RPC parse error and keeps serving', async () => {
    const broken = await rpc(server.url, '{"jsonrpc": "2.0", "id": 1, "method":');
    expect(broken.status).toBe(400);
    expect(broken.body.error.code).toBe(-32700);
    const wrongParams = await rpc(server.url, { jsonrpc: '2.0', id: 2, method: 'tools/call', params: { name: 42 } });
    expect(wrongParams.body.error).toBeDefined();
    const unknownMethod = await rpc(server.url, { jsonrpc: '2.0', id: 3, method: 'no/such/method', params: {} });
    expect(unknownMethod.body.error.code).toBe(-32601);
    const after = await rpc(server.url, { jsonrpc: '2.0', id: 4, method: 'tools/call', params: { name: 'registry_list', arguments: {} } });
    expect(after.body.result.isError).toBeFalsy();
  });

  it('answers unknown routes with a JSON 404 and no internals', async () => {
    const response = await fetch(`${server.origin}/nope`);
    expect(response.status).toBe(404);
    const body = (await response.json()) as { error: { code: string } };
    expect(body.error.code).toBe('NOT_FOUND');
    expect(JSON.stringify(body)).not.toMatch(/node_modules|\/work\/|at .*\.js/);
  });
});

describe('HTTP server with a data directory', () => {
  it('keeps published artifacts across a restart', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'mcp-data-'));
    const first = await startHttpServer(['--data-dir', dir]);
    const client = await connectHttp('v2', first.url);
    await client.callTool({ name: 'registry_publish', arguments: { name: 'keep/me', version: '1.0.0', content: 'durable' } });
    await client.close();
    expect(await first.stop()).toBe(0);

    const second = await startHttpServer(['--data-dir', dir]);
    try {
      const again = await connectHttp('v1', second.url);
      const got = await again.callTool({ name: 'registry_get', arguments: { name: 'keep/me', version: '1.0.0' } });
      expect(got.structuredContent).toMatchObject({ content: 'durable' });
      await again.close();
    } finally {
      await second.stop();
    }
  });
});
