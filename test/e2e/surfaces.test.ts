/*
 * Every MCP surface through the one invoke path: a policy on an operation governs the
 * resources and prompts that are equivalent to it, every read and prompt leaves an audit
 * record naming its surface, and completions offer only what the caller could read.
 */
import type { Client } from '@modelcontextprotocol/client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ADMIN, appBackends, startTestApp, title, type TestApp } from '../helpers/backends.js';
import { connectWithHeaders, serveInProcess, type InProcessHttp } from '../helpers/in-process-http.js';
import { governanceAuditQuery, governanceAuditVerify, governanceSetPolicy } from '../../tools/governance.js';
import { registryPublish } from '../../tools/registry.js';

const SECRET = 'registry://artifacts/secret%2Fplans/1.0.0';
const OPEN = 'registry://artifacts/acme%2Fhello/1.0.0';

describe.each(appBackends())('MCP surfaces through the invoke path on $name', (backend) => {
  describe.skipIf(backend.skip)(title(backend), () => {
    let t: TestApp;
    let http: InProcessHttp;
    let reader: Client;
    let ragOnly: Client;
    let readerKey: string;

    beforeAll(async () => {
      t = await startTestApp(backend);
      const { app } = t;
      for (const name of ['secret/plans', 'acme/hello']) {
        await app.invoke(registryPublish, { name, version: '1.0.0', content: `content of ${name}` }, ADMIN);
      }
      await app.invoke(
        governanceSetPolicy,
        { id: 'no-secret-reads', target: 'registry_get', expression: 'artifact.name.startsWith("secret/")', effect: 'deny', message: 'secret artifacts are not readable' },
        ADMIN,
      );
      const keys = await app.apiKeys();
      readerKey = (await keys.create({ name: 'release-reader', scopes: ['registry:read'] })).key;
      const ragKey = await keys.create({ name: 'rag-agent', scopes: ['rag:read'] });
      http = await serveInProcess(app);
      reader = await connectWithHeaders(http.url, { 'X-API-Key': readerKey });
      ragOnly = await connectWithHeaders(http.url, { 'X-API-Key': ragKey.key });
    });
    afterAll(async () => {
      await reader?.close();
      await ragOnly?.close();
      await http?.close();
      await t?.close();
    });

    it('refuses the artifact resource that a deny policy on registry_get covers, and still reads the others', async () => {
      const denied = await reader.readResource({ uri: SECRET }).then(
        () => undefined,
        (error: unknown) => error as { code: number; message: string },
      );
      expect(denied).toMatchObject({ code: -32003, message: expect.stringContaining('secret artifacts are not readable') });
      const open = await reader.readResource({ uri: OPEN });
      expect((open.contents[0] as { text: string }).text).toBe('content of acme/hello');
    });

    it('refuses the registry_review prompt for that artifact with the denial, not an internal error', async () => {
      const denied = await reader.getPrompt({ name: 'registry_review', arguments: { name: 'secret/plans', version: '1.0.0' } }).then(
        () => undefined,
        (error: unknown) => error as { code: number; message: string },
      );
      expect(denied).toMatchObject({ code: -32003, message: expect.stringContaining('denied by policy') });
      const open = await reader.getPrompt({ name: 'registry_review', arguments: { name: 'acme/hello', version: '1.0.0' } });
      expect((open.messages[0]!.content as { text: string }).text).toContain('content of acme/hello');
    });

    it('answers a missing resource as not found and a bad prompt argument as invalid params', async () => {
      const missing = await reader.readResource({ uri: 'registry://artifacts/acme%2Fnothing/9.9.9' }).then(
        () => undefined,
        (error: unknown) => error as { code: number },
      );
      expect([-32002, -32602]).toContain(missing?.code);
      const bad = await reader.getPrompt({ name: 'registry_review', arguments: { name: 'acme/hello' } }).then(
        () => undefined,
        (error: unknown) => error as { code: number; message: string },
      );
      expect(bad).toMatchObject({ code: -32602, message: expect.stringContaining('version') });
      const noCollection = await ragOnly.getPrompt({ name: 'rag_answer', arguments: { collection: 'nothing-here', question: 'what?' } }).then(
        () => undefined,
        (error: unknown) => error as { code: number; message: string },
      );
      expect(noCollection).toMatchObject({ code: -32602, message: expect.stringContaining('nothing-here') });
    });

    it('records resource reads and prompt gets in the audit log, with the surface, the URI or prompt and the key name, and the chain verifies', async () => {
      const { records } = await t.app.invoke(governanceAuditQuery, { limit: 100 }, ADMIN);
      const rows = records as { surface: string; resource: string | null; operation: string; outcome: string; principalName: string | null }[];
      expect(rows).toContainEqual(expect.objectContaining({ surface: 'resource', resource: SECRET, operation: 'registry-artifact', outcome: 'denied', principalName: 'release-reader' }));
      expect(rows).toContainEqual(expect.objectContaining({ surface: 'resource', resource: OPEN, outcome: 'ok' }));
      expect(rows).toContainEqual(expect.objectContaining({ surface: 'prompt', resource: 'registry_review', outcome: 'denied' }));
      expect(await t.app.invoke(governanceAuditVerify, {}, ADMIN)).toMatchObject({ ok: true });
    });

    it('audits API requests refused before validation: a malformed REST body, a wrong content type, positional JSON-RPC params', async () => {
      const post = (path: string, body: string, type: string) => fetch(`${http.origin}${path}`, { method: 'POST', headers: { 'content-type': type, 'x-api-key': readerKey }, body });
      expect((await post('/api/v1/registry/publish', '{"name": "acme/x", ', 'application/json')).status).toBe(400);
      expect((await post('/api/v1/registry/yank', 'name=acme/x', 'application/x-www-form-urlencoded')).status).toBe(415);
      const rpc = await post('/api/v1/rpc', JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'registry_get', params: ['acme/hello', '1.0.0'] }), 'application/json');
      expect(((await rpc.json()) as { error: { code: number } }).error.code).toBe(-32602);
      const { records } = await t.app.invoke(governanceAuditQuery, { limit: 50 }, ADMIN);
      const refused = (records as { operation: string; outcome: string; errorCode: string | null; principalName: string | null; arguments: { refused?: string } | null }[]).filter(
        (r) => r.principalName === 'release-reader' && r.arguments?.refused !== undefined,
      );
      expect(refused.map((r) => r.operation).sort()).toEqual(['registry_get', 'registry_publish', 'registry_yank']);
      for (const record of refused) expect(record).toMatchObject({ outcome: 'error', errorCode: 'INVALID_INPUT' });
    });

    it('offers completions only of values the caller could read, and nothing to a key without the scope', async () => {
      const ref = { type: 'ref/resource' as const, uri: 'registry://artifacts/{name}/{version}' };
      const offered = await reader.complete({ ref, argument: { name: 'name', value: '' } });
      expect(offered.completion.values).toContain('acme%2Fhello');
      expect(offered.completion.values).not.toContain('secret%2Fplans');
      const refused = await ragOnly.complete({ ref, argument: { name: 'name', value: '' } }).then(
        (result) => result.completion.values,
        (error: unknown) => error as { code: number },
      );
      expect(refused).toMatchObject({ code: -32003 });
    });
  });
});
