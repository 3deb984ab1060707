/*
 * One server, many principals (issue 17): runs belong to who started them (row 2),
 * forwarded headers do not choose the client's address (row 6), a batch costs its calls
 * (row 7), and subscriptions are capped per principal and checked per resource (row 8).
 * Over real HTTP against an in-process app, on every backend (rate limits through Redis
 * on the second).
 */
import { Client, StreamableHTTPClientTransport } from '@modelcontextprotocol/client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ApiKeyStore } from '../../src/server/auth/api-key-store.js';
import { appBackends, title } from '../helpers/backends.js';
import { raw, startApiServer, type ApiServer } from '../helpers/api-server.js';
import { eventually } from '../helpers/timing.js';

const JSON_HEADERS = { 'content-type': 'application/json' };

/** One JSON-RPC call (or batch) with a key. */
async function rpc(s: ApiServer, key: string, body: unknown, headers: Record<string, string> = {}) {
  return raw(`${s.origin}/api/v1/rpc`, { method: 'POST', headers: { ...JSON_HEADERS, 'x-api-key': key, ...headers }, body: JSON.stringify(body) });
}

async function call(s: ApiServer, key: string, method: string, params: Record<string, unknown>) {
  const response = await rpc(s, key, { jsonrpc: '2.0', id: 1, method, params });
  return response.json as { result?: Record<string, unknown>; error?: { code: number; message: string; data: { code: string } } };
}

async function modernClient(s: ApiServer, key: string): Promise<Client> {
  const client = new Client({ name: 'trust-test', version: '1.0.0' }, { versionNegotiation: { mode: { pin: '2026-07-28' } } });
  await client.connect(new StreamableHTTPClientTransport(new URL(`${s.origin}/mcp`), { requestInit: { headers: { 'x-api-key': key } } }));
  return client;
}

for (const backend of appBackends()) {
  describe.skipIf(backend.skip)(`owned runs and subscription limits on ${title(backend)}`, () => {
    let s: ApiServer;
    let alice: string;
    let bob: string;
    let auditor: string;
    let operator: string;
    let slowRun: string;
    let doneRun: string;
    const clients: Client[] = [];

    beforeAll(async () => {
      s = await startApiServer(backend, { env: { API_KEY_ENABLED: 'true', MCP_SUBSCRIPTIONS_PER_PRINCIPAL: '2', DAG_POLL_INTERVAL_MS: '50' } });
      const store = new ApiKeyStore((await s.app.services()).sql);
      alice = (await store.create({ name: 'alice', scopes: ['dag:run', 'dag:read'] })).key;
      bob = (await store.create({ name: 'bob', scopes: ['dag:run', 'dag:read'] })).key;
      auditor = (await store.create({ name: 'auditor', scopes: ['dag:read', 'dag:admin'] })).key;
      operator = (await store.create({ name: 'operator', scopes: ['dag:run', 'dag:admin'] })).key;
      const slow = await call(s, alice, 'dag_run', { definition: { name: 'owned/slow', nodes: [{ id: 'wait', action: 'delay', input: { ms: 600_000 } }] } });
      slowRun = slow.result!.runId as string;
      const done = await call(s, alice, 'dag_run', { definition: { name: 'owned/done', nodes: [{ id: 'a', action: 'transform', input: { secret: 'alice-only' } }], output: '=nodes.a' }, wait: true });
      expect(done.result, JSON.stringify(done)).toMatchObject({ status: 'succeeded' });
      doneRun = done.result!.runId as string;
    });
    afterAll(async () => {
      for (const client of clients) await client.close().catch(() => undefined);
      await s?.close();
    });

    it('shows a run, its nodes and its output to its owner and to dag:admin, and to nobody else (NOT_FOUND)', async () => {
      const own = await call(s, alice, 'dag_status', { runId: doneRun });
      expect(JSON.stringify(own.result)).toContain('alice-only');
      const admin = await call(s, auditor, 'dag_status', { runId: doneRun });
      expect(JSON.stringify(admin.result)).toContain('alice-only');
      const other = await call(s, bob, 'dag_status', { runId: doneRun });
      expect(other.error?.data.code).toBe('NOT_FOUND');
      expect(other.error?.message).not.toContain('alice');
      // The same words as for a run that does not exist.
      const missing = await call(s, bob, 'dag_status', { runId: '00000000-0000-0000-0000-000000000000' });
      expect(other.error?.message.replace(doneRun, 'ID')).toBe(missing.error?.message.replace('00000000-0000-0000-0000-000000000000', 'ID'));
    });

    it('lists only the caller\'s own runs, and every run for dag:admin', async () => {
      const ids = async (key: string) => ((await call(s, key, 'dag_runs', { limit: 100 })).result!.runs as { runId: string }[]).map((r) => r.runId);
      expect(await ids(alice)).toEqual(expect.arrayContaining([slowRun, doneRun]));
      expect(await ids(bob)).toEqual([]);
      expect(await ids(auditor)).toEqual(expect.arrayContaining([slowRun, doneRun]));
    });

    it('lets only the owner cancel a run: another principal with dag:run gets NOT_FOUND and the run goes on', async () => {
      const other = await call(s, bob, 'dag_cancel', { runId: slowRun });
      expect(other.error?.data.code).toBe('NOT_FOUND');
      expect((await call(s, alice, 'dag_status', { runId: slowRun })).result!.status).not.toBe('cancelled');
    });

    it('answers a resource read of another principal\'s run as not found, and lists only own runs as resources', async () => {
      const asBob = await modernClient(s, bob);
      clients.push(asBob);
      await expect(asBob.readResource({ uri: `dag://runs/${doneRun}` })).rejects.toThrow(/no run/);
      const templates = await asBob.listResources();
      expect(templates.resources.map((r) => r.uri)).not.toContain(`dag://runs/${doneRun}`);
      const asAlice = await modernClient(s, alice);
      clients.push(asAlice);
      const read = await asAlice.readResource({ uri: `dag://runs/${doneRun}` });
      expect(JSON.stringify(read.contents)).toContain('alice-only');
    });

    it('refuses a subscription to another principal\'s run, and caps open subscriptions per principal while others still get theirs', async () => {
      const asBob = await modernClient(s, bob);
      clients.push(asBob);
      await expect(asBob.listen({ resourceSubscriptions: [`dag://runs/${slowRun}`] })).rejects.toThrow(/no run/);

      const asAlice = await modernClient(s, alice);
      clients.push(asAlice);
      const first = await asAlice.listen({ resourceSubscriptions: [`dag://runs/${slowRun}`] });
      const second = await asAlice.listen({ resourcesListChanged: true });
      const third = asAlice.listen({ resourcesListChanged: true });
      await expect(third).rejects.toThrow(/security\.subscriptions\.per_principal/);
      // Another principal is not crowded out.
      const bobs = await asBob.listen({ resourcesListChanged: true });
      expect(bobs.honoredFilter).toEqual({ resourcesListChanged: true });
      // A closed stream gives its slot back.
      await first.close();
      const again = await eventually(async () => asAlice.listen({ resourcesListChanged: true }).catch(() => undefined), 'a slot to be given back', { timeoutMs: 30_000 });
      await Promise.all([second.close(), bobs.close(), again.close()]);
    });

    it('cancels for the owner, and for a dag:admin holder with dag:run', async () => {
      const cancelled = await call(s, alice, 'dag_cancel', { runId: slowRun });
      expect(cancelled.result).toMatchObject({ status: 'cancelled' });
      const another = await call(s, alice, 'dag_run', { definition: { name: 'owned/slow2', nodes: [{ id: 'wait', action: 'delay', input: { ms: 600_000 } }] } });
      const byAdmin = await call(s, operator, 'dag_cancel', { runId: another.result!.runId as string });
      expect(byAdmin.result).toMatchObject({ status: 'cancelled' });
    });
  });

  describe.skipIf(backend.skip)(`limits count calls and real addresses on ${title(backend)}`, () => {
    let s: ApiServer;
    let key: string;
    let other: string;

    beforeAll(async () => {
      s = await startApiServer(backend, { env: { API_KEY_ENABLED: 'true', RATE_LIMIT_PER_MINUTE: '3', RATE_LIMIT_FAILED_AUTH_PER_MINUTE: '3', MCP_TRUST_PROXY: '1' } });
      const store = new ApiKeyStore((await s.app.services()).sql);
      key = (await store.create({ name: 'batcher', scopes: ['*'] })).key;
      other = (await store.create({ name: 'mcp-batcher', scopes: ['*'] })).key;
    });
    afterAll(async () => s?.close());

    it('counts each call of a JSON-RPC batch: the calls over the limit get the rate-limit error, and so does the next request', async () => {
      const batch = Array.from({ length: 5 }, (_, i) => ({ jsonrpc: '2.0', id: i + 1, method: 'registry_list', params: {} }));
      const response = await rpc(s, key, batch);
      expect(response.status).toBe(200);
      const answers = response.json as { id: number; result?: unknown; error?: { code: number; message: string; data: { code: string } } }[];
      expect(answers.map((a) => a.id)).toEqual([1, 2, 3, 4, 5]);
      expect(answers.slice(0, 3).every((a) => a.result !== undefined)).toBe(true);
      for (const refused of answers.slice(3)) {
        expect(refused.error).toMatchObject({ code: -32029, data: { code: 'BUSY' } });
        expect(refused.error!.message).toContain('security.rate_limit.requests_per_minute');
      }
      const next = await rpc(s, key, { jsonrpc: '2.0', id: 9, method: 'registry_list', params: {} });
      expect(next.status).toBe(429);
      expect(Number(next.headers['retry-after'])).toBeGreaterThan(0);
    });

    it('counts each message of a 2025-era MCP batch, refusing the batch over the limit', async () => {
      const headers = { ...JSON_HEADERS, accept: 'application/json, text/event-stream', 'mcp-protocol-version': '2025-06-18', 'x-api-key': other };
      const batch = Array.from({ length: 4 }, (_, i) => ({ jsonrpc: '2.0', id: i + 1, method: 'tools/list', params: {} }));
      const response = await raw(`${s.origin}/mcp`, { method: 'POST', headers, body: JSON.stringify(batch) });
      expect(response.status).toBe(429);
      expect(response.json.error.message).toContain('this batch holds 4 messages');
      expect(Number(response.headers['retry-after'])).toBeGreaterThan(0);
    });

    it('finds the client from the right of X-Forwarded-For: rotating spoofed entries does not dodge the failed-credentials limit, and spoofing a victim does not lock the victim out', async () => {
      const bad = `ml3_000000000000_${'A'.repeat(43)}`;
      const attempt = (forwardedFor: string, apiKey = bad) => raw(`${s.origin}/api/v1/registry/list`, { headers: { 'x-api-key': apiKey, 'x-forwarded-for': forwardedFor } });
      const statuses: number[] = [];
      // Through the one trusted proxy: it appends the attacker's real address on the right.
      for (let i = 0; i < 5; i++) statuses.push((await attempt(`198.51.100.${i + 1}, 203.0.113.66`)).status);
      expect(statuses).toEqual([401, 401, 401, 429, 429]);
      // The victim's own requests come from its own address and are not blocked.
      const victim = await attempt('198.51.100.1', `ml3_000000000000_${'B'.repeat(43)}`);
      expect(victim.status).toBe(401);
    });

    it('believes X-Forwarded-Proto only from the trusted proxy', async () => {
      const metadata = await raw(`${s.origin}/.well-known/oauth-protected-resource`, { headers: { 'x-forwarded-proto': 'http, https' } });
      expect(metadata.json.resource).toMatch(/^https:/);
    });
  });
}
