#!/usr/bin/env node
/*
 * mcp-level3 command line
 * =======================
 *   mcp-level3 [stdio]                       MCP over stdio (Claude Desktop, IDE agents)
 *   mcp-level3 http [--host H] [--port P]    streamable HTTP at /mcp, the REST/JSON-RPC API, /health, /ready, /metrics
 *   mcp-level3 apikey create|list|revoke     API keys for the HTTP transports
 *   mcp-level3 ingest PATH... --collection N index files and folders into a RAG collection
 *   mcp-level3 rag reembed COLLECTION       move a collection to the configured embedder
 * In stdio mode stdout carries protocol messages only; everything else goes to stderr.
 */
import { existsSync } from 'node:fs';
import { parseArgs } from 'node:util';
// The app (configuration, declarations, engines) is imported when a command needs it: stdio
// answers `initialize` before it (runStdio).
import { MEMORY_DATA_DIR } from './adapters.js';
import type { App, AppOptions } from './app.js';
import { VERSION } from './package-info.js';
import { DataDirLockedError, lockDataDir } from './platform/data-dir-lock.js';
import { shutdownTracing, tracingRequested } from './platform/tracing.js';
import type { AdminSocket, KeyAction, KeyActionResult } from './server/admin-socket.js';
import type { RagEngine } from './engines/rag/rag-engine.js';

const USAGE = `mcp-level3 ${VERSION}: an MCP server for rag, dag, execution, governance, taxonomy, validation, promotion and registry

Usage:
  mcp-level3 [stdio] [options]            MCP over stdio
  mcp-level3 http [options]               streamable HTTP at /mcp, REST and JSON-RPC under /api/v1,
                                          the API reference at /api/docs, plus /health, /ready, /metrics
  mcp-level3 apikey create --name N --scopes a,b [--expires 90d]
                                          make an API key (printed once; only its hash is stored)
  mcp-level3 apikey list                  keys with their scopes, expiry and revocation
  mcp-level3 apikey revoke ID             revoke a key at once
  mcp-level3 ingest PATH... --collection NAME [--include GLOB] [--exclude GLOB] [--prune]
                                          index files and folders (.md, .txt, .html, .pdf, .docx and
                                          other text) into a RAG collection; unchanged files are skipped;
                                          prints a JSON summary, exits 1 if any file failed; then waits
                                          for the vectors (--no-wait: the server computes them later)
  mcp-level3 rag reembed COLLECTION       move a collection to the configured embedder (e.g. from the
                                          offline one to the local model); it keeps answering meanwhile

Options:
  --data-dir DIR        embedded database directory (env MCP_DATA_DIR, default ./data; memory:// keeps nothing)
  --config DIR          configuration directory (default ./config; missing files fall back to the shipped ones)
  --toolsets a,b        only these engines' tools (rag,dag,execution,governance,taxonomy,validation,promotion,registry)
  --read-only           only tools annotated read-only
  --host HOST           http: address to bind (env MCP_HOST, default 127.0.0.1)
  --port PORT           http: port (env MCP_PORT, default 8080)
  --allowed-hosts a,b   http: Host/Origin names accepted besides the bind address
  --insecure-no-auth    http: allow binding a non-loopback address with no authentication configured
  --collection NAME     ingest: the collection (created on first use)
  --include GLOB        ingest: only files matching (repeatable; "*.md", "docs/**/*.pdf")
  --exclude GLOB        ingest: leave out files or folders matching (repeatable; "drafts", "*.log")
  --prune               ingest: delete documents whose files under the given paths are gone
  --no-wait             ingest: exit once the text is indexed, without waiting for the vectors
  -h, --help            this text
  -v, --version         the version

Environment: DATABASE_URL (PostgreSQL with pgvector), REDIS_URL, LOG_LEVEL, OTEL_EXPORTER_OTLP_ENDPOINT (traces); authentication:
API_KEY_ENABLED (auto: required once a key exists), JWT_ENABLED + JWT_SECRET, OAUTH_ENABLED +
OAUTH_ISSUER (+ MCP_RESOURCE_URL); stdio's rights: MCP_STDIO_PRINCIPAL, MCP_STDIO_SCOPES;
see .env.example and docs/security.md.`;

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
        name: { type: 'string' },
        scopes: { type: 'string' },
        expires: { type: 'string' },
        collection: { type: 'string' },
        include: { type: 'string', multiple: true },
        exclude: { type: 'string', multiple: true },
        prune: { type: 'boolean' },
        'no-wait': { type: 'boolean' },
        help: { type: 'boolean', short: 'h' },
        version: { type: 'boolean', short: 'v' },
      },
    });
  } catch (error) {
    fail(`${(error as Error).message}\n\n${USAGE}`);
  }
}

async function createApp(values: ReturnType<typeof parseCommandLine>['values'], command: string): Promise<App> {
  const [{ App }, { ConfigError }, { parseToolsets }] = await Promise.all([import('./app.js'), import('./config/load-config.js'), import('../tools/index.js')]);
  const options: AppOptions = {
    configDir: values.config ?? './config',
    configExplicit: values.config !== undefined,
    dataDir: values['data-dir'],
    readOnly: values['read-only'] ?? false,
    // Servers run workflows; one-shot commands only open storage.
    runsWorkflows: command === 'stdio' || command === 'http',
  };
  try {
    if (values.toolsets !== undefined) options.toolsets = parseToolsets(values.toolsets);
    return new App(options);
  } catch (error) {
    if (error instanceof ConfigError) fail(`configuration is invalid:\n  ${error.problems.join('\n  ')}`);
    fail((error as Error).message);
  }
}

/**
 * On an embedded data dir, the socket through which `mcp-level3 apikey` reaches this server
 * while it holds the data dir (admin-socket.ts); opened once storage is.
 */
function startAdminSocket(app: App): Promise<AdminSocket | undefined> {
  if (app.dataDir === MEMORY_DATA_DIR || process.env.DATABASE_URL) return Promise.resolve(undefined);
  return app
    .services()
    .then(async ({ sql }) => (sql.kind === 'pglite' ? (await import('./server/admin-socket.js')).serveAdminSocket(app.dataDir, await app.apiKeys(), app.log) : undefined))
    .catch((error: unknown) => {
      app.log.warn({ err: (error as Error).message }, 'admin socket not started: `mcp-level3 apikey` needs the server stopped');
      return undefined;
    });
}

/** Without a message from the client, stdio builds its app this long after start anyway (a bad configuration is then reported at once). */
const STDIO_BUILD_AT_THE_LATEST_MS = 200;

/**
 * MCP over stdio. The handshake is answered before the app is built: `initialize` needs only
 * the server's identity and capabilities, and a client waits for that answer at start-up.
 * The app is built as soon as the answer is out (or a request comes first); the transport
 * holds every request until it is (createDeferredStdioServer).
 */
async function runStdio(values: ReturnType<typeof parseCommandLine>['values']): Promise<void> {
  const [{ serveStdio }, { LineStdioTransport, OPENING_LINE_BYTES }, { createDeferredStdioServer }] = await Promise.all([
    import('@modelcontextprotocol/server/stdio'),
    import('./server/stdio-transport.js'),
    import('./server/mcp-server.js'),
  ]);
  let app: App | undefined;
  let build!: () => void;
  const needed = new Promise<void>((resolve) => (build = resolve));
  // Lines framed by our transport: an oversized message is answered with an error and skipped
  // (the SDK's closes the connection), under the same limit as an HTTP body, set once the
  // configuration is read (only the opening `initialize` is read before).
  const transport = new LineStdioTransport({ maxMessageBytes: OPENING_LINE_BYTES, held: true, onNeeded: build }, process.stdin, process.stdout); // --allow-stdout: the stdio transport's channel
  const server = createDeferredStdioServer();
  const handle = serveStdio(server.factory, {
    transport,
    onerror: (error) => (app ? app.log.warn({ err: error.message }, 'stdio protocol error') : process.stderr.write(`mcp-level3: stdio protocol error: ${error.message}\n`)),
  });
  setTimeout(build, STDIO_BUILD_AT_THE_LATEST_MS);
  const built = needed.then(async () => {
    const opened = await openApp(values, 'stdio');
    // The local user's own server runs as one principal with the scopes auth-config.yaml gives it.
    const { principal, scopes } = opened.config.auth.stdio;
    const [{ unknownScopesProblem }, { requestBodyLimit, REQUEST_LIMIT_SETTING }] = await Promise.all([import('../tools/scopes.js'), import('./server/limits.js')]);
    const scopeProblem = unknownScopesProblem(scopes);
    if (scopeProblem) fail(`configuration is invalid:\n  ${opened.config.sources.auth}: stdio.scopes: ${scopeProblem}`);
    app = opened;
    server.install(opened, { id: principal, scopes });
    transport.release({ maxMessageBytes: requestBodyLimit(opened.config), limitSetting: REQUEST_LIMIT_SETTING });
    opened.start();
    opened.log.info({ transport: 'stdio', tools: opened.operations.length, principal, scopes }, 'mcp-level3 serving on stdio');
    return { app: opened, admin: startAdminSocket(opened) };
  });
  let stopping = false;
  const stop = async () => {
    if (stopping) return;
    stopping = true;
    // A configuration that does not load stops the process from the build itself.
    const { app: opened, admin } = await built;
    await handle.close().catch(() => undefined);
    await (await admin)?.close().catch(() => undefined);
    await opened.close();
    await shutdownTracing().catch(() => undefined);
    process.exit(0);
  };
  process.stdin.on('end', stop);
  process.stdin.on('close', stop);
  process.on('SIGINT', stop);
  process.on('SIGTERM', stop);
}

async function runHttp(app: App, values: ReturnType<typeof parseCommandLine>['values']): Promise<void> {
  const host = values.host ?? process.env.MCP_HOST ?? '127.0.0.1';
  const portText = values.port ?? process.env.MCP_PORT ?? '8080';
  const port = Number(portText);
  if (!Number.isInteger(port) || port < 0 || port > 65535) fail(`--port: expected a port number 0-65535, got ${JSON.stringify(portText)}`);

  const loopback = LOOPBACK.has(host);
  const { authentication } = app.config.auth;
  let authConfigured = authentication.api_key.enabled === true || authentication.jwt.enabled || authentication.oauth2.enabled;
  // api_key.enabled auto on a shared address: API keys count as configured once one exists,
  // and then stay required even if every key is revoked (requireApiKeys), so the server
  // never opens up on its own.
  let requireApiKeys = false;
  if (!loopback && !authConfigured && authentication.api_key.enabled === 'auto' && !values['insecure-no-auth']) {
    requireApiKeys = authConfigured = await apiKeysExist(app);
  }
  if (!loopback && !authConfigured && !values['insecure-no-auth']) {
    await app.close(); // the key check may have opened the database; leave it cleanly
    fail(
      `refusing to bind ${host} without authentication: anyone who can reach it could call every tool.\n` +
        `  Make an API key with \`mcp-level3 apikey create\` (keys are then required), or turn on a method in\n` +
        `  config/auth-config.yaml, e.g. API_KEY_ENABLED=true with \`mcp-level3 apikey create\`,\n` +
        `  JWT_ENABLED=true with JWT_SECRET, or OAUTH_ENABLED=true with OAUTH_ISSUER and MCP_RESOURCE_URL (docs/security.md).\n` +
        `  Or bind 127.0.0.1 (the default) behind an authenticating proxy, or pass --insecure-no-auth\n` +
        `  if this network is trusted (for example inside a pod behind an authenticating ingress).`,
    );
  }
  const extra = (values['allowed-hosts'] ?? '').split(',').map((h) => h.trim()).filter(Boolean);
  const allowedHosts = loopback ? ['localhost', '127.0.0.1', '[::1]', ...extra] : extra.length > 0 ? [host, ...extra].filter((h) => h !== '0.0.0.0' && h !== '::') : [];
  if (!loopback && !authConfigured) app.log.warn({ host }, 'INSECURE: serving a non-loopback address without a required authentication method (--insecure-no-auth); with api_key.enabled auto, keys are required only once one exists');
  if (!loopback && allowedHosts.length === 0) app.log.warn('Host and Origin headers are not checked; pass --allowed-hosts to enable DNS-rebinding protection');

  // Large enough for the largest artifact registry_publish accepts, base64-encoded.
  const { requestBodyLimit } = await import('./server/limits.js');
  const maxBodyBytes = requestBodyLimit(app.config);
  const redisUrl = process.env.REDIS_URL && app.config.engineMap.cache.redis.enabled ? process.env.REDIS_URL : undefined;
  const [{ createHttpApp }, { createServer }] = await Promise.all([import('./server/http-app.js'), import('node:http')]);
  const httpApp = createHttpApp(app, { allowedHosts, maxBodyBytes, rateLimitRedisUrl: redisUrl, requireApiKeys });
  const { handle } = httpApp;
  const server = createServer(handle);
  server.keepAliveTimeout = 65_000;
  server.on('error', (error: NodeJS.ErrnoException) => {
    if (error.code === 'EADDRINUSE') fail(`port ${port} on ${host} is already in use; pick another with --port`, 1);
    fail(`cannot listen on ${host}:${port}: ${error.message}`, 1);
  });
  // The registry is made on first use (app.ts); over HTTP it is scraped, so it is made now
  // rather than while the first request waits.
  void app.metrics;
  app.start();
  const admin = startAdminSocket(app);
  // Counts taken in process while Redis connects would not carry over to it.
  await httpApp.ready();
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
    await httpApp.close().catch(() => undefined);
    await (await admin)?.close().catch(() => undefined);
    await app.close();
    await shutdownTracing().catch(() => undefined);
    process.exit(0);
  };
  process.on('SIGINT', stop);
  process.on('SIGTERM', stop);
}

/** Whether any unrevoked API key exists; opens the database, so only asked when it decides something. */
async function apiKeysExist(app: App): Promise<boolean> {
  try {
    return await (await app.apiKeys()).anyUnrevoked();
  } catch (error) {
    await app.close();
    fail(`cannot tell whether API keys exist (api_key.enabled is auto): ${(error as Error).message}`, 1);
  }
}

async function runApiKey(app: App, values: ReturnType<typeof parseCommandLine>['values'], args: string[]): Promise<void> {
  const [action, ...rest] = args;
  const { requestKeyAction, runKeyAction } = await import('./server/admin-socket.js');
  const { durationSeconds } = await import('./config/duration.js');
  const { isEngineError } = await import('./errors.js');
  const { unknownScopesProblem } = await import('../tools/scopes.js');
  const out = (text: string): void => void process.stdout.write(`${text}\n`); // --allow-stdout: a CLI answer, not the stdio server path

  // Arguments are checked before the database is opened, so a mistake is reported at once.
  let request: KeyAction;
  if (action === 'create') {
    if (rest.length > 0) fail(`apikey create: unexpected argument ${JSON.stringify(rest[0])}; use --name and --scopes`);
    const name = values.name ?? fail('apikey create: give --name saying who or what uses the key, e.g. --name ci-publisher');
    const scopes = (values.scopes ?? fail('apikey create: give --scopes, e.g. --scopes registry:read,registry:write ("*" grants all)')).split(',').map((s) => s.trim()).filter(Boolean);
    const scopeProblem = unknownScopesProblem(scopes);
    if (scopeProblem) fail(`apikey create: --scopes: ${scopeProblem}`);
    let expiresInSeconds: number | undefined;
    if (values.expires !== undefined) {
      try {
        expiresInSeconds = durationSeconds(values.expires);
      } catch (error) {
        fail(`apikey create: --expires: ${(error as Error).message}`);
      }
    }
    request = { action: 'create', name, scopes, ...(expiresInSeconds !== undefined ? { expiresInSeconds } : {}) };
  } else if (action === 'list') {
    request = { action: 'list' };
  } else if (action === 'revoke') {
    if (rest.length !== 1) fail('apikey revoke: give the key id, e.g. `mcp-level3 apikey revoke 3f2a9c0d41be` (`apikey list` shows them)');
    request = { action: 'revoke', id: rest[0]! };
  } else {
    fail(`apikey: unknown action ${JSON.stringify(action ?? '')}; use create, list or revoke\n\n${USAGE}`);
  }
  let result: KeyActionResult;
  try {
    // A server running on the same embedded data dir holds it: ask that server (admin-socket.ts).
    const embedded = app.dataDir !== MEMORY_DATA_DIR && !process.env.DATABASE_URL;
    const viaServer = embedded ? await requestKeyAction(app.dataDir, request) : undefined;
    if (viaServer) process.stderr.write(`(through the server running on ${app.dataDir})\n`);
    result = viaServer ?? (await runKeyAction(await app.apiKeys(), request));
  } catch (error) {
    await app.close();
    if (isEngineError(error)) fail(`apikey ${action}: ${error.message}`, 1);
    throw error;
  }
  await app.close();
  if (result.action === 'create') {
    const { created } = result;
    process.stderr.write(`created API key ${created.id} "${created.name}" with scopes ${created.scopes.join(',')}${created.expiresAt ? `, expiring ${created.expiresAt}` : ''}.\nThe key is printed once, below; only its hash is stored. Send it in the X-API-Key header.\n`);
    out(created.key);
  } else if (result.action === 'list') {
    out(JSON.stringify(result.keys, null, 2));
  } else {
    process.stderr.write(`revoked API key ${result.revoked.id} "${result.revoked.name}" at ${result.revoked.revokedAt}\n`);
  }
}

/**
 * The embedded database's directory is taken before anything is served: a second server on
 * a live data dir stops here, non-zero, with the holder on stderr (instead of serving
 * errors). The app takes the same lock again when it opens storage (shared in process); the
 * operating system drops it when this process ends.
 */
function holdDataDir(app: App): void {
  if (process.env.DATABASE_URL || app.dataDir === MEMORY_DATA_DIR) return;
  try {
    lockDataDir(app.dataDir);
  } catch (error) {
    if (error instanceof DataDirLockedError) fail(error.detail, 1);
    fail(`data dir ${app.dataDir}: ${(error as Error).message}`, 1);
  }
}

async function runIngest(app: App, values: ReturnType<typeof parseCommandLine>['values'], paths: string[]): Promise<void> {
  const { resolve } = await import('node:path');
  const { isEngineError } = await import('./errors.js');
  const { ingestFiles } = await import('./engines/rag/sources/file-ingest.js');
  const { createProgressReporter } = await import('./ingest-progress.js');
  const out = (text: string): void => void process.stdout.write(`${text}\n`); // --allow-stdout: a CLI answer, not the stdio server path
  if (paths.length === 0) fail('ingest: give the files or folders to ingest, e.g. `mcp-level3 ingest ./docs --collection docs`');
  const collection = values.collection ?? fail('ingest: give --collection NAME, the collection to fill (created on first use), e.g. --collection docs');
  // ingest reports its own progress; info lines would break the bar (LOG_LEVEL brings them back).
  // Engine loggers are children made when storage opens, below, so they take this level.
  if (!process.env.LOG_LEVEL) app.log.level = 'warn';

  const controller = new AbortController();
  const interrupt = () => {
    if (controller.signal.aborted) process.exit(130);
    process.stderr.write('\ningest: stopping after the batch being written (Ctrl-C again to stop at once)\n');
    controller.abort();
  };
  process.on('SIGINT', interrupt);
  process.on('SIGTERM', interrupt);
  const reporter = createProgressReporter(process.stderr);
  const started = performance.now();
  try {
    // The folders are walked while the database opens.
    const summary = await ingestFiles(app.services().then(({ engines }) => engines.rag), {
      collection,
      paths: paths.map((p) => resolve(p)),
      include: values.include,
      exclude: values.exclude,
      prune: values.prune ?? false,
      maxFileBytes: app.config.engineMap.engine_map.RAG_engine.settings.maxDocumentBytes,
      signal: controller.signal,
      progress: (p) => reporter.update(p),
      onProblem: (p) => reporter.problem(p),
    });
    reporter.finish();
    const seconds = Math.round((performance.now() - started) / 100) / 10;
    const { ingested, unchanged, skipped, failed, removed, chunks } = summary;
    process.stderr.write(
      `ingest: ${ingested} ingested, ${unchanged} unchanged, ${skipped.length} skipped, ${failed.length} failed, ${removed} removed (${chunks} chunks) into "${collection}" in ${seconds} s${controller.signal.aborted ? ' (interrupted)' : ''}\n`,
    );
    if (!controller.signal.aborted && !values['no-wait'] && chunks > 0) {
      await waitForVectors(await app.services().then(({ engines }) => engines.rag), collection, 'ingest', controller.signal);
    }
    out(JSON.stringify({ collection, ingested, unchanged, skipped: skipped.length, failed: failed.length, removed, chunks, seconds, interrupted: controller.signal.aborted, skippedFiles: skipped, failedFiles: failed }, null, 2));
    await app.close();
    process.exit(controller.signal.aborted ? 130 : failed.length > 0 ? 1 : 0);
  } catch (error) {
    reporter.finish();
    await app.close();
    if (isEngineError(error)) fail(`ingest: ${error.message}`, 1);
    throw error;
  }
}

/**
 * Follows the background embedding of a collection on stderr until every chunk has its
 * vector and no move is under way; an abort leaves the rest to the next server on the data.
 */
async function waitForVectors(rag: RagEngine, collection: string, command: string, signal: AbortSignal): Promise<void> {
  const started = performance.now();
  let shownAt = 0;
  const done = rag.whenEmbedded(collection).then(() => true);
  for (;;) {
    const finished = await Promise.race([done, new Promise<false>((resolve) => setTimeout(() => resolve(false), 1000).unref())]);
    if (finished || signal.aborted) break;
    // The status is read only when a line is due: whenEmbedded polls the engine already.
    if (performance.now() - shownAt < 2000) continue;
    shownAt = performance.now();
    const { pending, moving } = await rag.embeddingStatus(collection);
    process.stderr.write(
      moving
        ? `${command}: ${moving.done} of ${moving.total} chunks embedded with ${moving.to}\n`
        : `${command}: ${pending} chunks waiting for their vectors (full-text search has them already)\n`,
    );
  }
  if (signal.aborted) process.stderr.write(`${command}: interrupted; a server on this data computes the remaining vectors\n`);
  else process.stderr.write(`${command}: vectors ready in ${Math.round((performance.now() - started) / 100) / 10} s\n`);
}

async function runRag(app: App, positionals: string[]): Promise<void> {
  const { isEngineError } = await import('./errors.js');
  const [sub, collection, extra] = positionals;
  if (sub !== 'reembed') fail(`rag: expected \`rag reembed COLLECTION\`, got ${JSON.stringify(sub ?? '')}`);
  if (!collection) fail('rag reembed: give the collection to move, e.g. `mcp-level3 rag reembed docs`');
  if (extra !== undefined) fail(`rag reembed: unexpected argument ${JSON.stringify(extra)}`);
  if (!process.env.LOG_LEVEL) app.log.level = 'warn';
  const controller = new AbortController();
  const interrupt = () => (controller.signal.aborted ? process.exit(130) : controller.abort());
  process.on('SIGINT', interrupt);
  process.on('SIGTERM', interrupt);
  try {
    const { engines } = await app.services();
    const target = engines.rag.embedderInfo().id;
    if (!(await engines.rag.reembed(collection))) {
      process.stderr.write(`rag reembed: "${collection}" is already embedded with ${target}\n`);
    } else {
      process.stderr.write(`rag reembed: moving "${collection}" to ${target}; it keeps answering with its current vectors until all new ones are in\n`);
      await waitForVectors(engines.rag, collection, 'rag reembed', controller.signal);
    }
    await app.close();
    process.exit(controller.signal.aborted ? 130 : 0);
  } catch (error) {
    await app.close();
    if (isEngineError(error)) fail(`rag reembed: ${error.message}`, 1);
    throw error;
  }
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

/** The app for a command, holding its data dir, with tracing started before any storage opens. */
async function openApp(values: ReturnType<typeof parseCommandLine>['values'], command: string): Promise<App> {
  const app = await createApp(values, command);
  // apikey asks a server running on the data dir first (admin-socket.ts), and takes the
  // directory itself only when none answers.
  if (command !== 'apikey') holdDataDir(app);
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
  return app;
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
  if (positionals.length > 1 && command !== 'apikey' && command !== 'ingest' && command !== 'rag') fail(`unexpected argument ${JSON.stringify(positionals[1])}\n\n${USAGE}`);
  if (command !== 'stdio' && command !== 'http' && command !== 'apikey' && command !== 'ingest' && command !== 'rag') {
    fail(`unknown command ${JSON.stringify(command)}; use "stdio", "http", "apikey", "ingest" or "rag"\n\n${USAGE}`);
  }

  if (command === 'stdio') {
    await runStdio(values);
    return;
  }
  const app = await openApp(values, command);
  if (command === 'apikey') await runApiKey(app, values, positionals.slice(1));
  else if (command === 'ingest') await runIngest(app, values, positionals.slice(1));
  else if (command === 'rag') await runRag(app, positionals.slice(1));
  else await runHttp(app, values);
}

await main();
