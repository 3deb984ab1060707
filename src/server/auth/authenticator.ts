/*
 * Authentication
 * ==============
 * Turns a request's credentials into the one identity every surface uses, a Principal
 * {id, scopes}: an API key (X-API-Key), a JWT signed with the shared HS256 secret, or an
 * OAuth2 access token verified against the issuer's JWKS (issuer, audience = this
 * server, expiry with clock skew). With `api_key.enabled: auto` (the default) API keys are
 * required once any unrevoked key exists; with no method in force every caller is the
 * local principal with all scopes, which the CLI only allows on a loopback address.
 */
import type { IncomingHttpHeaders } from 'node:http';
import { createRemoteJWKSet, decodeProtectedHeader, jwtVerify, type JWTPayload, type JWTVerifyGetKey } from 'jose';
import type { AuthConfigFile } from '../../config/schema.js';
import { durationSeconds } from '../../config/duration.js';
import { EngineError } from '../../errors.js';
import type { Principal } from '../../surface/operation.js';
import type { ApiKeyStore } from './api-key-store.js';

/** 401: `tokenError` is the RFC 6750 error code for the WWW-Authenticate challenge. */
export class AuthenticationError extends EngineError {
  constructor(
    message: string,
    readonly tokenError?: 'invalid_token' | 'invalid_request',
  ) {
    super('UNAUTHENTICATED', message);
  }
}

export const LOCAL_PRINCIPAL: Principal = { id: 'local', scopes: ['*'] };

// Asymmetric algorithms only: an issuer's JWKS must never verify an HS256 token made with a
// public key as the secret (algorithm confusion).
const OAUTH_ALGORITHMS = ['RS256', 'RS384', 'RS512', 'PS256', 'PS384', 'PS512', 'ES256', 'ES384', 'ES512', 'EdDSA'];

/**
 * When requests need credentials: `always` (a method is enabled), `never` (none is), or
 * `when-keys-exist` (`api_key.enabled: auto` and no other method: while at least one
 * unrevoked API key exists).
 */
export type AuthRequirement = 'always' | 'never' | 'when-keys-exist';

export interface Authenticator {
  readonly requirement: AuthRequirement;
  readonly methods: { apiKey?: { header: string }; jwt: boolean; oauth2?: { issuer: string; audience: string } };
  /** Whether this request must carry credentials; `when-keys-exist` asks the key store. */
  required(): Promise<boolean>;
  /** The principal the request's credentials prove; throws AuthenticationError without valid ones. */
  authenticate(headers: IncomingHttpHeaders): Promise<Principal>;
}

export interface AuthenticatorOptions {
  /** The API key store, opened with the database on first use. */
  apiKeys: () => Promise<ApiKeyStore>;
  /**
   * Treat `api_key.enabled: auto` as `true`: keys are required even while none exists. The
   * CLI sets it on a non-loopback bind, so revoking the last key never opens the server.
   */
  requireApiKeys?: boolean;
  /** How long "some key exists" is believed before the store is asked again (default 5 s). */
  keyPresenceTtlMs?: number;
  /** Replaces fetch for discovery (tests). */
  fetch?: typeof fetch;
}

/**
 * Whether any unrevoked API key exists, for `when-keys-exist`. Only "yes" is cached, and
 * briefly: a key made by `apikey create` (another process, maybe another replica) takes
 * effect on the next request, because "no" is always asked of the shared database; revoking
 * the last key opens the server again at most one TTL later, which errs on the safe side.
 */
function keyPresence(apiKeys: () => Promise<ApiKeyStore>, ttlMs: number): () => Promise<boolean> {
  let knownUntil = 0;
  return async () => {
    if (Date.now() < knownUntil) return true;
    const exists = await (await apiKeys()).anyUnrevoked();
    knownUntil = exists ? Date.now() + ttlMs : 0;
    return exists;
  };
}

function scopesOf(payload: JWTPayload): string[] {
  const raw = payload.scope ?? payload.scp;
  if (typeof raw === 'string') return raw.split(' ').filter(Boolean);
  if (Array.isArray(raw)) return raw.filter((s): s is string => typeof s === 'string');
  return [];
}

function headerValue(headers: IncomingHttpHeaders, name: string): string | undefined {
  const value = headers[name.toLowerCase()];
  return Array.isArray(value) ? value[0] : value;
}

function tokenFailure(error: unknown, kind: 'JWT' | 'OAuth2 access token'): EngineError {
  const code = (error as { code?: string }).code;
  switch (code) {
    case 'ERR_JWT_EXPIRED':
      // jose reports a token older than maxTokenAge as expired on its "iat" claim
      if ((error as { claim?: string }).claim === 'iat') return new AuthenticationError(`the ${kind} is older than the configured expiry (jwt.expiry); get a new one`, 'invalid_token');
      return new AuthenticationError(`the ${kind} has expired; get a new one`, 'invalid_token');
    case 'ERR_JWT_CLAIM_VALIDATION_FAILED': {
      const claim = (error as { claim?: string }).claim;
      const why: Record<string, string> = {
        aud: 'was not issued for this server (its "aud" claim does not name it)',
        iss: 'was not issued by the configured issuer',
        iat: 'is older than the configured expiry, or has no "iat" claim',
        sub: 'has no "sub" claim naming who it was issued to',
        exp: 'has no "exp" claim',
        nbf: 'is not valid yet ("nbf")',
      };
      return new AuthenticationError(`the ${kind} ${why[claim ?? ''] ?? `failed the "${claim}" claim check`}`, 'invalid_token');
    }
    case 'ERR_JWKS_TIMEOUT':
      return new EngineError('UNAVAILABLE', 'the OAuth2 issuer\'s key set could not be fetched in time; retry shortly');
    case 'ERR_JWS_SIGNATURE_VERIFICATION_FAILED':
    case 'ERR_JWKS_NO_MATCHING_KEY':
      return new AuthenticationError(`the ${kind}'s signature does not verify`, 'invalid_token');
    case 'ERR_JOSE_ALG_NOT_ALLOWED':
      return new AuthenticationError(`the ${kind} is signed with an algorithm this server does not accept`, 'invalid_token');
    default:
      if (typeof code === 'string' && code.startsWith('ERR_J')) return new AuthenticationError(`the ${kind} is malformed`, 'invalid_token');
      return new EngineError('UNAVAILABLE', `the ${kind} could not be checked right now (${(error as Error).message}); retry shortly`);
  }
}

/** The jwks_uri from the issuer's metadata: RFC 8414 first, then OpenID Connect discovery. */
async function discoverJwksUri(issuer: string, fetchFn: typeof fetch): Promise<string> {
  const base = issuer.replace(/\/+$/, '');
  for (const path of ['/.well-known/oauth-authorization-server', '/.well-known/openid-configuration']) {
    try {
      const response = await fetchFn(`${base}${path}`, { signal: AbortSignal.timeout(5000) });
      if (!response.ok) continue;
      const metadata = (await response.json()) as { jwks_uri?: unknown };
      if (typeof metadata.jwks_uri === 'string') return metadata.jwks_uri;
    } catch {
      // try the next document
    }
  }
  throw new EngineError('UNAVAILABLE', `cannot find the OAuth2 issuer's key set: ${base} publishes no jwks_uri; set OAUTH_JWKS_URI`);
}

export function createAuthenticator(config: AuthConfigFile, options: AuthenticatorOptions): Authenticator {
  const { api_key: apiKey, jwt, oauth2 } = config.authentication;
  const audience = oauth2.audience || config.security.resource_url;
  const apiKeysOn = apiKey.enabled === true || (apiKey.enabled === 'auto' && options.requireApiKeys === true);
  const requirement: AuthRequirement = apiKeysOn || jwt.enabled || oauth2.enabled ? 'always' : apiKey.enabled === 'auto' ? 'when-keys-exist' : 'never';
  const keysExist = keyPresence(options.apiKeys, options.keyPresenceTtlMs ?? 5000);
  const jwtSecret = new TextEncoder().encode(jwt.secret);
  const jwtMaxAge = durationSeconds(jwt.expiry);
  const clockTolerance = durationSeconds(oauth2.clock_skew);
  const fetchFn = options.fetch ?? fetch;

  let keySet: Promise<JWTVerifyGetKey> | undefined;
  const issuerKeys = () => {
    keySet ??= (oauth2.jwks_uri ? Promise.resolve(oauth2.jwks_uri) : discoverJwksUri(oauth2.issuer, fetchFn)).then(
      (uri) => createRemoteJWKSet(new URL(uri), { timeoutDuration: 5000, cooldownDuration: 30_000 }),
      (error: unknown) => {
        keySet = undefined; // the issuer may come back
        throw error;
      },
    );
    return keySet;
  };

  async function fromApiKey(key: string): Promise<Principal> {
    if (apiKey.enabled === false) throw new AuthenticationError(`API keys are not enabled on this server; send an Authorization: Bearer token instead`);
    const verified = await (await options.apiKeys()).verify(key.trim());
    if (!verified) throw new AuthenticationError(`the API key in ${apiKey.header} is unknown, revoked or expired`);
    return { id: `apikey:${verified.id}`, name: verified.name, scopes: verified.scopes };
  }

  async function fromBearer(token: string): Promise<Principal> {
    let alg: string | undefined;
    try {
      alg = decodeProtectedHeader(token).alg;
    } catch {
      throw new AuthenticationError('the bearer token is not a JWT', 'invalid_token');
    }
    if (alg === 'HS256') {
      if (!jwt.enabled) throw new AuthenticationError('HS256 tokens are not accepted by this server', 'invalid_token');
      try {
        const { payload } = await jwtVerify(token, jwtSecret, { algorithms: ['HS256'], maxTokenAge: jwtMaxAge, requiredClaims: ['sub', 'iat'] });
        return { id: `jwt:${payload.sub}`, name: payload.sub, scopes: scopesOf(payload) };
      } catch (error) {
        throw tokenFailure(error, 'JWT');
      }
    }
    if (!oauth2.enabled) throw new AuthenticationError(`tokens signed with ${alg ?? 'no algorithm'} are not accepted by this server`, 'invalid_token');
    const keys = await issuerKeys();
    try {
      const { payload } = await jwtVerify(token, keys, {
        algorithms: OAUTH_ALGORITHMS,
        issuer: oauth2.issuer,
        audience,
        clockTolerance,
        requiredClaims: ['sub', 'exp'],
      });
      return { id: `oauth:${payload.sub}`, name: payload.sub, scopes: scopesOf(payload) };
    } catch (error) {
      throw tokenFailure(error, 'OAuth2 access token');
    }
  }

  return {
    requirement,
    methods: {
      ...(apiKey.enabled !== false ? { apiKey: { header: apiKey.header } } : {}),
      jwt: jwt.enabled,
      ...(oauth2.enabled ? { oauth2: { issuer: oauth2.issuer, audience } } : {}),
    },
    async required() {
      if (requirement === 'when-keys-exist') return keysExist();
      return requirement === 'always';
    },
    async authenticate(headers) {
      const key = headerValue(headers, apiKey.header);
      if (key !== undefined) return fromApiKey(key);
      const authorization = headerValue(headers, 'authorization');
      if (authorization === undefined) {
        throw new AuthenticationError(`this server needs credentials: send ${[apiKey.enabled !== false ? `an API key in ${apiKey.header}` : '', jwt.enabled || oauth2.enabled ? 'Authorization: Bearer <token>' : ''].filter(Boolean).join(' or ')}`);
      }
      const match = /^Bearer\s+(\S+)\s*$/i.exec(authorization);
      if (!match) throw new AuthenticationError('the Authorization header must be "Bearer <token>"', 'invalid_request');
      if (!jwt.enabled && !oauth2.enabled) throw new AuthenticationError(`bearer tokens are not enabled on this server; send an API key in ${apiKey.header}`, 'invalid_token');
      return fromBearer(match[1]!);
    },
  };
}
