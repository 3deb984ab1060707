/*
 * Shared helpers for the benchmarks: child processes, a keep-alive HTTP client for /mcp,
 * statistics, RSS sampling and throw-away PostgreSQL databases. Everything talks to
 * 127.0.0.1 only. Progress goes to stderr; results are returned to bench/run.mjs.
 */
import { execFileSync, spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import http from 'node:http';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

export const BENCH_DIR = dirname(fileURLToPath(import.meta.url));
export const ROOT = resolve(BENCH_DIR, '..');
/** The server the benchmarks start: the bundle, as `npm start` runs it; BENCH_CLI=dist/src/cli.js for profiles with names. */
export const CLI = resolve(ROOT, process.env.BENCH_CLI ?? join('dist', 'bundle', 'cli.js'));
export const HOST = '127.0.0.1';
export const PROTOCOL_VERSION = '2025-06-18';

export function log(...parts) {
  process.stderr.write(`[bench ${new Date().toISOString().slice(11, 19)}] ${parts.join(' ')}\n`);
}

export const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/** mulberry32: a small seeded generator of numbers in [0, 1), the same sequence for the same seed. */
export function mulberry32(seed) {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export function round(value, digits = 2) {
  if (value === null || value === undefined || !Number.isFinite(value)) return value ?? null;
  const f = 10 ** digits;
  return Math.round(value * f) / f;
}

/** Nearest-rank percentile of an unsorted array. */
export function percentile(values, p) {
  if (values.length === 0) return null;
  const sorted = [...values].sort((a, b) => a - b);
  const rank = Math.ceil((p / 100) * sorted.length);
  return sorted[Math.min(sorted.length - 1, Math.max(0, rank - 1))];
}

export function summarize(values, digits = 3) {
  if (values.length === 0) return { n: 0 };
  const sum = values.reduce((a, b) => a + b, 0);
  return {
    n: values.length,
    min: round(Math.min(...values), digits),
    p50: round(percentile(values, 50), digits),
    p95: round(percentile(values, 95), digits),
    p99: round(percentile(values, 99), digits),
    max: round(Math.max(...values), digits),
    mean: round(sum / values.length, digits),
  };
}

export function median(values) {
  return percentile(values, 50);
}

// ---------------------------------------------------------------- processes

const children = new Set();

function killAll() {
  for (const child of children) {
    if (child.exitCode === null && child.signalCode === null) {
      try {
        child.kill('SIGKILL');
      } catch {
        // already gone
      }
    }
  }
}
process.on('exit', killAll);
for (const signal of ['SIGINT', 'SIGTERM']) {
  process.on(signal, () => {
    killAll();
    process.exit(130);
  });
}

/**
 * Environment for a server child: only what the benchmark chooses, at the default log
 * level. The CLI reads ./.env for variables that are not set, so the ones the benchmark
 * wants off are set to "" (empty counts as unset to the app) rather than deleted.
 */
export function childEnv(extra = {}) {
  const env = { ...process.env };
  for (const key of ['MCP_DATA_DIR', 'MCP_PORT', 'MCP_HOST', 'NODE_OPTIONS']) delete env[key];
  env.DATABASE_URL = '';
  env.REDIS_URL = '';
  env.LOG_LEVEL = 'info';
  return { ...env, ...extra };
}

/** API keys required, and the per-principal rate limit lifted: one key carries a whole benchmark's load. */
export const AUTH_ENV = { API_KEY_ENABLED: 'true', RATE_LIMIT_PER_MINUTE: '0' };

/** An API key with every scope, stored where the servers will look (data dir or database). */
export function createApiKey({ dataDir, databaseUrl }) {
  const env = childEnv({ ...AUTH_ENV, ...(databaseUrl ? { DATABASE_URL: databaseUrl } : {}) });
  return execFileSync(process.execPath, [CLI, 'apikey', 'create', '--name', 'bench', '--scopes', '*', '--data-dir', dataDir], { env, encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'] }).trim();
}

/** Spawns a process that is killed when the benchmark exits. Keeps the tail of stderr for error messages. */
export function spawnTracked(command, args, options = {}) {
  const child = spawn(command, args, { cwd: ROOT, stdio: ['pipe', 'pipe', 'pipe'], ...options });
  children.add(child);
  child.stderrTail = '';
  child.stderr?.setEncoding('utf8');
  child.stderr?.on('data', (chunk) => {
    child.stderrTail = (child.stderrTail + chunk).slice(-8000);
    child.emit('stderr-chunk', chunk);
  });
  child.exited = new Promise((resolveExit) => {
    child.on('exit', (code, signal) => {
      children.delete(child);
      resolveExit({ code, signal });
    });
  });
  return child;
}

/** Sends a signal and waits for exit; SIGKILL after `graceMs`. */
export async function stopChild(child, signal = 'SIGTERM', graceMs = 10_000) {
  if (child.exitCode !== null || child.signalCode !== null) return child.exited;
  child.kill(signal);
  const timer = setTimeout(() => child.kill('SIGKILL'), graceMs);
  const result = await child.exited;
  clearTimeout(timer);
  return result;
}

export function freePort() {
  return new Promise((resolvePort, reject) => {
    const srv = createServer();
    srv.unref();
    srv.on('error', reject);
    srv.listen(0, HOST, () => {
      const { port } = srv.address();
      srv.close(() => resolvePort(port));
    });
  });
}

export function tempDir(prefix) {
  return mkdtempSync(join(tmpdir(), `mcp-bench-${prefix}-`));
}

export function removeDir(dir) {
  try {
    rmSync(dir, { recursive: true, force: true });
  } catch {
    // best effort
  }
}

/** Resident set size of a process in MB, from /proc/<pid>/status (VmRSS). */
export function rssMb(pid) {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const match = /^VmRSS:\s+(\d+)\s+kB/m.exec(status);
  if (!match) throw new Error(`no VmRSS for pid ${pid}`);
  return Number(match[1]) / 1024;
}

/**
 * CPU time (user + system) a process has used so far, in ms, from /proc/<pid>/stat
 * (clock ticks; USER_HZ is 100 on Linux, so the resolution is 10 ms).
 */
export function cpuMs(pid) {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  // fields[0] is field 3 (state); utime is field 14, stime field 15.
  return (Number(fields[11]) + Number(fields[12])) * 10;
}

// ---------------------------------------------------------------- HTTP client

/** The headers of every POST /mcp the benchmarks send (plus an API key where one is required). */
export const MCP_POST_HEADERS = { 'content-type': 'application/json', accept: 'application/json, text/event-stream', 'mcp-protocol-version': PROTOCOL_VERSION };

/**
 * One client for every server under test: node:http with a keep-alive agent, POST /mcp
 * with a JSON-RPC request, answer parsed from JSON or from SSE `data:` lines. With
 * `timeoutMs`, a request that long without an answer fails with code ETIMEDOUT.
 */
export class McpHttpClient {
  constructor(port, { maxSockets = 64, timeoutMs } = {}) {
    this.port = port;
    this.timeoutMs = timeoutMs;
    this.agent = new http.Agent({ keepAlive: true, maxSockets, maxFreeSockets: maxSockets });
    this.nextId = 1;
    this.contentTypes = new Set();
    /** Extra headers on every /mcp request (e.g. an API key). */
    this.headers = {};
  }

  close() {
    this.agent.destroy();
  }

  get(path) {
    return new Promise((resolveGet, reject) => {
      const req = http.request({ host: HOST, port: this.port, path, method: 'GET', agent: this.agent }, (res) => {
        let body = '';
        res.setEncoding('utf8');
        res.on('data', (c) => (body += c));
        res.on('end', () => resolveGet({ status: res.statusCode, body }));
        res.on('error', reject);
      });
      req.on('error', reject);
      req.end();
    });
  }

  /** Sends one JSON-RPC request; resolves with the JSON-RPC response object. */
  rpc(method, params) {
    const id = this.nextId++;
    const payload = JSON.stringify({ jsonrpc: '2.0', id, method, params });
    return new Promise((resolveRpc, reject) => {
      const req = http.request(
        {
          host: HOST,
          port: this.port,
          path: '/mcp',
          method: 'POST',
          agent: this.agent,
          headers: { ...MCP_POST_HEADERS, 'content-length': Buffer.byteLength(payload), ...this.headers },
        },
        (res) => {
          let body = '';
          res.setEncoding('utf8');
          res.on('data', (c) => (body += c));
          res.on('error', reject);
          res.on('end', () => {
            const type = String(res.headers['content-type'] ?? '');
            this.contentTypes.add(type.split(';')[0]);
            if (res.statusCode !== 200) return reject(new Error(`HTTP ${res.statusCode} for ${method}: ${body.slice(0, 300)}`));
            try {
              resolveRpc(parseRpcBody(type, body, id));
            } catch (error) {
              reject(error);
            }
          });
        },
      );
      if (this.timeoutMs) req.setTimeout(this.timeoutMs, () => req.destroy(Object.assign(new Error(`no answer to ${method} in ${this.timeoutMs} ms`), { code: 'ETIMEDOUT' })));
      req.on('error', reject);
      req.end(payload);
    });
  }

  /** tools/call; throws on a protocol error or a tool result with isError. */
  async callTool(name, args) {
    const response = await this.rpc('tools/call', { name, arguments: args });
    if (response.error) throw new Error(`tools/call ${name}: ${JSON.stringify(response.error)}`);
    if (response.result?.isError) throw new Error(`tools/call ${name} isError: ${JSON.stringify(response.result.content)}`);
    return response.result;
  }
}

function parseRpcBody(contentType, body, id) {
  if (contentType.includes('text/event-stream')) {
    for (const line of body.split('\n')) {
      if (!line.startsWith('data:')) continue;
      const message = JSON.parse(line.slice(5).trim());
      if (message.id === id && ('result' in message || 'error' in message)) return message;
    }
    throw new Error(`no response for id ${id} in SSE body: ${body.slice(0, 300)}`);
  }
  const message = JSON.parse(body);
  if (Array.isArray(message)) return message.find((m) => m.id === id);
  return message;
}

export async function waitFor(check, { timeoutMs = 60_000, intervalMs = 50, what = 'condition', child } = {}) {
  const deadline = Date.now() + timeoutMs;
  let lastError;
  while (Date.now() < deadline) {
    if (child && (child.exitCode !== null || child.signalCode !== null)) {
      throw new Error(`${what}: process exited (${child.exitCode ?? child.signalCode}); stderr:\n${child.stderrTail}`);
    }
    try {
      if (await check()) return;
    } catch (error) {
      lastError = error;
    }
    await sleep(intervalMs);
  }
  throw new Error(`${what}: timed out after ${timeoutMs} ms${lastError ? ` (${lastError.message})` : ''}${child ? `; stderr:\n${child.stderrTail}` : ''}`);
}

/**
 * Starts `node [nodeFlags] dist/bundle/cli.js http --port P --data-dir DIR` and waits for
 * /ready 200. Returns { child, port, client, readyMs }.
 */
export async function startOurHttpServer({ dataDir, databaseUrl, redisUrl, extraEnv = {}, nodeFlags = [], label = 'mcp-level3' }) {
  const port = await freePort();
  const env = childEnv({ ...(databaseUrl ? { DATABASE_URL: databaseUrl } : {}), ...(redisUrl ? { REDIS_URL: redisUrl } : {}), ...extraEnv });
  const started = performance.now();
  const child = spawnTracked(process.execPath, [...nodeFlags, ...profileFlags(label), CLI, 'http', '--port', String(port), '--data-dir', dataDir], { env, stdio: ['ignore', 'pipe', 'pipe'] });
  child.stdout.resume();
  const client = new McpHttpClient(port);
  let readiness;
  await waitFor(
    async () => {
      const res = await client.get('/ready');
      if (res.status !== 200) return false;
      readiness = JSON.parse(res.body);
      return true;
    },
    { what: `${label} /ready`, child, intervalMs: 100, timeoutMs: 90_000 },
  );
  const readyMs = performance.now() - started;
  const expected = databaseUrl ? 'postgres' : 'pglite';
  const expectedCache = redisUrl ? 'memory+redis' : 'memory';
  if (readiness.checks?.database?.backend !== expected || readiness.checks?.cache?.backend !== expectedCache) {
    child.kill('SIGKILL');
    throw new Error(`${label}: expected database ${expected} and cache ${expectedCache}, /ready says ${JSON.stringify(readiness.checks)}`);
  }
  return { child, port, client, readyMs };
}

/** Ours as deployed: API keys required, one made with `apikey create` first and sent on every request (server.apiKey). */
export async function startOurHttpServerWithApiKey({ extraEnv = {}, ...options }) {
  const apiKey = createApiKey(options);
  const server = await startOurHttpServer({ ...options, extraEnv: { ...AUTH_ENV, ...extraEnv } });
  server.client.headers = { 'x-api-key': apiKey };
  return { ...server, apiKey };
}

/** Starts bench/bare-server.mjs (the SDK-only baseline) and waits until it answers. */
export async function startBareServer({ nodeFlags = [] } = {}) {
  const port = await freePort();
  const child = spawnTracked(process.execPath, [...nodeFlags, ...profileFlags('bare'), join(BENCH_DIR, 'bare-server.mjs'), '--port', String(port)], {
    env: childEnv(),
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  child.stdout.resume();
  const client = new McpHttpClient(port);
  await waitFor(async () => (await client.get('/health')).status === 200, { what: 'bare server', child });
  return { child, port, client };
}

/** With BENCH_CPU_PROF=1, HTTP server children write V8 CPU profiles to bench/results/prof/. */
export function profileFlags(label) {
  if (process.env.BENCH_CPU_PROF !== '1') return [];
  return ['--cpu-prof', '--cpu-prof-dir', join(BENCH_DIR, 'results', 'prof'), '--cpu-prof-name', `${label}-${Date.now()}.cpuprofile`];
}

// ---------------------------------------------------------------- load generation

/** Runs `count` calls one after another; returns latencies in ms. */
export async function sequential(count, call) {
  const latencies = new Array(count);
  for (let i = 0; i < count; i++) {
    const t0 = performance.now();
    await call(i);
    latencies[i] = performance.now() - t0;
  }
  return latencies;
}

/** `concurrency` workers call until `maxCalls` calls are done or `durationMs` has passed. */
export async function closedLoop({ concurrency, durationMs, maxCalls, call }) {
  const latencies = [];
  let issued = 0;
  let errors = 0;
  let firstError;
  const start = performance.now();
  const deadline = start + durationMs;
  const worker = async () => {
    while (issued < maxCalls && performance.now() < deadline) {
      issued++;
      const t0 = performance.now();
      try {
        await call();
        latencies.push(performance.now() - t0);
      } catch (error) {
        errors++;
        firstError ??= error;
        if (errors > 10) throw firstError;
      }
    }
  };
  await Promise.all(Array.from({ length: concurrency }, worker));
  const elapsedMs = performance.now() - start;
  return { completed: latencies.length, errors, elapsedMs, latencies, throughput: latencies.length / (elapsedMs / 1000), firstError: firstError?.message };
}

// ---------------------------------------------------------------- PostgreSQL

/**
 * Creates a throw-away database next to the one in `url`, runs fn(newUrl), drops it.
 * The server creates its own tables in it on start.
 */
export async function withFreshDatabase(url, label, fn) {
  const { default: pg } = await import('pg');
  const name = `mcp_bench_${label.replace(/[^a-z0-9_]/gi, '_')}_${process.pid}_${Date.now()}`.toLowerCase();
  const admin = new pg.Client({ connectionString: url });
  await admin.connect();
  try {
    await admin.query(`create database ${name}`);
  } finally {
    await admin.end();
  }
  const fresh = new URL(url);
  fresh.pathname = `/${name}`;
  log(`created database ${name}`);
  try {
    return await fn(fresh.toString());
  } finally {
    const cleanup = new pg.Client({ connectionString: url });
    try {
      await cleanup.connect();
      await cleanup.query(`drop database if exists ${name} with (force)`);
      log(`dropped database ${name}`);
    } catch (error) {
      log(`could not drop database ${name}: ${error.message}`);
    } finally {
      await cleanup.end().catch(() => undefined);
    }
  }
}

export function databaseUrlFromEnv() {
  const url = process.env.DATABASE_URL;
  if (!url) return undefined;
  const host = new URL(url).hostname;
  if (!['127.0.0.1', 'localhost', '::1', '[::1]'].includes(host)) {
    log(`DATABASE_URL points at ${host}, not 127.0.0.1; skipping the PostgreSQL variants (the benchmarks only talk to 127.0.0.1)`);
    return undefined;
  }
  return url;
}

/** Safe to print: the URL without its password. */
export function redactUrl(url) {
  const u = new URL(url);
  if (u.password) u.password = '***';
  return u.toString();
}

export const ARTIFACT = { name: 'bench/small', version: '1.0.0', content: 'hello world', mediaType: 'text/plain' };
export const GET_ARGS = { name: ARTIFACT.name, version: ARTIFACT.version };

/** Publishes the benchmark artifact and checks registry_get returns it. */
export async function publishArtifact(client) {
  await client.callTool('registry_publish', ARTIFACT);
  const got = await client.callTool('registry_get', GET_ARGS);
  if (got.structuredContent?.content !== ARTIFACT.content) throw new Error(`registry_get returned ${JSON.stringify(got).slice(0, 300)}`);
}
