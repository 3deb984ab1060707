/*
 * A small OAuth 2.0 authorization server on a loopback port, for browser sign-in tests: RFC
 * 8414 metadata, a JWKS, the authorization endpoint (authorization code with PKCE S256 only;
 * it signs in one fixed user without a login form, or denies when told to), the token
 * endpoint (checks the code, client, redirect URI and the verifier, once) and dynamic client
 * registration (RFC 7591). Access tokens are RS256 JWTs for the requested resource (RFC 8707)
 * with the granted scopes. Its endpoints answer any origin (CORS), as a browser client needs.
 */
import { createHash, randomBytes } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { exportJWK, generateKeyPair, SignJWT } from 'jose';

export interface OAuthServerOptions {
  /** Who signs in, and the scopes they may have. */
  subject: string;
  scopes: string[];
}

export interface OAuthServer {
  issuer: string;
  /** A client registered beforehand (as an operator would), with its redirect URIs. */
  addClient(clientId: string, redirectUris: string[]): void;
  /** The next authorization request is denied (error=access_denied). */
  denyNext(): void;
  /** Seconds from issue to the `exp` of the next tokens (default 600). */
  tokenLifetime: number;
  /** The authorization requests received, as their query parameters. */
  authorizations: Record<string, string>[];
  /** The clients registered dynamically. */
  registered: string[];
  close(): Promise<void>;
}

interface Grant {
  clientId: string;
  redirectUri: string;
  challenge: string;
  resource: string;
  scope: string;
}

const base64url = (buffer: Buffer) => buffer.toString('base64url');

export async function startOAuthServer(options: OAuthServerOptions): Promise<OAuthServer> {
  const { privateKey, publicKey } = await generateKeyPair('RS256');
  const jwk = { ...(await exportJWK(publicKey)), kid: 'console-test', alg: 'RS256', use: 'sig' };
  const clients = new Map<string, string[]>();
  const codes = new Map<string, Grant>();
  let deny = false;
  let issuer = '';

  const json = (res: ServerResponse, status: number, body: unknown) => {
    res.writeHead(status, { 'content-type': 'application/json', 'cache-control': 'no-store' }).end(JSON.stringify(body));
  };
  const body = async (req: IncomingMessage) => {
    let text = '';
    for await (const chunk of req) text += chunk;
    return text;
  };

  const server: Server = createServer(async (req, res) => {
    res.setHeader('access-control-allow-origin', '*');
    res.setHeader('access-control-allow-headers', 'content-type, accept');
    res.setHeader('access-control-allow-methods', 'GET, POST');
    if (req.method === 'OPTIONS') return void res.writeHead(204).end();
    const url = new URL(req.url ?? '/', issuer);
    if (url.pathname === '/.well-known/oauth-authorization-server') {
      return json(res, 200, {
        issuer,
        authorization_endpoint: `${issuer}/authorize`,
        token_endpoint: `${issuer}/token`,
        registration_endpoint: `${issuer}/register`,
        jwks_uri: `${issuer}/jwks.json`,
        response_types_supported: ['code'],
        grant_types_supported: ['authorization_code'],
        code_challenge_methods_supported: ['S256'],
        token_endpoint_auth_methods_supported: ['none'],
        authorization_response_iss_parameter_supported: true,
      });
    }
    if (url.pathname === '/jwks.json') return json(res, 200, { keys: [jwk] });
    if (url.pathname === '/register' && req.method === 'POST') {
      const metadata = JSON.parse(await body(req)) as { redirect_uris?: string[] };
      if (!Array.isArray(metadata.redirect_uris) || metadata.redirect_uris.length === 0) return json(res, 400, { error: 'invalid_redirect_uri', error_description: 'redirect_uris is required' });
      const clientId = `dyn-${randomBytes(6).toString('hex')}`;
      clients.set(clientId, metadata.redirect_uris);
      state.registered.push(clientId);
      return json(res, 201, { client_id: clientId, redirect_uris: metadata.redirect_uris, token_endpoint_auth_method: 'none' });
    }
    if (url.pathname === '/authorize') {
      const q = Object.fromEntries(url.searchParams);
      state.authorizations.push(q);
      const redirects = clients.get(q.client_id ?? '');
      // Errors about the client or its redirect URI are shown here, never redirected (RFC 6749 §4.1.2.1).
      if (!redirects || !redirects.includes(q.redirect_uri ?? '')) return void res.writeHead(400, { 'content-type': 'text/plain' }).end('unknown client or redirect URI');
      const back = new URL(q.redirect_uri!);
      back.searchParams.set('state', q.state ?? '');
      back.searchParams.set('iss', issuer);
      if (deny) {
        deny = false;
        back.searchParams.set('error', 'access_denied');
        back.searchParams.set('error_description', 'the user declined');
      } else if (q.response_type !== 'code' || q.code_challenge_method !== 'S256' || !q.code_challenge || !q.resource) {
        back.searchParams.set('error', 'invalid_request');
        back.searchParams.set('error_description', 'response_type=code, PKCE with S256 and a resource are required');
      } else {
        const code = base64url(randomBytes(16));
        const asked = (q.scope ?? '').split(' ').filter(Boolean);
        codes.set(code, { clientId: q.client_id!, redirectUri: q.redirect_uri!, challenge: q.code_challenge, resource: q.resource, scope: asked.filter((s) => options.scopes.includes(s)).join(' ') });
        back.searchParams.set('code', code);
      }
      return void res.writeHead(302, { location: back.href }).end();
    }
    if (url.pathname === '/token' && req.method === 'POST') {
      const form = new URLSearchParams(await body(req));
      const grant = codes.get(form.get('code') ?? '');
      codes.delete(form.get('code') ?? '');
      if (form.get('grant_type') !== 'authorization_code') return json(res, 400, { error: 'unsupported_grant_type' });
      if (!grant || grant.clientId !== form.get('client_id') || grant.redirectUri !== form.get('redirect_uri')) return json(res, 400, { error: 'invalid_grant', error_description: 'unknown or used code, or another client or redirect URI' });
      if (base64url(createHash('sha256').update(form.get('code_verifier') ?? '').digest()) !== grant.challenge) return json(res, 400, { error: 'invalid_grant', error_description: 'the code verifier does not match the code challenge' });
      const now = Math.floor(Date.now() / 1000);
      const token = await new SignJWT({ scope: grant.scope, client_id: grant.clientId })
        .setProtectedHeader({ alg: 'RS256', kid: jwk.kid })
        .setIssuer(issuer)
        .setSubject(options.subject)
        .setAudience(form.get('resource') ?? grant.resource)
        .setIssuedAt(now)
        .setExpirationTime(now + state.tokenLifetime)
        .sign(privateKey);
      return json(res, 200, { access_token: token, token_type: 'Bearer', expires_in: state.tokenLifetime, scope: grant.scope });
    }
    json(res, 404, { error: 'not_found' });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  issuer = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  const state: OAuthServer = {
    issuer,
    addClient: (clientId, redirectUris) => void clients.set(clientId, redirectUris),
    denyNext: () => void (deny = true),
    tokenLifetime: 600,
    authorizations: [],
    registered: [],
    close: () =>
      new Promise((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
  return state;
}
