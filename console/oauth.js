// Sign-in with the server's OAuth authorization server: the authorization code flow with PKCE
// (RFC 7636, S256) run by the page itself, as a public client (no secret). Nothing about the
// authorization server is written into the page. The server's protected resource metadata
// (RFC 9728, /.well-known/oauth-protected-resource) names it and this server's resource URL;
// the authorization server's own metadata (RFC 8414, or OpenID Connect discovery) names its
// endpoints. The client id is the server's oauth2.client_id (/console/oauth-client.json), or
// without one a client the authorization server registers (RFC 7591) when it offers that. The
// token is asked for this server as the resource (RFC 8707). The page's Content-Security-Policy
// lets it reach this server and the issuer's origin only, so the authorization server's
// metadata, token and registration endpoints must be on the issuer's origin and answer this
// origin (CORS).

const FLOW_STORAGE = 'mcp-level3.console.oauth-flow';
const CLIENT_NAME = 'mcp-level3 operator console';

/** A sign-in that cannot go on; the message says why in plain words. */
export class OAuthError extends Error {}

const base64url = (bytes) => btoa(String.fromCharCode(...bytes)).replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '');

/** `bytes` random bytes, base64url: 32 make a PKCE code verifier of 43 characters. */
export function randomToken(bytes = 32) {
  const buffer = new Uint8Array(bytes);
  crypto.getRandomValues(buffer);
  return base64url(buffer);
}

/** The S256 code challenge of a verifier: base64url(SHA-256(verifier)). */
export async function codeChallenge(verifier) {
  if (!crypto.subtle) throw new OAuthError('this page is not in a secure context (HTTPS, or localhost), so the browser offers no SHA-256 for the PKCE code challenge; open the console over HTTPS');
  const digest = await crypto.subtle.digest('SHA-256', new TextEncoder().encode(verifier));
  return base64url(new Uint8Array(digest));
}

/** Where an issuer's metadata may be, in the order the MCP authorization spec tries them. */
export function metadataUrls(issuer) {
  const url = new URL(issuer);
  const path = url.pathname.replace(/\/+$/, '');
  if (!path) return [`${url.origin}/.well-known/oauth-authorization-server`, `${url.origin}/.well-known/openid-configuration`];
  return [`${url.origin}/.well-known/oauth-authorization-server${path}`, `${url.origin}/.well-known/openid-configuration${path}`, `${url.origin}${path}/.well-known/openid-configuration`];
}

const sameIssuer = (a, b) => typeof a === 'string' && a.replace(/\/+$/, '') === b.replace(/\/+$/, '');

/** This server's authorization server, or undefined when it takes no OAuth tokens: {resource, issuer, scopes}. */
export async function protectedResource(fetchFn = fetch) {
  let metadata;
  try {
    const response = await fetchFn('/.well-known/oauth-protected-resource', { headers: { accept: 'application/json' } });
    if (!response.ok) return undefined;
    metadata = await response.json();
  } catch {
    return undefined;
  }
  const issuer = metadata?.authorization_servers?.[0];
  if (typeof issuer !== 'string' || typeof metadata.resource !== 'string') return undefined;
  return { resource: metadata.resource, issuer, scopes: Array.isArray(metadata.scopes_supported) ? metadata.scopes_supported : [] };
}

/**
 * The issuer's metadata, checked: it names the same issuer, an authorization and a token
 * endpoint, PKCE with S256 (without it the MCP authorization spec says not to go on), and
 * endpoints this page may reach.
 */
export async function authorizationServer(issuer, fetchFn = fetch, pageOrigin = location.origin) {
  const tried = [];
  for (const url of metadataUrls(issuer)) {
    let metadata;
    try {
      const response = await fetchFn(url, { headers: { accept: 'application/json' } });
      if (!response.ok) {
        tried.push(`${url} answered ${response.status}`);
        continue;
      }
      metadata = await response.json();
    } catch {
      tried.push(`${url} could not be read (unreachable, or it does not allow this origin)`);
      continue;
    }
    if (!sameIssuer(metadata.issuer, issuer)) throw new OAuthError(`the metadata at ${url} is for the issuer ${JSON.stringify(metadata.issuer)}, not ${issuer}`);
    for (const field of ['authorization_endpoint', 'token_endpoint']) {
      if (typeof metadata[field] !== 'string') throw new OAuthError(`${issuer} names no ${field} in its metadata`);
    }
    if (!(metadata.code_challenge_methods_supported ?? []).includes('S256')) {
      throw new OAuthError(`${issuer} does not say it supports PKCE with S256 (code_challenge_methods_supported), which the console needs to sign in safely`);
    }
    const reachable = new Set([pageOrigin, new URL(issuer).origin]);
    for (const field of ['token_endpoint', 'registration_endpoint']) {
      if (typeof metadata[field] === 'string' && !reachable.has(new URL(metadata[field]).origin)) {
        throw new OAuthError(`${issuer}'s ${field} (${metadata[field]}) is on another origin than the issuer, which the console's Content-Security-Policy does not let it reach`);
      }
    }
    return metadata;
  }
  throw new OAuthError(`${issuer} publishes no authorization server metadata this page can read: ${tried.join('; ')}`);
}

/** The console's client id at the authorization server: configured on this server, or registered now. */
async function clientIdFor(issuer, metadata, redirectUri, fetchFn) {
  const configured = await fetchFn('/console/oauth-client.json', { headers: { accept: 'application/json' } });
  // Read either way: an answer left unread is cut off when the page leaves for the issuer.
  const clientId = (await configured.json().catch(() => undefined))?.client_id;
  if (configured.ok && typeof clientId === 'string' && clientId) return clientId;
  if (typeof metadata.registration_endpoint !== 'string') {
    throw new OAuthError(`this server names no OAuth client for the console (set oauth2.client_id, OAUTH_CLIENT_ID, to a public client whose redirect URI is ${redirectUri}) and ${issuer} offers no dynamic client registration`);
  }
  let response;
  try {
    response = await fetchFn(metadata.registration_endpoint, {
      method: 'POST',
      headers: { 'content-type': 'application/json', accept: 'application/json' },
      body: JSON.stringify({ client_name: CLIENT_NAME, redirect_uris: [redirectUri], grant_types: ['authorization_code'], response_types: ['code'], token_endpoint_auth_method: 'none' }),
    });
  } catch {
    throw new OAuthError(`${issuer}'s registration endpoint could not be reached from this page (unreachable, or it does not allow this origin)`);
  }
  const answer = await response.json().catch(() => ({}));
  if (!response.ok || typeof answer.client_id !== 'string') throw new OAuthError(`${issuer} did not register the console as a client: ${answer.error_description ?? answer.error ?? `it answered ${response.status}`}`);
  return answer.client_id;
}

/** The authorization request URL (RFC 6749 §4.1.1 with PKCE and the resource indicator). */
export function authorizationUrl({ endpoint, clientId, redirectUri, challenge, state, scopes, resource }) {
  const url = new URL(endpoint);
  const params = { response_type: 'code', client_id: clientId, redirect_uri: redirectUri, code_challenge: challenge, code_challenge_method: 'S256', state, resource };
  if (scopes.length > 0) params.scope = scopes.join(' ');
  for (const [name, value] of Object.entries(params)) url.searchParams.set(name, value);
  return url.href;
}

/**
 * Starts a sign-in: discovers the authorization server, keeps the PKCE verifier and state in
 * this tab, and sends the browser to the authorization endpoint. `returnHash` is the page to
 * show afterwards.
 */
export async function beginSignIn(returnHash = '', fetchFn = fetch) {
  const server = await protectedResource(fetchFn);
  if (!server) throw new OAuthError('this server does not take OAuth sign-ins (its protected resource metadata names no authorization server)');
  const metadata = await authorizationServer(server.issuer, fetchFn);
  const redirectUri = `${location.origin}/console`;
  const clientId = await clientIdFor(server.issuer, metadata, redirectUri, fetchFn);
  const verifier = randomToken(32);
  const state = randomToken(16);
  sessionStorage.setItem(
    FLOW_STORAGE,
    JSON.stringify({ state, verifier, issuer: server.issuer, clientId, redirectUri, resource: server.resource, tokenEndpoint: metadata.token_endpoint, checkIss: metadata.authorization_response_iss_parameter_supported === true, returnHash }),
  );
  location.assign(authorizationUrl({ endpoint: metadata.authorization_endpoint, clientId, redirectUri, challenge: await codeChallenge(verifier), state, scopes: server.scopes, resource: server.resource }));
}

/** Whether this page load carries an authorization server's answer (?code=… or ?error=…). */
export function isAuthorizationResponse(search = location.search) {
  const params = new URLSearchParams(search);
  return params.has('state') && (params.has('code') || params.has('error'));
}

/**
 * Finishes a sign-in from the authorization server's answer in `search`: checks the state
 * (and the issuer, when the server says it sends one), trades the code and the verifier for
 * an access token. Resolves to {token, issuer, returnHash}; the flow's stored state is gone
 * either way.
 */
export async function completeSignIn(search = location.search, fetchFn = fetch) {
  const params = new URLSearchParams(search);
  let flow;
  try {
    flow = JSON.parse(sessionStorage.getItem(FLOW_STORAGE) ?? 'null');
  } catch {
    flow = null;
  }
  sessionStorage.removeItem(FLOW_STORAGE);
  if (!flow || params.get('state') !== flow.state) throw new OAuthError('this sign-in answer does not belong to a sign-in started in this tab (or it was already used); start again');
  if (params.has('iss') ? !sameIssuer(params.get('iss'), flow.issuer) : flow.checkIss) throw new OAuthError(`the sign-in answer does not come from ${flow.issuer}`);
  if (params.has('error')) {
    const why = params.get('error_description') || params.get('error');
    throw new OAuthError(params.get('error') === 'access_denied' ? `${flow.issuer} did not grant access: ${why}` : `${flow.issuer} refused the sign-in: ${why}`);
  }
  let response;
  try {
    response = await fetchFn(flow.tokenEndpoint, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded', accept: 'application/json' },
      body: new URLSearchParams({ grant_type: 'authorization_code', code: params.get('code'), redirect_uri: flow.redirectUri, client_id: flow.clientId, code_verifier: flow.verifier, resource: flow.resource }),
    });
  } catch {
    throw new OAuthError(`${flow.issuer}'s token endpoint could not be reached from this page (unreachable, or it does not allow this origin)`);
  }
  const answer = await response.json().catch(() => ({}));
  if (!response.ok) throw new OAuthError(`${flow.issuer} would not issue a token: ${answer.error_description ?? answer.error ?? `it answered ${response.status}`}`);
  if (typeof answer.access_token !== 'string' || !/^bearer$/i.test(answer.token_type ?? '')) throw new OAuthError(`${flow.issuer} answered without a bearer access token`);
  return { token: answer.access_token, issuer: flow.issuer, returnHash: flow.returnHash };
}
