/*
 * The REST and JSON-RPC API and its OpenAPI document, as a non-MCP caller meets them.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ALL_OPERATIONS } from '../../tools/index.js';
import { operationJsonSchemas } from '../../src/surface/json-schema.js';
import { appBackends, title } from '../helpers/backends.js';
import { raw, startApiServer, type ApiServer } from '../helpers/api-server.js';

const JSON_HEADERS = { 'content-type': 'application/json' };
const INTERNALS = /node_modules|\/work\/|\/src\/|\bat .*\.[jt]s|stack/i;

for (const backend of appBackends()) {
  describe.skipIf(backend.skip)(`HTTP API on ${title(backend)}`, () => {
    let s: ApiServer;
    const post = (path: string, body: unknown, headers: Record<string, string> = JSON_HEADERS) =>
      raw(`${s.origin}${path}`, { method: 'POST', headers, body: typeof body === 'string' ? body : JSON.stringify(body) });
    const get = (path: string, headers: Record<string, string> = {}) => raw(`${s.origin}${path}`, { headers });

    beforeAll(async () => {
      s = await startApiServer(backend);
    });
    afterAll(async () => s?.close());

    describe('REST', () => {
      it('publishes with POST and reads with GET, answering with the operation output', async () => {
        const published = await post('/api/v1/registry/publish', { name: 'api/model', version: '1.0.0', content: 'weights', labels: { team: 'ml' } });
        expect(published.status).toBe(200);
        expect(published.json).toMatchObject({ name: 'api/model', version: '1.0.0', size: 7, created: true });

        const got = await get('/api/v1/registry/get?name=api/model&alias=latest&includeContent=false');
        expect(got.status).toBe(200);
        expect(got.json).toMatchObject({ version: '1.0.0', labels: { team: 'ml' } });
        expect(got.json.content).toBeUndefined();

        const withContent = await get('/api/v1/registry/get?name=api/model&version=1.0.0');
        expect(withContent.json).toMatchObject({ content: 'weights', encoding: 'utf8' });
      });

      it('coerces query parameters by the input schema: integers, booleans and JSON objects', async () => {
        await post('/api/v1/registry/publish', { name: 'api/model', version: '1.1.0', content: 'v2' });
        const page = await get('/api/v1/registry/list?prefix=api/&limit=1');
        expect(page.status).toBe(200);
        expect(page.json.artifacts).toHaveLength(1);
        expect(page.json.nextCursor).toEqual(expect.any(String));
        const wrongType = await get('/api/v1/registry/list?limit=many');
        expect(wrongType.status).toBe(400);
        expect(wrongType.json.error).toMatchObject({ code: 'INVALID_INPUT' });
        expect(wrongType.json.error.message).toMatch(/^limit: /);

        await post('/api/v1/rag/ingest', { collection: 'apidocs', documents: [{ id: 'a', text: 'The GPL is a copyleft licence.', metadata: { family: 'GPL' } }] });
        const filtered = await get(`/api/v1/rag/query?collection=apidocs&query=copyleft&topK=3&filter=${encodeURIComponent('{"family":"GPL"}')}`);
        expect(filtered.status).toBe(200);
        expect(filtered.json.hits[0]).toMatchObject({ documentId: 'a' });
      });

      it('reports errors in one shape with the status of their code, and no internals', async () => {
        const invalid = await post('/api/v1/registry/publish', { name: 'NoNamespace', version: '1.0.0', content: 'x' });
        expect(invalid.status).toBe(400);
        expect(invalid.json).toEqual({ error: { code: 'INVALID_INPUT', message: expect.stringMatching(/^name: expected "namespace\/name"/) } });

        const missing = await get('/api/v1/registry/get?name=api/none&version=9.9.9');
        expect(missing.status).toBe(404);
        expect(missing.json.error.code).toBe('NOT_FOUND');

        const conflict = await post('/api/v1/registry/publish', { name: 'api/model', version: '1.0.0', content: 'tampered' });
        expect(conflict.status).toBe(409);
        expect(conflict.json.error.code).toBe('CONFLICT');

        for (const response of [invalid, missing, conflict]) expect(response.text).not.toMatch(INTERNALS);
      });

      it('refuses text the database cannot store (NUL characters) as invalid input, not a server error', async () => {
        const schema = await post('/api/v1/validation/register_schema', { id: 'nul-schema', schema: { type: 'object', properties: { 'a\u0000b': { type: 'string' } } } });
        expect(schema.status).toBe(400);
        expect(schema.json.error.message).toContain('\\u0000');
        const metadata = await post('/api/v1/registry/publish', { name: 'api/nul', version: '1.0.0', content: 'x', metadata: { note: 'a\u0000b' } });
        expect(metadata.status).toBe(400);
        expect((await get('/api/v1/registry/list?prefix=api/nul')).json.artifacts).toEqual([]);
      });

      it('answers a wrong method with 405 and Allow, an unknown route with 404, a non-JSON body with 415', async () => {
        const wrongMethod = await get('/api/v1/registry/publish');
        expect(wrongMethod.status).toBe(405);
        expect(wrongMethod.headers.allow).toBe('POST');
        const readWithPost = await post('/api/v1/registry/list', {});
        expect(readWithPost.status).toBe(405);
        expect(readWithPost.headers.allow).toBe('GET');

        const unknown = await get('/api/v1/registry/nope');
        expect(unknown.status).toBe(404);
        expect(unknown.json.error.message).toContain('/api/docs/openapi.json');

        const text = await post('/api/v1/registry/publish', 'name=a', { 'content-type': 'application/x-www-form-urlencoded' });
        expect(text.status).toBe(415);
        expect(text.json.error.message).toContain('application/json');
      });

      it('refuses bodies over the size limit with 413, too deep JSON and broken JSON with 400, and keeps serving', async () => {
        const big = await post('/api/v1/registry/publish', { name: 'api/big', version: '1.0.0', content: 'x'.repeat(300 * 1024) });
        expect(big.status).toBe(413);
        expect(big.json.error.code).toBe('TOO_LARGE');

        const deep = await post('/api/v1/registry/publish', `{"name":"api/deep","version":"1.0.0","content":"x","metadata":${'['.repeat(5000)}${']'.repeat(5000)}}`);
        expect(deep.status).toBe(400);
        expect(deep.json.error.message).toMatch(/deeper than 64 levels/);

        const broken = await post('/api/v1/registry/publish', '{"name": ');
        expect(broken.status).toBe(400);
        expect(broken.json.error.message).toMatch(/not valid JSON/);

        expect((await get('/api/v1/registry/list')).status).toBe(200);
      });
    });

    describe('JSON-RPC', () => {
      const rpc = (body: unknown) => post('/api/v1/rpc', body);

      it('calls an operation by name with params by name', async () => {
        const response = await rpc({ jsonrpc: '2.0', id: 7, method: 'registry_get', params: { name: 'api/model', version: '1.0.0', includeContent: false } });
        expect(response.status).toBe(200);
        expect(response.json).toMatchObject({ jsonrpc: '2.0', id: 7, result: { name: 'api/model', version: '1.0.0' } });
      });

      it('answers batches in order, leaving out notifications', async () => {
        const response = await rpc([
          { jsonrpc: '2.0', id: 'a', method: 'registry_list', params: { limit: 1 } },
          { jsonrpc: '2.0', method: 'registry_list', params: {} },
          { jsonrpc: '2.0', id: 'b', method: 'no_such_method' },
          { jsonrpc: '2.0', id: 'c', method: 'registry_get', params: { name: 'api/none', version: '1.0.0' } },
          42,
        ]);
        expect(response.status).toBe(200);
        expect(response.json.map((r: { id: unknown }) => r.id)).toEqual(['a', 'b', 'c', null]);
        expect(response.json[0].result.artifacts).toHaveLength(1);
        expect(response.json[1].error.code).toBe(-32601);
        expect(response.json[2].error).toMatchObject({ code: -32004, data: { code: 'NOT_FOUND' } });
        expect(response.json[3].error.code).toBe(-32600);
      });

      it('answers notifications alone with 204 and no body', async () => {
        const response = await rpc([{ jsonrpc: '2.0', method: 'registry_list' }]);
        expect(response.status).toBe(204);
        expect(response.text).toBe('');
      });

      it('uses the standard codes for parse errors, invalid requests and invalid params', async () => {
        const parse = await post('/api/v1/rpc', '{"jsonrpc": "2.0", "id": 1, "method":');
        expect(parse.status).toBe(400);
        expect(parse.json).toMatchObject({ jsonrpc: '2.0', id: null, error: { code: -32700 } });

        const empty = await rpc([]);
        expect(empty.json.error.code).toBe(-32600);
        const noVersion = await rpc({ id: 1, method: 'registry_list' });
        expect(noVersion.json).toMatchObject({ id: 1, error: { code: -32600 } });
        const badId = await rpc({ jsonrpc: '2.0', id: { x: 1 }, method: 'registry_list' });
        expect(badId.json.error.code).toBe(-32600);

        const positional = await rpc({ jsonrpc: '2.0', id: 2, method: 'registry_list', params: [1, 2] });
        expect(positional.json.error).toMatchObject({ code: -32602 });
        const invalid = await rpc({ jsonrpc: '2.0', id: 3, method: 'registry_list', params: { limit: 'many' } });
        expect(invalid.json.error).toMatchObject({ code: -32602, data: { code: 'INVALID_INPUT' } });
        expect(invalid.json.error.message).toMatch(/^limit: /);

        const tooMany = await rpc(Array.from({ length: 101 }, (_, i) => ({ jsonrpc: '2.0', id: i, method: 'registry_list' })));
        expect(tooMany.json.error.message).toMatch(/at most 100/);
      });
    });

    describe('OpenAPI', () => {
      it('has one path per operation, operationId = operation name, schemas from the declarations', async () => {
        const response = await get('/api/docs/openapi.json');
        expect(response.status).toBe(200);
        const doc = response.json;
        expect(doc.openapi).toBe('3.1.0');
        const operations = Object.values(doc.paths as Record<string, Record<string, { operationId: string }>>).flatMap((methods) =>
          Object.entries(methods).map(([method, entry]) => ({ method, ...entry })),
        );
        const byId = new Map(operations.map((op) => [op.operationId, op]));
        for (const op of ALL_OPERATIONS) {
          const entry = byId.get(op.name) as unknown as Record<string, unknown> & { method: string };
          expect(entry, op.name).toBeDefined();
          expect(entry.method).toBe(op.annotations.readOnlyHint ? 'get' : 'post');
          const { input, output } = operationJsonSchemas(op);
          const { $schema: _a, ...outputSchema } = output;
          expect((entry.responses as Record<string, { content: Record<string, { schema: unknown }> }>)['200']!.content['application/json']!.schema).toEqual(outputSchema);
          if (entry.method === 'post') {
            const { $schema: _b, ...inputSchema } = input;
            expect((entry.requestBody as { content: Record<string, { schema: unknown }> }).content['application/json']!.schema).toEqual(inputSchema);
          } else {
            const names = (entry.parameters as { name: string }[]).map((p) => p.name).sort();
            expect(names).toEqual(Object.keys((input as { properties: object }).properties).sort());
          }
        }
        expect(byId.get('jsonrpc')).toBeDefined();
      });
    });

    describe('safe defaults', () => {
      it('sets security headers and no CORS header unless configured', async () => {
        const response = await raw(`${s.origin}/api/v1/registry/list`, { headers: { origin: 'http://localhost:3000' } });
        expect(response.headers['x-content-type-options']).toBe('nosniff');
        expect(response.headers['x-frame-options']).toBe('SAMEORIGIN');
        expect(response.headers['content-security-policy']).toContain("default-src 'self'");
        expect(response.headers['x-powered-by']).toBeUndefined();
        expect(response.headers['access-control-allow-origin']).toBeUndefined();
      });

      it('refuses a Host or Origin that is not this server (DNS rebinding) on the API too', async () => {
        const host = await raw(`${s.origin}/api/v1/registry/list`, { headers: { host: 'evil.example' } });
        expect(host.status).toBe(403);
        expect(host.json.error.code).toBe('FORBIDDEN');
        const origin = await raw(`${s.origin}/api/v1/registry/list`, { headers: { origin: 'http://evil.example' } });
        expect(origin.status).toBe(403);
      });
    });
  });
}

describe('HTTP API with --toolsets registry --read-only', () => {
  const [embedded] = appBackends();
  let s: ApiServer;
  beforeAll(async () => {
    s = await startApiServer(embedded!, { toolsets: ['registry'], readOnly: true });
  });
  afterAll(async () => s?.close());

  it('serves, documents and dispatches only the selected read-only operations', async () => {
    const doc = (await raw(`${s.origin}/api/docs/openapi.json`)).json;
    const ids = Object.values(doc.paths as Record<string, Record<string, { operationId: string }>>).flatMap((m) => Object.values(m).map((e) => e.operationId));
    expect(ids.sort()).toEqual(['jsonrpc', 'registry_get', 'registry_list']);
    const publish = await raw(`${s.origin}/api/v1/registry/publish`, { method: 'POST', headers: JSON_HEADERS, body: '{}' });
    expect(publish.status).toBe(404);
    const rpc = await raw(`${s.origin}/api/v1/rpc`, { method: 'POST', headers: JSON_HEADERS, body: JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'rag_ingest', params: {} }) });
    expect(rpc.json.error.code).toBe(-32601);
    expect((await raw(`${s.origin}/api/v1/registry/list`)).status).toBe(200);
  });
});

describe('HTTP API with CORS configured', () => {
  const [embedded] = appBackends();
  let s: ApiServer;
  beforeAll(async () => {
    const { mkdtempSync, writeFileSync, copyFileSync } = await import('node:fs');
    const { join } = await import('node:path');
    const { tmpdir } = await import('node:os');
    const dir = mkdtempSync(join(tmpdir(), 'mcp-cors-'));
    for (const file of ['engine_map.yaml', 'api-routes.yaml', 'ontology.owl']) copyFileSync(join('config', file), join(dir, file));
    writeFileSync(join(dir, 'auth-config.yaml'), 'authentication: {}\nsecurity:\n  cors:\n    allowed_origins: ["https://console.example.com"]\n');
    s = await startApiServer(embedded!, { configDir: dir, configExplicit: true });
  });
  afterAll(async () => s?.close());

  it('allows the configured origin, and only it', async () => {
    const preflight = await raw(`${s.origin}/api/v1/registry/list`, {
      method: 'OPTIONS',
      headers: { origin: 'https://console.example.com', 'access-control-request-method': 'GET' },
    });
    expect(preflight.status).toBe(204);
    expect(preflight.headers['access-control-allow-origin']).toBe('https://console.example.com');
    const allowed = await raw(`${s.origin}/api/v1/registry/list`, { headers: { origin: 'https://console.example.com' } });
    expect(allowed.status).toBe(200);
    expect(allowed.headers['access-control-allow-origin']).toBe('https://console.example.com');
    const other = await raw(`${s.origin}/api/v1/registry/list`, { headers: { origin: 'https://other.example.com' } });
    expect(other.status).toBe(403);
    expect(other.headers['access-control-allow-origin']).toBeUndefined();
  });
});
