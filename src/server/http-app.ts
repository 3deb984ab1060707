/*
 * HTTP surface
 * ============
 * /mcp (streamable HTTP, both protocol eras, stateless) is dispatched straight from
 * node:http to the SDK handler: it is the hot path and needs no router. Everything else
 * goes through express: /health (liveness), /ready (database, migrations and cache),
 * /metrics (Prometheus). Host and Origin headers are checked on /mcp against the allowed
 * host names (DNS-rebinding protection). Errors are JSON in one shape and never carry
 * stack traces or paths. Every request has an id (X-Request-Id, honoured or generated,
 * echoed back) that the log lines its work writes carry; each is logged at debug level.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { createMcpHandler, type McpHttpHandler } from '@modelcontextprotocol/server';
import { hostHeaderValidation, originValidation, toNodeHandler } from '@modelcontextprotocol/node';
import express, { type NextFunction, type Request, type Response } from 'express';
import type { App } from '../app.js';
import type { Principal } from '../operations/operation.js';
import { REQUEST_ID_HEADER, requestIdFrom, runWithRequestId } from '../platform/request-context.js';
import { VERSION } from '../package-info.js';
import { createMcpServerFactory } from './mcp-server.js';

export interface HttpAppOptions {
  /** Host names accepted in Host and Origin headers on /mcp; empty accepts any. */
  allowedHosts: string[];
  /** Largest request body accepted, in bytes. */
  maxBodyBytes: number;
}

export interface HttpApp {
  /** The node:http request listener. */
  handle(req: IncomingMessage, res: ServerResponse): void;
  mcp: McpHttpHandler;
}

const KNOWN_ROUTES = new Set(['/mcp', '/health', '/ready', '/metrics']);

export function errorBody(code: string, message: string) {
  return { error: { code, message } };
}

function pathOf(url: string | undefined): string {
  const raw = url ?? '/';
  const query = raw.indexOf('?');
  return query === -1 ? raw : raw.slice(0, query);
}

export function createHttpApp(app: App, options: HttpAppOptions): HttpApp {
  const anonymous: Principal = { id: 'anonymous', scopes: ['*'] };
  const mcp = createMcpHandler(createMcpServerFactory(app, () => anonymous), {
    maxRequestBodySize: options.maxBodyBytes,
    onerror: (error) => app.log.debug({ err: error.message }, 'mcp request rejected'),
  });
  const serveMcp = toNodeHandler(mcp, {
    maxRequestBodySize: options.maxBodyBytes,
    onerror: (error) => app.log.error({ err: error.message }, 'mcp handler failed'),
  });
  const pass = () => true;
  const checkHost = options.allowedHosts.length > 0 ? hostHeaderValidation(options.allowedHosts) : pass;
  const checkOrigin = options.allowedHosts.length > 0 ? originValidation(options.allowedHosts) : pass;

  const track = (req: IncomingMessage, res: ServerResponse, path: string, requestId: string) => {
    const started = process.hrtime.bigint();
    res.on('finish', () => {
      const seconds = Number(process.hrtime.bigint() - started) / 1e9;
      const labels = { method: req.method ?? 'GET', route: KNOWN_ROUTES.has(path) ? path : 'other', status: String(res.statusCode) };
      app.metrics.httpRequestDuration.observe(labels, seconds);
      app.metrics.httpRequestsTotal.inc(labels);
      // Headers as sent (log.ts redacts credentials); the path without its query string.
      // The level check spares building the line on every request when debug is off.
      if (app.log.isLevelEnabled('debug')) app.log.debug({ request_id: requestId, req: { method: req.method, path, headers: req.headers }, status: res.statusCode, ms: Math.round(seconds * 1000) }, 'http request');
    });
    res.setHeader('X-Content-Type-Options', 'nosniff');
    res.setHeader('X-Request-Id', requestId);
  };

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

  http.use((req: Request, res: Response) => {
    res.status(404).json(errorBody('NOT_FOUND', `no route ${req.method} ${req.path}; this server serves /mcp, /health, /ready and /metrics`));
  });

  http.use((error: Error & { status?: number }, _req: Request, res: Response, _next: NextFunction) => {
    const status = error.status && error.status >= 400 && error.status < 500 ? error.status : 500;
    if (status === 500) app.log.error({ err: error }, 'http request failed');
    res.status(status).json(errorBody(status === 500 ? 'INTERNAL' : 'INVALID_INPUT', status === 500 ? 'internal error; the server log has the details' : error.message));
  });

  return {
    mcp,
    handle(req, res) {
      const path = pathOf(req.url);
      const requestId = requestIdFrom(req.headers[REQUEST_ID_HEADER]);
      track(req, res, path, requestId);
      runWithRequestId(requestId, () => {
        if (path !== '/mcp') {
          http(req, res);
          return;
        }
        if (!checkHost(req, res) || !checkOrigin(req, res)) return;
        serveMcp(req, res).catch((error: unknown) => {
          app.log.error({ err: (error as Error).message }, 'mcp request failed');
          if (!res.headersSent) res.writeHead(500, { 'content-type': 'application/json' }).end(JSON.stringify(errorBody("INTERNAL", "internal error")));
        });
      });
    },
  };
}
