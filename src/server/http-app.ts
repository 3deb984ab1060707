/*
 * HTTP surface
 * ============
 * One node:http listener. The protected endpoints, /mcp (streamable HTTP, both protocol
 * eras, stateless) and the API under the configured base path (REST routes and JSON-RPC,
 * both derived from the operation declarations), are dispatched directly: each request
 * passes the Host/Origin check (DNS rebinding), authentication (one Principal for every
 * surface), the failed-authentication limit (per client address, found behind trusted
 * proxies by proxy-trust.ts) and the per-principal limit (which counts calls: each call of a
 * batch), and the body size and JSON nesting limits before it reaches an operation; a
 * `subscriptions/listen` also needs a free slot of its principal's share and read access to
 * every resource it names. Everything else goes through
 * express: /health, /ready, /metrics, the API reference at /api/docs, the operator console
 * at /console (its own stricter CSP) and the RFC 9728
 * metadata. Security headers on every response; CORS only for configured origins. Errors
 * are JSON in one shape and never carry stack traces or paths. Every request has an id
 * (X-Request-Id, honoured or generated, echoed back) that the log lines its work writes
 * carry; each request is logged at debug level.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { createMcpHandler, validateHostHeader, validateOriginHeader, type McpHttpHandler, type McpRequestContext } from '@modelcontextprotocol/server';
import { hostHeaderValidation, originValidation, toNodeHandler } from '@modelcontextprotocol/node';
import cors from 'cors';
import express, { type NextFunction, type Request, type Response } from 'express';
import helmet from 'helmet';
import type { ServerHost } from './host.js';
import { ERROR_CODES, EngineError } from '../errors.js';
import type { Principal } from '../surface/operation.js';
import { REQUEST_ID_HEADER, requestIdFrom, runWithRequestId } from '../platform/request-context.js';
import { VERSION } from '../package-info.js';
import { DOCS_PATH, OPENAPI_PATH, docsFiles, type StaticFile } from './api/docs-page.js';
import { CONSOLE_OAUTH_CLIENT_PATH, CONSOLE_PATH, consoleCsp, consoleFiles } from './console-page.js';
import { invalidRequest, JsonRpcEndpoint, parseError } from './api/json-rpc.js';
import { buildOpenApiDocument } from './api/openapi.js';
import { requestSignal, restRoutes, serveRest } from './api/rest.js';
import { AuthenticationError, createAuthenticator, LOCAL_PRINCIPAL, type Authenticator } from './auth/authenticator.js';
import { challenges, METADATA_PATH, protectedResourceMetadata, resourceUrl } from './auth/protected-resource.js';
import { createProxyTrust } from './auth/proxy-trust.js';
import { createRateLimits, type RateLimits } from './auth/rate-limits.js';
import { createSubscriptionSlots, MAX_LISTEN_RESOURCES } from './auth/subscription-limits.js';
import { DAG_ADMIN_SCOPE } from '../../tools/dag.js';
import { JsonSyntaxError, parseJson, readBody } from './http/body.js';
import { errorBody, sendError, sendJson, withHttpStatus } from './http/responses.js';
import { authorizeSubscription, createMcpServerFactory } from './mcp-server.js';

export { errorBody } from './http/responses.js';

export interface HttpAppOptions {
  /** Host names accepted in Host and Origin headers on /mcp and the API; empty accepts any. */
  allowedHosts: string[];
  /** Largest request body accepted, in bytes. */
  maxBodyBytes: number;
  /**
   * `api_key.enabled: auto` means `true`: keys are required even while none exists (the CLI
   * sets this on a non-loopback bind).
   */
  requireApiKeys?: boolean;
  /** Rate-limit counters in this Redis (shared by replicas); absent: process memory. */
  rateLimitRedisUrl?: string;
  rateLimitKeyPrefix?: string;
}

export interface HttpApp {
  /** The node:http request listener. */
  handle(req: IncomingMessage, res: ServerResponse): void;
  mcp: McpHttpHandler;
  authenticator: Authenticator;
  /** Resolves when the rate-limit store is connected (or `timeoutMs` passed): listen after it. */
  ready(timeoutMs?: number): Promise<void>;
  close(): Promise<void>;
}

interface ListenRequest {
  id?: string | number | null;
  method: 'subscriptions/listen';
  params?: { notifications?: { resourceSubscriptions?: unknown } };
}

function isListen(body: unknown): body is ListenRequest {
  return typeof body === 'object' && body !== null && !Array.isArray(body) && (body as { method?: unknown }).method === 'subscriptions/listen';
}

/** Counts `calls` more calls (default 1) against the caller's rate limit; the error to answer when over it. */
type Charge = (calls?: number) => Promise<EngineError | undefined>;

function pathOf(url: string | undefined): string {
  const raw = url ?? '/';
  const query = raw.indexOf('?');
  return query === -1 ? raw : raw.slice(0, query);
}

/** The principal the listener authenticated; no principal from the transport means no rights. */
function principalOf(ctx: McpRequestContext): Principal {
  if (!ctx.authInfo) return { id: 'unauthenticated', scopes: [] };
  const name = (ctx.authInfo.extra as { name?: unknown } | undefined)?.name;
  return { id: ctx.authInfo.clientId, ...(typeof name === 'string' ? { name } : {}), scopes: ctx.authInfo.scopes };
}

export function createHttpApp(app: ServerHost, options: HttpAppOptions): HttpApp {
  const { auth, apiRoutes } = app.config;
  const security = auth.security;
  const basePath = apiRoutes.base_path.replace(/\/+$/, '');
  const rpcPath = `${basePath}/rpc`;
  const limits = { maxBodyBytes: options.maxBodyBytes, maxJsonDepth: security.max_json_depth };
  const restEnabled = apiRoutes.protocol.includes('REST');
  const rpcEnabled = apiRoutes.protocol.includes('JSON-RPC');
  const routes = restEnabled ? restRoutes(app.operations, basePath) : new Map();
  const rpc = new JsonRpcEndpoint(app, app.operations);
  const hasDag = app.operations.some((op) => op.engine === 'dag');
  const scopes = [...new Set([...app.operations.map((op) => op.scope), ...(hasDag ? [DAG_ADMIN_SCOPE] : [])])].sort();

  const authenticator = createAuthenticator(auth, {
    apiKeys: () => app.apiKeys(),
    requireApiKeys: options.requireApiKeys,
  });
  const rateLimits: RateLimits = createRateLimits({
    requestsPerMinute: security.rate_limit.requests_per_minute,
    failedAuthPerMinute: security.rate_limit.failed_auth_per_minute,
    // Both limits only apply to requests that need credentials; no Redis connection for nothing.
    redisUrl: authenticator.requirement !== 'never' ? options.rateLimitRedisUrl : undefined,
    keyPrefix: options.rateLimitKeyPrefix,
    log: app.log.child({ component: 'rate-limit' }),
  });

  const openApi = buildOpenApiDocument({
    operations: app.operations,
    basePath,
    rest: restEnabled,
    jsonRpc: rpcEnabled,
    version: VERSION,
    auth: { ...authenticator.methods, requirement: authenticator.requirement },
  });
  let docs: Map<string, StaticFile> | undefined;
  let consoleAssets: Map<string, StaticFile> | undefined;

  const subscriptionSlots = createSubscriptionSlots(security.subscriptions.per_principal);
  const mcpFactory = createMcpServerFactory(app, principalOf);
  const mcp = createMcpHandler(
    mcpFactory,
    {
      maxRequestBodySize: options.maxBodyBytes,
      // subscriptions/listen streams hear every replica's changes (Redis pub/sub when configured).
      bus: app.events,
      // all principals together; each principal's share is checked before (serveListen)
      maxSubscriptions: security.subscriptions.total,
      onerror: (error) => app.log.debug({ err: error.message }, 'mcp request rejected'),
    },
  );
  const serveMcp = toNodeHandler(mcp, {
    maxRequestBodySize: options.maxBodyBytes,
    onerror: (error) => app.log.error({ err: error.message }, 'mcp handler failed'),
  });

  const corsOrigins = security.cors.allowed_origins;
  const corsHostnames = corsOrigins.flatMap((origin) => {
    try {
      return [new URL(origin).hostname];
    } catch {
      return [];
    }
  });
  const checkHosts = options.allowedHosts.length > 0;
  const originHosts = [...options.allowedHosts, ...corsHostnames];
  const mcpHostGuard = checkHosts ? hostHeaderValidation(options.allowedHosts) : () => true;
  const mcpOriginGuard = checkHosts ? originValidation(originHosts) : () => true;
  const corsHandler = corsOrigins.length > 0
    ? cors({ origin: corsOrigins, allowedHeaders: ['content-type', 'authorization', auth.authentication.api_key.header, 'mcp-protocol-version', 'mcp-session-id', 'last-event-id', 'x-request-id'], exposedHeaders: ['www-authenticate', 'retry-after', 'mcp-session-id', 'x-request-id'], maxAge: 600 })
    : undefined;
  const headers = helmet({
    // The API reference loads its own scripts and styles only; Swagger UI sets inline styles.
    contentSecurityPolicy: { directives: { 'default-src': ["'self'"], 'script-src': ["'self'"], 'style-src': ["'self'", "'unsafe-inline'"], 'img-src': ["'self'", 'data:'], 'upgrade-insecure-requests': null } },
    strictTransportSecurity: false, // TLS is terminated in front of this server, which sets HSTS there
  });

  const knownRoutes = new Set(['/mcp', '/health', '/ready', '/metrics', rpcPath, DOCS_PATH, OPENAPI_PATH, CONSOLE_PATH, METADATA_PATH, `${METADATA_PATH}/mcp`, ...routes.keys()]);
  const track = (req: IncomingMessage, res: ServerResponse, path: string, requestId: string) => {
    const started = process.hrtime.bigint();
    res.on('finish', () => {
      const seconds = Number(process.hrtime.bigint() - started) / 1e9;
      const labels = { method: req.method ?? 'GET', route: knownRoutes.has(path) ? path : 'other', status: String(res.statusCode) };
      app.metrics.httpRequestDuration.observe(labels, seconds);
      app.metrics.httpRequestsTotal.inc(labels);
      // Headers as sent (log.ts redacts credentials); the path without its query string.
      // The level check spares building the line on every request when debug is off.
      if (app.log.isLevelEnabled('debug')) app.log.debug({ request_id: requestId, req: { method: req.method, path, headers: req.headers }, status: res.statusCode, ms: Math.round(seconds * 1000) }, 'http request');
    });
    res.setHeader('X-Request-Id', requestId);
  };

  const proxies = createProxyTrust(security.trust_proxy);
  const clientAddress = (req: IncomingMessage) => proxies.clientAddress(req);
  const resourceFor = (req: IncomingMessage) => resourceUrl(security.resource_url, req.headers.host, proxies.forwardedProto(req) === 'https');

  /**
   * The caller's principal (and whether it proved one with credentials), or undefined once a
   * refusal (401, 429, 503) has been sent. Without a method in force it is the local principal.
   */
  async function authenticate(req: IncomingMessage, res: ServerResponse): Promise<{ principal: Principal; credentials: boolean } | undefined> {
    if (!(await authenticator.required())) return { principal: LOCAL_PRINCIPAL, credentials: false };
    const address = clientAddress(req);
    const blocked = await rateLimits.failedAuthBlock(address);
    if (blocked > 0) {
      sendError(res, new EngineError('BUSY', `too many refused credentials from this address; wait ${blocked} s`), { 'retry-after': String(blocked) });
      return undefined;
    }
    try {
      return { principal: await authenticator.authenticate(req.headers), credentials: true };
    } catch (error) {
      if (!(error instanceof AuthenticationError)) {
        sendError(res, error);
        return undefined;
      }
      const wait = await rateLimits.recordFailedAuth(address);
      app.log.warn({ audit: 'authentication-refused', address, reason: error.message }, 'credentials refused');
      const problem = error.tokenError ? { error: error.tokenError, description: error.message } : undefined;
      sendError(res, error, { 'www-authenticate': challenges(authenticator.methods, resourceFor(req), problem), ...(wait > 0 ? { 'retry-after': String(wait) } : {}) });
      return undefined;
    }
  }

  function checkApiHostAndOrigin(req: IncomingMessage, res: ServerResponse): boolean {
    if (!checkHosts) return true;
    const host = validateHostHeader(req.headers.host, options.allowedHosts);
    const origin = host.ok ? validateOriginHeader(req.headers.origin, originHosts) : host;
    if (origin.ok) return true;
    sendError(res, new EngineError('FORBIDDEN', `${origin.message}; add the host name to --allowed-hosts if it is this server`));
    return false;
  }

  const overLimit = (principal: Principal, wait: number) =>
    new EngineError(
      'BUSY',
      `principal "${principal.id}" made more than ${security.rate_limit.requests_per_minute} calls this minute (security.rate_limit.requests_per_minute; a batch counts each call); wait ${wait} s`,
      { retryAfterSeconds: wait },
    );
  const retryAfter = (refusal: EngineError) => ({ 'retry-after': String((refusal.details as { retryAfterSeconds: number }).retryAfterSeconds) });

  async function serveMcpRequest(req: IncomingMessage, res: ServerResponse, principal: Principal, charge: Charge): Promise<void> {
    (req as IncomingMessage & { auth?: unknown }).auth = { token: '', clientId: principal.id, scopes: [...principal.scopes], extra: principal.name ? { name: principal.name } : undefined };
    if (req.method !== 'POST') return serveMcp(req, res);
    let body: unknown;
    try {
      body = parseJson(await readBody(req, limits.maxBodyBytes), limits.maxJsonDepth);
    } catch (error) {
      if (error instanceof JsonSyntaxError) return sendJson(res, 400, parseError(error.message));
      if (error instanceof EngineError && error.code === 'INVALID_INPUT') return sendJson(res, 400, invalidRequest(error.message));
      return sendError(res, error);
    }
    if (isListen(body)) return serveListen(req, res, principal, body);
    // A 2025-era batch: its further calls are counted at once, and over the limit it is refused whole.
    if (Array.isArray(body) && body.length > 1) {
      const refusal = await charge(body.length - 1);
      if (refusal) {
        return sendJson(res, 429, { jsonrpc: '2.0', id: null, error: { code: ERROR_CODES.BUSY.jsonRpc, message: `${refusal.message} (this batch holds ${body.length} messages)`, data: { code: 'BUSY' } } }, retryAfter(refusal));
      }
    }
    return serveMcp(req, res, body);
  }

  /**
   * `subscriptions/listen` (2026-07-28): refused in-band, as the SDK refuses its own limit,
   * when the principal holds its share of streams or names a resource it may not read (a
   * run of another principal is NOT_FOUND, as on every surface); the slot is held until the
   * stream closes.
   */
  async function serveListen(req: IncomingMessage, res: ServerResponse, principal: Principal, body: ListenRequest): Promise<void> {
    const refuse = (error: EngineError) =>
      sendJson(res, 200, { jsonrpc: '2.0', id: body.id ?? null, error: { code: ERROR_CODES[error.code].jsonRpc, message: error.message, data: { code: error.code } } });
    const release = subscriptionSlots.take(principal.id);
    if (!release) {
      return refuse(
        new EngineError(
          'BUSY',
          `principal "${principal.id}" already holds ${security.subscriptions.per_principal} open subscriptions/listen streams on this server (security.subscriptions.per_principal); close one, or follow several resources with one stream`,
        ),
      );
    }
    res.once('close', release);
    const uris = body.params?.notifications?.resourceSubscriptions;
    if (Array.isArray(uris)) {
      if (uris.length > MAX_LISTEN_RESOURCES) {
        release();
        return refuse(new EngineError('INVALID_INPUT', `a subscriptions/listen naming ${uris.length} resources; name at most ${MAX_LISTEN_RESOURCES} per stream`));
      }
      try {
        // Each URI passes the invoke path as a subscription: scope, policy, ownership, audit.
        for (const uri of uris) if (typeof uri === 'string') await authorizeSubscription(app, mcpFactory.catalog, uri, { principal });
      } catch (error) {
        release();
        if (error instanceof EngineError) return refuse(error);
        throw error;
      }
    }
    return serveMcp(req, res, body);
  }

  async function serveRpc(req: IncomingMessage, res: ServerResponse, principal: Principal, charge: Charge): Promise<void> {
    if (req.method !== 'POST') return sendError(res, withHttpStatus(new EngineError('INVALID_INPUT', `${rpcPath} takes POST with a JSON-RPC 2.0 request or batch`), 405), { allow: 'POST' });
    const raw = await readBody(req, limits.maxBodyBytes);
    const type = req.headers['content-type'] ?? '';
    if (!/^application\/json\b/i.test(type)) {
      return sendError(res, withHttpStatus(new EngineError('INVALID_INPUT', `send JSON-RPC with Content-Type: application/json (got ${JSON.stringify(type || 'none')})`), 415));
    }
    let message: unknown;
    try {
      message = parseJson(raw, limits.maxJsonDepth);
    } catch (error) {
      if (error instanceof JsonSyntaxError) return sendJson(res, 400, parseError(error.message));
      return sendJson(res, 400, invalidRequest((error as Error).message));
    }
    const answer = await rpc.handle(message, { principal, signal: requestSignal(res), charge: () => charge() });
    if (answer === undefined) {
      res.writeHead(204).end();
      return;
    }
    const invalid = !Array.isArray(answer) && 'error' in answer && answer.error.code === -32600;
    sendJson(res, invalid ? 400 : 200, answer);
  }

  async function serveApi(req: IncomingMessage, res: ServerResponse, path: string, principal: Principal, charge: Charge): Promise<void> {
    if (path === rpcPath && rpcEnabled) return serveRpc(req, res, principal, charge);
    const route = routes.get(path);
    if (!route) {
      return sendError(res, new EngineError('NOT_FOUND', `no operation at ${path} on this server; GET ${OPENAPI_PATH} lists the routes (operations left out by --toolsets or --read-only are not served)`));
    }
    if (req.method !== route.method && !(route.method === 'GET' && req.method === 'HEAD')) {
      return sendError(res, withHttpStatus(new EngineError('INVALID_INPUT', `${path} takes ${route.method}${route.method === 'GET' ? ' with query parameters' : ' with a JSON body'}`), 405), { allow: route.method });
    }
    const url = new URL(req.url ?? '/', 'http://localhost');
    return serveRest(app, route, req, res, url, principal, limits);
  }

  async function serveProtected(req: IncomingMessage, res: ServerResponse, path: string): Promise<void> {
    const isMcp = path === '/mcp';
    if (isMcp ? !mcpHostGuard(req, res) || !mcpOriginGuard(req, res) : !checkApiHostAndOrigin(req, res)) return;
    const caller = await authenticate(req, res);
    if (!caller) return;
    const { principal, credentials } = caller;
    // Every request costs one call; each further call of a batch costs one more (charge).
    const charge = async (calls = 1): Promise<EngineError | undefined> => {
      if (!credentials) return undefined;
      const wait = await rateLimits.recordRequest(principal.id, calls);
      return wait > 0 ? overLimit(principal, wait) : undefined;
    };
    const refusal = await charge();
    if (refusal) return sendError(res, refusal, retryAfter(refusal));
    if (isMcp) return serveMcpRequest(req, res, principal, charge);
    try {
      await serveApi(req, res, path, principal, charge);
    } catch (error) {
      if (error instanceof EngineError && error.code === 'FORBIDDEN' && credentials) {
        const scope = routes.get(path)?.operation.scope;
        return sendError(res, error, { 'www-authenticate': challenges(authenticator.methods, resourceFor(req), { error: 'insufficient_scope', description: error.message, scope }) });
      }
      if (!(error instanceof EngineError)) app.log.error({ err: error, path }, 'api request failed');
      sendError(res, error);
    }
  }

  const http = express();
  http.disable('x-powered-by');
  http.set('etag', false);

  http.get('/health', (_req, res) => {
    res.json({ status: 'ok', version: VERSION, uptimeSeconds: Math.round(process.uptime()) });
  });

  http.get('/ready', async (_req, res) => {
    const readiness = await app.readiness();
    res.status(readiness.ready ? 200 : 503).json(readiness);
  });

  http.get('/metrics', async (_req, res) => {
    res.setHeader('Content-Type', app.metrics.registry.contentType);
    res.send(await app.metrics.registry.metrics());
  });

  http.get([METADATA_PATH, `${METADATA_PATH}/mcp`], (req, res) => {
    res.json(protectedResourceMetadata(resourceFor(req), authenticator.methods, scopes));
  });

  http.get(OPENAPI_PATH, (_req, res) => {
    res.json(openApi);
  });

  http.get([DOCS_PATH, `${DOCS_PATH}/assets/:file`], (req, res, next) => {
    docs ??= docsFiles();
    const file = docs.get(req.path);
    if (!file) return next();
    res.setHeader('Content-Type', file.type);
    res.setHeader('Cache-Control', req.path === DOCS_PATH ? 'no-cache' : 'public, max-age=3600');
    res.send(file.body);
  });

  // The operator console: static files; its calls go to the REST API (and a run's live stream
  // to /mcp) with the operator's API key or OAuth token. With OAuth on, the page signs in as
  // the public client oauth2.client_id (never the secret), named here.
  const consolePolicy = consoleCsp(authenticator.methods.oauth2?.issuer);
  const consoleClientId = authenticator.methods.oauth2 ? auth.authentication.oauth2.client_id : '';
  http.get(CONSOLE_OAUTH_CLIENT_PATH, (_req, res) => {
    if (!consoleClientId) {
      const why = authenticator.methods.oauth2 ? 'no OAuth client id is set for the console (oauth2.client_id, OAUTH_CLIENT_ID)' : 'OAuth is off on this server';
      return res.status(404).json(errorBody('NOT_FOUND', why));
    }
    res.setHeader('Cache-Control', 'no-cache');
    res.json({ client_id: consoleClientId, client_name: 'mcp-level3 operator console', token_endpoint_auth_method: 'none' });
  });
  http.get([CONSOLE_PATH, `${CONSOLE_PATH}/`, `${CONSOLE_PATH}/:file`], (req, res, next) => {
    consoleAssets ??= consoleFiles();
    const file = consoleAssets.get(req.path);
    if (!file) return next();
    res.setHeader('Content-Type', file.type);
    res.setHeader('Content-Security-Policy', consolePolicy);
    res.setHeader('Cache-Control', 'no-cache');
    res.send(file.body);
  });

  http.use((req: Request, res: Response) => {
    res.status(404).json(errorBody('NOT_FOUND', `no route ${req.method} ${req.path}; this server serves /mcp, ${basePath}/..., ${DOCS_PATH}, ${CONSOLE_PATH}, /health, /ready and /metrics`));
  });

  http.use((error: Error & { status?: number }, _req: Request, res: Response, _next: NextFunction) => {
    const status = error.status && error.status >= 400 && error.status < 500 ? error.status : 500;
    if (status === 500) app.log.error({ err: error }, 'http request failed');
    res.status(status).json(errorBody(status === 500 ? 'INTERNAL' : 'INVALID_INPUT', status === 500 ? 'internal error; the server log has the details' : error.message));
  });

  const isProtected = (path: string) => path === '/mcp' || path === basePath || path.startsWith(`${basePath}/`);

  function dispatch(req: IncomingMessage, res: ServerResponse, path: string): void {
    if (!isProtected(path)) {
      http(req, res);
      return;
    }
    serveProtected(req, res, path).catch((error: unknown) => {
      if (!(error instanceof EngineError)) app.log.error({ err: (error as Error).message, path }, 'request failed');
      if (!res.headersSent) sendError(res, error);
      else res.end();
    });
  }

  return {
    mcp,
    authenticator,
    handle(req, res) {
      const path = pathOf(req.url);
      const requestId = requestIdFrom(req.headers[REQUEST_ID_HEADER]);
      track(req, res, path, requestId);
      runWithRequestId(requestId, () =>
        headers(req, res, () => {
          if (corsHandler && isProtected(path)) corsHandler(req, res, () => dispatch(req, res, path));
          else dispatch(req, res, path);
        }),
      );
    },
    ready: (timeoutMs = 3000) => rateLimits.ready(timeoutMs),
    async close() {
      await mcp.close().catch(() => undefined);
      await rateLimits.close();
    },
  };
}
