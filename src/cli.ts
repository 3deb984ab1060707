#!/usr/bin/env node
/*
 * mcp-level3 command line
 * =======================
 *   mcp-level3 [stdio]                       MCP over stdio (Claude Desktop, IDE agents)
 *   mcp-level3 http [--host H] [--port P]    streamable HTTP at /mcp, /health, /ready, /metrics
 * In stdio mode stdout carries protocol messages only; everything else goes to stderr.
 */
import { existsSync } from 'node:fs';
import { createServer } from 'node:http';
import { parseArgs } from 'node:util';
import { App, type AppOptions } from './app.js';
import { ConfigError } from './config/load-config.js';
import { parseToolsets } from './operations/index.js';
import type { Principal } from './operations/operation.js';
import { VERSION } from './package-info.js';
import { shutdownTracing, tracingRequested } from './platform/tracing.js';
import { createMcpServerFactory } from './server/mcp-server.js';

const USAGE = `mcp-level3 ${VERSION}: an MCP server for rag, dag, execution, governance, taxonomy, validation, promotion and registry

Usage:
  mcp-level3 [stdio] [options]            MCP over stdio
  mcp-level3 http [options]               streamable HTTP at /mcp, plus /health, /ready, /metrics

Options:
  --data-dir DIR        embedded database directory (env MCP_DATA_DIR, default ./data; memory:// keeps nothing)
  --config DIR          configuration directory (default ./config; missing files fall back to the shipped ones)
  --toolsets a,b        only these engines' tools (rag,dag,execution,governance,taxonomy,validation,promotion,registry)
  --read-only           only tools annotated read-only
  --host HOST           http: address to bind (env MCP_HOST, default 127.0.0.1)
  --port PORT           http: port (env MCP_PORT, default 8080)
  --allowed-hosts a,b   http: Host/Origin names accepted besides the bind address
  --insecure-no-auth    http: allow binding a non-loopback address without authentication
  -h, --help            this text
  -v, --version         the version

Environment: DATABASE_URL (PostgreSQL with pgvector), REDIS_URL, LOG_LEVEL, OTEL_EXPORTER_OTLP_ENDPOINT (traces); see .env.example.`;

const LOOPBACK = new Set(['127.0.0.1', 'localhost', '::1', '[::1]']);

function fail(message: string, code = 2): never {
  process.stderr.write(`mcp-level3: ${message}\n`);
  process.exit(code);
}

function parseCommandLine(argv: string[]) {
  try {
    return parseArgs({
      args: argv,
      allowPositionals: true,
      strict: true,
      options: {
        'data-dir': { type: 'string' },
        config: { type: 'string' },
        toolsets: { type: 'string' },
        'read-only': { type: 'boolean' },
        host: { type: 'string' },
        port: { type: 'string' },
        'allowed-hosts': { type: 'string' },
        'insecure-no-auth': { type: 'boolean' },
        help: { type: 'boolean', short: 'h' },
        version: { type: 'boolean', short: 'v' },
      },
    });
  } catch (error) {
    fail(`${(error as Error).message}\n\n${USAGE}`);
  }
}

function createApp(values: ReturnType<typeof parseCommandLine>['values']): App {
  const options: AppOptions = {
    configDir: values.config ?? './config',
    configExplicit: values.config !== undefined,
    dataDir: values['data-dir'],
    readOnly: values['read-only'] ?? false,
  };
  try {
    if (values.toolsets !== undefined) options.toolsets = parseToolsets(values.toolsets);
    return new App(options);
  } catch (error) {
    if (error instanceof ConfigError) fail(`configuration is invalid:\n  ${error.problems.join('\n  ')}`);
    fail((error as Error).message);
  }
}

async function runStdio(app: App): Promise<void> {
  const { serveStdio } = await import('@modelcontextprotocol/server/stdio');
  const local: Principal = { id: 'local', scopes: ['*'] };
  const handle = serveStdio(createMcpServerFactory(app, () => local, 'stdio'), {
    onerror: (error) => app.log.warn({ err: error.message }, 'stdio protocol error'),
  });
  app.start();
  let stopping = false;
  const stop = async () => {
    if (stopping) return;
    stopping = true;
    await handle.close().catch(() => undefined);
    await app.close();
    await shutdownTracing().catch(() => undefined);
    process.exit(0);
  };
  process.stdin.on('end', stop);
  process.stdin.on('close', stop);
  process.on('SIGINT', stop);
  process.on('SIGTERM', stop);
  app.log.info({ transport: 'stdio', tools: app.operations.length }, 'mcp-level3 serving on stdio');
}

async function runHttp(app: App, values: ReturnType<typeof parseCommandLine>['values']): Promise<void> {
  const host = values.host ?? process.env.MCP_HOST ?? '127.0.0.1';
  const portText = values.port ?? process.env.MCP_PORT ?? '8080';
  const port = Number(portText);
  if (!Number.isInteger(port) || port < 0 || port > 65535) fail(`--port: expected a port number 0-65535, got ${JSON.stringify(portText)}`);

  const loopback = LOOPBACK.has(host);
  if (!loopback && !values['insecure-no-auth']) {
    fail(
      `refusing to bind ${host} without authentication: anyone who can reach it could call every tool.\n` +
        `  Bind 127.0.0.1 (the default) and put an authenticating proxy in front, or pass --insecure-no-auth\n` +
        `  if this network is trusted (for example inside a pod behind an authenticating ingress).`,
    );
  }
  const extra = (values['allowed-hosts'] ?? '').split(',').map((h) => h.trim()).filter(Boolean);
  const allowedHosts = loopback ? ['localhost', '127.0.0.1', '[::1]', ...extra] : extra.length > 0 ? [host, ...extra].filter((h) => h !== '0.0.0.0' && h !== '::') : [];
  if (!loopback) {
    app.log.warn({ host }, 'INSECURE: serving without authentication on a non-loopback address (--insecure-no-auth)');
    if (allowedHosts.length === 0) app.log.warn('Host and Origin headers are not checked; pass --allowed-hosts to enable DNS-rebinding protection');
  }

  const maxContent = app.config.engineMap.engine_map.registry.settings.maxContentBytes;
  const maxBodyBytes = Math.max(10 * 1024 * 1024, Math.ceil((maxContent * 4) / 3) + 64 * 1024);
  const { createHttpApp } = await import('./server/http-app.js');
  const { handle, mcp } = createHttpApp(app, { allowedHosts, maxBodyBytes });
  const server = createServer(handle);
  server.keepAliveTimeout = 65_000;
  server.on('error', (error: NodeJS.ErrnoException) => {
    if (error.code === 'EADDRINUSE') fail(`port ${port} on ${host} is already in use; pick another with --port`, 1);
    fail(`cannot listen on ${host}:${port}: ${error.message}`, 1);
  });
  app.start();
  server.listen(port, host, () => {
    const address = server.address();
    const actualPort = typeof address === 'object' && address ? address.port : port;
    app.log.info({ transport: 'http', url: `http://${host.includes(':') ? `[${host}]` : host}:${actualPort}/mcp`, tools: app.operations.length }, 'mcp-level3 listening');
  });

  let stopping = false;
  const stop = async () => {
    if (stopping) return;
    stopping = true;
    app.log.info('shutting down');
    server.close();
    server.closeIdleConnections();
    await mcp.close().catch(() => undefined);
    await app.close();
    await shutdownTracing().catch(() => undefined);
    process.exit(0);
  };
  process.on('SIGINT', stop);
  process.on('SIGTERM', stop);
}

/** `cp .env.example .env` is how the deployment guide configures a checkout; variables already set win. */
function loadDotEnv(): void {
  if (!existsSync('.env')) return;
  try {
    process.loadEnvFile('.env');
  } catch (error) {
    fail(`.env: cannot be read: ${(error as Error).message}`);
  }
}

async function main(): Promise<void> {
  const { values, positionals } = parseCommandLine(process.argv.slice(2));
  loadDotEnv();
  if (values.help) {
    process.stderr.write(`${USAGE}\n`);
    return;
  }
  if (values.version) {
    process.stdout.write(`${VERSION}\n`); // --allow-stdout: a CLI answer, not the stdio server path
    return;
  }
  const command = positionals[0] ?? 'stdio';
  if (positionals.length > 1) fail(`unexpected argument ${JSON.stringify(positionals[1])}\n\n${USAGE}`);
  if (command !== 'stdio' && command !== 'http') fail(`unknown command ${JSON.stringify(command)}; use "stdio" or "http"\n\n${USAGE}`);

  const app = createApp(values);
  process.on('unhandledRejection', (reason) => app.log.error({ err: reason }, 'unhandled rejection'));
  // Before anything opens storage: the drivers must load after their instrumentations.
  // Without an endpoint the SDK is never imported.
  if (tracingRequested(process.env)) {
    try {
      const { startTracing } = await import('./platform/tracing-sdk.js');
      await startTracing({ serviceName: 'mcp-level3', version: VERSION, log: app.log });
    } catch (error) {
      app.log.error({ err: error }, 'tracing could not start; serving without it');
    }
  }
  if (command === 'stdio') await runStdio(app);
  else await runHttp(app, values);
}

await main();
