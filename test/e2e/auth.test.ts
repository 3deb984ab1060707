/*
 * Authentication and authorization on every HTTP surface: API keys, HS256 JWTs and OAuth2
 * access tokens checked against a JWKS served by a local issuer; scopes; rate limits.
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Client, StreamableHTTPClientTransport } from '@modelcontextprotocol/client';
import { exportJWK, generateKeyPair, SignJWT, type CryptoKey, type JWK } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ApiKeyStore } from '../../src/server/auth/api-key-store.js';
import { appBackends, title } from '../helpers/backends.js';
import { raw, startApiServer, type ApiServer } from '../helpers/api-server.js';
import { eventually, sleep } from '../helpers/timing.js';

const JSON_HEADERS = { 'content-type': 'application/json' };
const JWT_SECRET = 'a-test-secret-of-more-than-32-characters!';
const RESOURCE = 'https://mcp.test.example/mcp';
const now = () => Math.floor(Date.now() / 1000);

const publish = (s: ApiServer, headers: Record<string, string>, name = 'auth/model') =>
  raw(`${s.origin}/api/v1/registry/publish`, { method: 'POST', headers: { ...JSON_HEADERS, ...headers }, body: JSON.stringify({ name, version: '1.0.0', content: 'x' }) });
const list = (s: ApiServer, headers: Record<string, string>) => raw(`${s.origin}/api/v1/registry/list`, { headers });

/** A local OAuth2 issuer: RFC 8414 metadata pointing at its JWKS. */
async function startIssuer(): Promise<{ url: string; key: CryptoKey; close(): Promise<void> }> {
  const { privateKey, publicKey } = await generateKeyPair('RS256');
  const jwk: JWK = { ...(await exportJWK(publicKey)), kid: 'test-key', alg: 'RS256', use: 'sig' };
  let url = '';
  const server: Server = createServer((req, res) => {
    res.setHeader('content-type', 'application/json');
    if (req.url === '/.well-known/oauth-authorization-server') res.end(JSON.stringify({ issuer: url, jwks_uri: `${url}/jwks.json` }));
    else if (req.url === '/jwks.json') res.end(JSON.stringify({ keys: [jwk] }));
    else res.writeHead(404).end('{}');
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return { url, key: privateKey, close: () => new Promise((resolve) => server.close(() => resolve())) };
}

for (const backend of appBackends()) {
  describe.skipIf(backend.skip)(`authentication on ${title(backend)}`, () => {
    let issuer: Awaited<ReturnType<typeof startIssuer>>;
    let s: ApiServer;
    let store: ApiKeyStore;
    let reader: string;
    let writer: string;

    const oauthToken = (claims: Record<string, unknown>, options: { key?: CryptoKey; exp?: number; iss?: string; aud?: string } = {}) =>
      new SignJWT({ scope: 'registry:read registry:write', ...claims })
        .setProtectedHeader({ alg: 'RS256', kid: 'test-key' })
        .setSubject('alice')
        .setIssuer(options.iss ?? issuer.url)
        .setAudience(options.aud ?? RESOURCE)
        .setIssuedAt()
        .setExpirationTime(options.exp ?? now() + 600)
        .sign(options.key ?? issuer.key);
    const hsToken = (claims: Record<string, unknown>, options: { secret?: string; iat?: number; exp?: number } = {}) =>
      new SignJWT(claims)
        .setProtectedHeader({ alg: 'HS256' })
        .setSubject('ci-bot')
        .setIssuedAt(options.iat ?? now())
        .setExpirationTime(options.exp ?? now() + 600)
        .sign(new TextEncoder().encode(options.secret ?? JWT_SECRET));

    beforeAll(async () => {
      issuer = await startIssuer();
      s = await startApiServer(backend, {
        env: {
          API_KEY_ENABLED: 'true',
          JWT_ENABLED: 'true',
          JWT_SECRET,
          OAUTH_ENABLED: 'true',
          OAUTH_ISSUER: issuer.url,
          MCP_RESOURCE_URL: RESOURCE,
          RATE_LIMIT_FAILED_AUTH_PER_MINUTE: '1000',
        },
      });
      store = await s.app.apiKeys();
      reader = (await store.create({ name: 'reader', scopes: ['registry:read'] })).key;
      writer = (await store.create({ name: 'writer', scopes: ['registry:read', 'registry:write'] })).key;
    });
    afterAll(async () => {
      await s?.close();
      await issuer?.close();
    });

    describe('without credentials', () => {
      it('answers 401 with a WWW-Authenticate challenge pointing at the protected resource metadata', async () => {
        const response = await list(s, {});
        expect(response.status).toBe(401);
        expect(response.json.error.code).toBe('UNAUTHENTICATED');
        expect(response.json.error.message).toMatch(/X-API-Key.*Authorization: Bearer/);
        const challenge = String(response.headers['www-authenticate']);
        expect(challenge).toContain('Bearer resource_metadata="https://mcp.test.example/.well-known/oauth-protected-resource/mcp"');
        expect(challenge).toContain('ApiKey header="X-API-Key"');
        for (const path of ['/mcp', '/api/v1/rpc']) expect((await raw(`${s.origin}${path}`, { method: 'POST', headers: JSON_HEADERS, body: '{}' })).status).toBe(401);
        // On /mcp the refusal is a JSON-RPC error, which MCP clients show as it is.
        const mcp = await raw(`${s.origin}/mcp`, { method: 'POST', headers: JSON_HEADERS, body: '{"jsonrpc":"2.0","id":1,"method":"tools/list"}' });
        expect(mcp.json).toMatchObject({ jsonrpc: '2.0', id: null, error: { code: -32001, message: expect.stringMatching(/X-API-Key/), data: { code: 'UNAUTHENTICATED' } } });
      });

      it('publishes RFC 9728 metadata naming the resource, the issuer and the scopes', async () => {
        for (const path of ['/.well-known/oauth-protected-resource', '/.well-known/oauth-protected-resource/mcp']) {
          const response = await raw(`${s.origin}${path}`);
          expect(response.status).toBe(200);
          expect(response.json).toMatchObject({ resource: RESOURCE, authorization_servers: [issuer.url], bearer_methods_supported: ['header'] });
          expect(response.json.scopes_supported).toEqual(expect.arrayContaining(['registry:read', 'registry:write', 'rag:read']));
        }
      });

      it('keeps the probes and the API reference open', async () => {
        for (const path of ['/health', '/api/docs/openapi.json', '/api/docs']) expect((await raw(`${s.origin}${path}`)).status).toBe(200);
      });
    });

    describe('API keys', () => {
      it('grants what the key\'s scopes allow, and refuses the rest with 403 naming the scope', async () => {
        expect((await list(s, { 'x-api-key': reader })).status).toBe(200);
        const denied = await publish(s, { 'x-api-key': reader });
        expect(denied.status).toBe(403);
        expect(denied.json.error).toMatchObject({ code: 'FORBIDDEN' });
        expect(denied.json.error.message).toContain('"registry:write"');
        const allowed = await publish(s, { 'x-api-key': writer });
        expect(allowed.status).toBe(200);
        const got = await raw(`${s.origin}/api/v1/registry/get?name=auth/model&version=1.0.0`, { headers: { 'x-api-key': writer } });
        expect(got.json.createdBy).toMatch(/^apikey:[0-9a-f]{12}$/);
      });

      it('stores only a hash of the secret', async () => {
        const { sql } = await s.app.services();
        const { rows } = await sql.query<Record<string, unknown>>('select * from api_keys');
        const stored = JSON.stringify(rows);
        for (const key of [reader, writer]) expect(stored).not.toContain(key.slice(17));
      });

      it('refuses unknown, malformed, revoked and expired keys', async () => {
        const made = await store.create({ name: 'short-lived', scopes: ['registry:read'] });
        expect((await list(s, { 'x-api-key': made.key })).status).toBe(200);
        await store.revoke(made.id);
        expect((await list(s, { 'x-api-key': made.key })).status).toBe(401);

        const expiring = await store.create({ name: 'expiring', scopes: ['registry:read'], expiresInSeconds: 3600 });
        const { sql } = await s.app.services();
        await sql.query("update api_keys set expires_at = now() - interval '1 minute' where id = $1", [expiring.id]);
        const expired = await list(s, { 'x-api-key': expiring.key });
        expect(expired.status).toBe(401);
        expect(expired.json.error.message).toContain('unknown, revoked or expired');

        expect((await list(s, { 'x-api-key': `${writer.slice(0, -4)}AAAA` })).status).toBe(401);
        expect((await list(s, { 'x-api-key': 'not-a-key' })).status).toBe(401);
      });

      it('stops a key revoked through another replica once the verified-key TTL has passed', async () => {
        const { sql } = await s.app.services();
        const replica = new ApiKeyStore(sql, { verifiedKeyTtlMs: 300 });
        const made = await store.create({ name: 'elsewhere', scopes: ['registry:read'] });
        expect(await replica.verify(made.key)).toMatchObject({ id: made.id });
        await store.revoke(made.id);
        await sleep(400);
        expect(await replica.verify(made.key)).toBeUndefined();
      });

      it('lists keys without their secrets', async () => {
        const keys = await store.list();
        expect(keys.map((k) => k.name)).toEqual(expect.arrayContaining(['reader', 'writer', 'short-lived']));
        expect(JSON.stringify(keys)).not.toContain(writer);
        expect(keys.find((k) => k.name === 'short-lived')!.revokedAt).toEqual(expect.any(String));
      });
    });

    describe('HS256 JWTs', () => {
      it('accepts a token signed with the secret, with scopes from the scope claim', async () => {
        const token = await hsToken({ scope: 'registry:read' });
        expect((await list(s, { authorization: `Bearer ${token}` })).status).toBe(200);
        const denied = await publish(s, { authorization: `Bearer ${token}` });
        expect(denied.status).toBe(403);
        expect(String(denied.headers['www-authenticate'])).toMatch(/error="insufficient_scope".*scope="registry:write"/);
      });

      it('refuses a wrong signature, an expired token and one older than the configured expiry', async () => {
        const forged = await list(s, { authorization: `Bearer ${await hsToken({ scope: 'registry:read' }, { secret: 'another-secret-of-more-than-32-characters' })}` });
        expect(forged.status).toBe(401);
        expect(String(forged.headers['www-authenticate'])).toContain('error="invalid_token"');

        const expired = await list(s, { authorization: `Bearer ${await hsToken({ scope: 'registry:read' }, { iat: now() - 7200, exp: now() - 3600 })}` });
        expect(expired.status).toBe(401);
        expect(expired.json.error.message).toContain('expired');

        const stale = await list(s, { authorization: `Bearer ${await hsToken({ scope: 'registry:read' }, { iat: now() - 25 * 3600, exp: now() + 3600 })}` });
        expect(stale.status).toBe(401);
        expect(stale.json.error.message).toContain('older than the configured expiry');
      });
    });

    describe('OAuth2 access tokens', () => {
      it('accepts a token from the issuer for this resource, keys found by discovery', async () => {
        const response = await publish(s, { authorization: `Bearer ${await oauthToken({})}` }, 'auth/oauth');
        expect(response.status).toBe(200);
        const got = await raw(`${s.origin}/api/v1/registry/get?name=auth/oauth&version=1.0.0&includeContent=false`, { headers: { authorization: `Bearer ${await oauthToken({})}` } });
        expect(got.json.createdBy).toBe('oauth:alice');
      });

      it('refuses a token for another audience, from another issuer, or signed by another key', async () => {
        const otherAudience = await list(s, { authorization: `Bearer ${await oauthToken({}, { aud: 'https://other.example/mcp' })}` });
        expect(otherAudience.status).toBe(401);
        expect(otherAudience.json.error.message).toContain('not issued for this server');

        const otherIssuer = await list(s, { authorization: `Bearer ${await oauthToken({}, { iss: 'https://evil.example' })}` });
        expect(otherIssuer.status).toBe(401);
        expect(otherIssuer.json.error.message).toContain('issuer');

        const { privateKey } = await generateKeyPair('RS256');
        const forged = await list(s, { authorization: `Bearer ${await oauthToken({}, { key: privateKey })}` });
        expect(forged.status).toBe(401);
        expect(forged.json.error.message).toContain('signature');
      });

      it('tolerates the configured clock skew on expiry, and no more', async () => {
        expect((await list(s, { authorization: `Bearer ${await oauthToken({}, { exp: now() - 20 })}` })).status).toBe(200);
        const expired = await list(s, { authorization: `Bearer ${await oauthToken({}, { exp: now() - 300 })}` });
        expect(expired.status).toBe(401);
        expect(expired.json.error.message).toContain('expired');
      });

      it('gives a token without scopes no rights', async () => {
        const response = await list(s, { authorization: `Bearer ${await oauthToken({ scope: '' })}` });
        expect(response.status).toBe(403);
        expect(response.json.error.message).toContain('"registry:read"');
      });
    });

    describe('one identity on every surface', () => {
      it('applies the same scopes over JSON-RPC', async () => {
        const response = await raw(`${s.origin}/api/v1/rpc`, {
          method: 'POST',
          headers: { ...JSON_HEADERS, 'x-api-key': reader },
          body: JSON.stringify([
            { jsonrpc: '2.0', id: 1, method: 'registry_list', params: {} },
            { jsonrpc: '2.0', id: 2, method: 'registry_yank', params: { name: 'auth/model', version: '1.0.0', reason: 'test' } },
          ]),
        });
        expect(response.json[0].result).toBeDefined();
        expect(response.json[1].error).toMatchObject({ code: -32003, data: { code: 'FORBIDDEN' } });
        expect(response.json[1].error.message).toContain('"registry:write"');
      });

      it('applies the same scopes over MCP, and refuses an MCP client without credentials', async () => {
        const connect = async (headers: Record<string, string>) => {
          const client = new Client({ name: 'auth-test', version: '1.0.0' });
          await client.connect(new StreamableHTTPClientTransport(new URL(`${s.origin}/mcp`), { requestInit: { headers } }));
          return client;
        };
        const client = await connect({ 'x-api-key': reader });
        try {
          const listed = await client.callTool({ name: 'registry_list', arguments: {} });
          expect(listed.isError).toBeFalsy();
          const denied = await client.callTool({ name: 'registry_yank', arguments: { name: 'auth/model', version: '1.0.0', reason: 'test' } });
          expect(denied.isError).toBe(true);
          expect(JSON.stringify(denied.content)).toContain('registry:write');
        } finally {
          await client.close();
        }
        await expect(connect({})).rejects.toThrow();
      });
    });
  });
}

describe('rate limits', () => {
  for (const backend of appBackends()) {
    describe.skipIf(backend.skip)(`on ${title(backend)}`, () => {
      let s: ApiServer;
      let key: string;
      beforeAll(async () => {
        s = await startApiServer(backend, { env: { API_KEY_ENABLED: 'true', RATE_LIMIT_FAILED_AUTH_PER_MINUTE: '3', RATE_LIMIT_PER_MINUTE: '5' } });
        key = (await new ApiKeyStore((await s.app.services()).sql).create({ name: 'limited', scopes: ['*'] })).key;
      });
      afterAll(async () => s?.close());

      it('limits requests per principal with 429 and Retry-After', async () => {
        const statuses: number[] = [];
        let last;
        for (let i = 0; i < 6; i++) {
          last = await list(s, { 'x-api-key': key });
          statuses.push(last.status);
        }
        expect(statuses).toEqual([200, 200, 200, 200, 200, 429]);
        expect(Number(last!.headers['retry-after'])).toBeGreaterThan(0);
        expect(last!.json.error.code).toBe('BUSY');
      });

      it('blocks an address after repeated refused credentials, even for a valid key', async () => {
        const statuses: number[] = [];
        for (let i = 0; i < 4; i++) statuses.push((await list(s, { 'x-api-key': `ml3_000000000000_${'A'.repeat(43)}` })).status);
        expect(statuses).toEqual([401, 401, 401, 429]);
        const blocked = await list(s, { 'x-api-key': key });
        expect(blocked.status).toBe(429);
        expect(Number(blocked.headers['retry-after'])).toBeGreaterThan(0);
      });
    });
  }
});


describe('api_key.enabled auto (the default)', () => {
  for (const backend of appBackends()) {
    describe.skipIf(backend.skip)(`on ${title(backend)}`, () => {
      let s: ApiServer;
      let store: ApiKeyStore;
      beforeAll(async () => {
        // The polling below sends many refused requests from one address.
        s = await startApiServer(backend, { env: { RATE_LIMIT_FAILED_AUTH_PER_MINUTE: '1000' } });
        store = new ApiKeyStore((await s.app.services()).sql);
      });
      afterAll(async () => s?.close());

      it('serves a loopback caller without credentials while no key exists, as the local principal', async () => {
        expect((await publish(s, {}, 'auto/open')).status).toBe(200);
        const got = await raw(`${s.origin}/api/v1/registry/get?name=auto/open&version=1.0.0&includeContent=false`);
        expect(got.json.createdBy).toBe('local');
        const document = (await raw(`${s.origin}/api/docs/openapi.json`)).json;
        expect(document.paths['/api/v1/registry/list'].get.security).toEqual([{ apiKey: [] }, {}]);
      });

      it('requires a key on the next request once one is made, and opens again once every key is revoked', async () => {
        const made = await store.create({ name: 'first', scopes: ['registry:read'] });
        const refused = await list(s, {});
        expect(refused.status).toBe(401);
        expect(refused.json.error.message).toContain('send an API key in X-API-Key');
        expect(String(refused.headers['www-authenticate'])).toContain('ApiKey header="X-API-Key"');
        expect((await list(s, { 'x-api-key': made.key })).status).toBe(200);
        const denied = await publish(s, { 'x-api-key': made.key }, 'auto/closed');
        expect(denied.status).toBe(403);
        expect(denied.json.error.message).toContain('"registry:write"');

        await store.revoke(made.id);
        await eventually(async () => (await list(s, {})).status === 200, 'serving without credentials after the last key was revoked');
      });

      it('keeps requiring a key when an unrevoked one has expired', async () => {
        const expiring = await store.create({ name: 'expiring', scopes: ['registry:read'], expiresInSeconds: 3600 });
        await (await s.app.services()).sql.query("update api_keys set expires_at = now() - interval '1 minute' where id = $1", [expiring.id]);
        expect((await list(s, {})).status).toBe(401);
        expect((await list(s, { 'x-api-key': expiring.key })).status).toBe(401);
        await store.revoke(expiring.id);
      });
    });
  }

  it('refuses every request without a key when the CLI made keys required (a non-loopback bind), even with none', async () => {
    const [embedded] = appBackends();
    const s = await startApiServer(embedded!, {}, undefined, { requireApiKeys: true });
    try {
      const refused = await list(s, {});
      expect(refused.status).toBe(401);
      expect(refused.json.error.message).toContain('X-API-Key');
    } finally {
      await s.close();
    }
  });

  it('refuses to make a key with a scope no operation declares, listing the valid ones', async () => {
    const [embedded] = appBackends();
    const s = await startApiServer(embedded!);
    try {
      const error = await new ApiKeyStore((await s.app.services()).sql).create({ name: 'typo', scopes: ['registry:read', 'registry:admin'] }).catch((e: Error) => e);
      expect((error as Error).message).toMatch(/"registry:admin" is not a scope; valid scopes are .*promotion:approve.*registry:write/);
      expect((await list(s, {})).status).toBe(200); // no key was made
    } finally {
      await s.close();
    }
  });
});

describe('the apikey command', () => {
  it('refuses a scope no operation declares before opening the database, listing the valid ones', async () => {
    const { runCli } = await import('../helpers/cli.js');
    const result = await runCli(['apikey', 'create', '--name', 'ci', '--scopes', 'registry:read,promotion:aprove', '--data-dir', '/nonexistent/never-opened']);
    expect(result.code).toBe(2);
    expect(result.stderr).toContain('apikey create: --scopes: "promotion:aprove" is not a scope; valid scopes are ');
    for (const scope of ['dag:run', 'governance:admin', 'promotion:approve', 'promotion:request', 'rag:read', 'registry:write']) expect(result.stderr).toContain(scope);
    expect(result.stderr).toContain('or "*" for all');
  });

  it('creates, lists and revokes keys through the server that runs on the same data dir', async () => {
    const { mkdtempSync, statSync } = await import('node:fs');
    const { join } = await import('node:path');
    const { tmpdir } = await import('node:os');
    const { cleanEnv, runCli, startHttpServer } = await import('../helpers/cli.js');
    const dir = mkdtempSync(join(tmpdir(), 'mcp-keys-live-'));
    const env = cleanEnv();
    const server = await startHttpServer(['--data-dir', dir], env);
    try {
      // Before the first key the loopback server is open, as the README's first Inspector command expects.
      expect((await fetch(`${server.origin}/api/v1/registry/list`)).status).toBe(200);
      await eventually(() => server.stderr.some((line) => line.includes('admin socket for')), 'the admin socket to open', { timeoutMs: 10_000, intervalMs: 50 });
      expect(statSync(join(dir, 'admin.sock')).mode & 0o777).toBe(0o600);
      expect(statSync(join(dir, 'admin.token')).mode & 0o777).toBe(0o600);
      const created = await runCli(['apikey', 'create', '--name', 'live', '--scopes', 'registry:read', '--data-dir', dir], env, { timeoutMs: 60_000 });
      expect(created.stderr).toContain('through the server running on');
      expect(created.code).toBe(0);
      const key = created.stdout.trim();
      expect(key).toMatch(/^ml3_[0-9a-f]{12}_/);
      // The first key turns authentication on (api_key.enabled auto; its presence is re-read within 5 s).
      await eventually(async () => (await fetch(`${server.origin}/api/v1/registry/list`)).status === 401, 'a request without a key to be refused', { timeoutMs: 10_000 });
      expect((await fetch(`${server.origin}/api/v1/registry/list`, { headers: { 'x-api-key': key } })).status).toBe(200);
      // A second key keeps authentication on once the first is revoked (revoking the last key
      // would open the loopback server again within 5 s, and these commands can take longer).
      const other = await runCli(['apikey', 'create', '--name', 'other', '--scopes', 'registry:read', '--data-dir', dir], env, { timeoutMs: 60_000 });
      expect(other.code).toBe(0);
      const listed = await runCli(['apikey', 'list', '--data-dir', dir], env, { timeoutMs: 60_000 });
      const keys = JSON.parse(listed.stdout) as { id: string; name: string }[];
      expect(keys.map((k) => k.name)).toEqual(['live', 'other']);
      const revoked = await runCli(['apikey', 'revoke', keys[0]!.id, '--data-dir', dir], env, { timeoutMs: 60_000 });
      expect(revoked.code).toBe(0);
      expect((await fetch(`${server.origin}/api/v1/registry/list`, { headers: { 'x-api-key': key } })).status).toBe(401);
      const unknown = await runCli(['apikey', 'revoke', 'ffffffffffff', '--data-dir', dir], env, { timeoutMs: 60_000 });
      expect(unknown.code).toBe(1);
      expect(unknown.stderr).toContain('apikey list');
    } finally {
      await server.stop();
    }
    // The server gone, the command opens the data dir itself again.
    const after = await runCli(['apikey', 'list', '--data-dir', dir], env, { timeoutMs: 60_000 });
    expect(after.code).toBe(0);
    expect(after.stderr).not.toContain('through the server');
  }, 180_000);

  it('creates a key that the server accepts, lists it without the secret, and revokes it', async () => {
    const { mkdtempSync } = await import('node:fs');
    const { join } = await import('node:path');
    const { tmpdir } = await import('node:os');
    const { cleanEnv, runCli, startHttpServer } = await import('../helpers/cli.js');
    const dir = mkdtempSync(join(tmpdir(), 'mcp-keys-'));
    // API_KEY_ENABLED unset: auto, so the key made below is what turns authentication on.
    const env = cleanEnv();

    const refusedBind = await runCli(['http', '--host', '0.0.0.0', '--port', '0', '--data-dir', dir], env, { timeoutMs: 60_000 });
    expect(refusedBind.code).toBe(2);
    expect(refusedBind.stderr).toContain('refusing to bind 0.0.0.0 without authentication');
    expect(refusedBind.stderr).toContain('mcp-level3 apikey create');

    const missing = await runCli(['apikey', 'create', '--name', 'ci', '--data-dir', dir], env, { timeoutMs: 60_000 });
    expect(missing.code).not.toBe(0);
    expect(missing.stderr).toContain('--scopes');

    const created = await runCli(['apikey', 'create', '--name', 'ci', '--scopes', 'registry:read', '--expires', '30d', '--data-dir', dir], env, { timeoutMs: 60_000 });
    expect(created.code).toBe(0);
    const key = created.stdout.trim();
    expect(key).toMatch(/^ml3_[0-9a-f]{12}_/);
    expect(created.stderr).toContain('printed once');

    // A key exists, so binding a shared address is allowed, and every request needs a key.
    const server = await startHttpServer(['--host', '0.0.0.0', '--data-dir', dir], env);
    try {
      const origin = server.origin.replace('0.0.0.0', '127.0.0.1');
      expect((await fetch(`${origin}/api/v1/registry/list`, { headers: { 'x-api-key': key } })).status).toBe(200);
      expect((await fetch(`${origin}/api/v1/registry/list`)).status).toBe(401);
    } finally {
      await server.stop();
    }

    const listed = await runCli(['apikey', 'list', '--data-dir', dir], env, { timeoutMs: 60_000 });
    expect(listed.code).toBe(0);
    const keys = JSON.parse(listed.stdout) as { id: string; name: string; scopes: string[]; expiresAt: string | null; revokedAt: string | null }[];
    expect(keys).toHaveLength(1);
    expect(keys[0]).toMatchObject({ name: 'ci', scopes: ['registry:read'], revokedAt: null });
    expect(keys[0]!.expiresAt).toEqual(expect.any(String));
    expect(listed.stdout).not.toContain(key.slice(17));

    const revoked = await runCli(['apikey', 'revoke', keys[0]!.id, '--data-dir', dir], env, { timeoutMs: 60_000 });
    expect(revoked.code).toBe(0);
    const unknown = await runCli(['apikey', 'revoke', 'ffffffffffff', '--data-dir', dir], env, { timeoutMs: 60_000 });
    expect(unknown.code).toBe(1);
    expect(unknown.stderr).toContain('apikey list');

    const again = await startHttpServer(['--data-dir', dir], cleanEnv({ API_KEY_ENABLED: 'true' }));
    try {
      expect((await fetch(`${again.origin}/api/v1/registry/list`, { headers: { 'x-api-key': key } })).status).toBe(401);
    } finally {
      await again.stop();
    }
    // Its only key revoked, the directory has no key in force: a shared bind is refused again.
    const refusedAgain = await runCli(['http', '--host', '0.0.0.0', '--port', '0', '--data-dir', dir], env, { timeoutMs: 60_000 });
    expect(refusedAgain.code).toBe(2);
    expect(refusedAgain.stderr).toContain('refusing to bind 0.0.0.0 without authentication');
  }, 180_000);
});
