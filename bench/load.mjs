/*
 * Load: a mixed MCP workload against one and three replicas
 * =========================================================
 * `npm run load` (builds first). Targets, each started fresh:
 *   - embedded: one process on PGlite (always);
 *   - postgres x1 and postgres x3: one and three processes sharing a throw-away PostgreSQL
 *     database and Redis (when DATABASE_URL and REDIS_URL are set), the three behind a
 *     round-robin TCP balancer in this process, as a Kubernetes Service spreads connections.
 * Every request is authenticated with an API key (API_KEY_ENABLED=true, a key made with
 * `mcp-level3 apikey create` before the servers start); the per-principal rate limit is
 * lifted (RATE_LIMIT_PER_MINUTE=0) since one key carries the whole load.
 * Workload, over MCP streamable HTTP (tools/call, stateless), picked at random per request:
 *   35% rag_query hybrid (the license set's queries), 35% registry_get, 10% registry_publish
 *   (a new version each time), 10% small rag_ingest, 10% small dag_run (when the server
 *   has the dag toolset; its share goes to the reads otherwise).
 * For each target: the closed-loop maximum (autocannon, `--connections` in flight), then a
 * search for the highest offered rate whose p95 stays under the seed's 100 ms alert
 * threshold with no errors. Prints one JSON line last.
 *
 * Options: --duration S (per step, default 15), --connections N (default 16),
 *          --targets embedded,postgres-1,postgres-3 (default: all that can run).
 */
import autocannon from 'autocannon';
import { readFileSync } from 'node:fs';
import { createServer, connect } from 'node:net';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { execFileSync } from 'node:child_process';
import { childEnv, CLI, databaseUrlFromEnv, freePort, log, percentile, redactUrl, removeDir, round, ROOT, startOurHttpServer, stopChild, tempDir, withFreshDatabase, PROTOCOL_VERSION } from './lib.mjs';

const P95_THRESHOLD_MS = 100;
const { values: args } = parseArgs({
  options: {
    duration: { type: 'string', default: '15' },
    connections: { type: 'string', default: '16' },
    targets: { type: 'string' },
  },
});
const durationS = Number(args.duration);
const connections = Number(args.connections);

const fixture = join(ROOT, 'test', 'fixtures', 'licenses');
const corpus = readFileSync(join(fixture, 'corpus.jsonl'), 'utf8').trim().split('\n').map((line) => JSON.parse(line));
const queries = readFileSync(join(fixture, 'queries.jsonl'), 'utf8').trim().split('\n').map((line) => JSON.parse(line).text);
const ARTIFACTS = 100;
const AUTH_ENV = { API_KEY_ENABLED: 'true', RATE_LIMIT_PER_MINUTE: '0' };
let apiKey;

/** An API key with every scope, stored where the servers will look (data dir or database). */
function createApiKey({ dataDir, databaseUrl }) {
  const env = childEnv({ ...AUTH_ENV, ...(databaseUrl ? { DATABASE_URL: databaseUrl } : {}) });
  return execFileSync(process.execPath, [CLI, 'apikey', 'create', '--name', 'load', '--scopes', '*', '--data-dir', dataDir], { env, encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'] }).trim();
}

// ---------------------------------------------------------------- workload

let sequence = 0;
const pick = (list) => list[Math.floor(Math.random() * list.length)];

function workload(hasDag) {
  const mix = [
    [0.35 + (hasDag ? 0 : 0.05), 'rag_query', () => ({ collection: 'load', query: pick(queries), topK: 10 })],
    [0.35 + (hasDag ? 0 : 0.05), 'registry_get', () => ({ name: `load/a${Math.floor(Math.random() * ARTIFACTS)}`, version: '1.0.0' })],
    [0.1, 'registry_publish', () => ({ name: 'load/writes', version: `1.0.${sequence++}`, content: `written ${Date.now()}`, mediaType: 'text/plain' })],
    [0.1, 'rag_ingest', () => ({ collection: 'load-writes', documents: [{ id: `d${process.pid}-${sequence++}`, text: pick(corpus).text.slice(0, 600) }] })],
  ];
  if (hasDag) {
    mix.push([0.1, 'dag_run', () => ({ definition: { name: 'load', nodes: [{ id: 'a', action: 'noop' }, { id: 'b', action: 'noop', dependsOn: ['a'] }] } })]);
  }
  return () => {
    let r = Math.random();
    for (const [weight, tool, makeArgs] of mix) {
      if ((r -= weight) < 0) return { tool, args: makeArgs() };
    }
    const [, tool, makeArgs] = mix[0];
    return { tool, args: makeArgs() };
  };
}

function rpcBody(tool, toolArgs) {
  return JSON.stringify({ jsonrpc: '2.0', id: sequence++, method: 'tools/call', params: { name: tool, arguments: toolArgs } });
}

/** A JSON-RPC error or an isError tool result in a /mcp response body (JSON or SSE). */
function failureIn(body) {
  const text = body.includes('data:') ? body.split('\n').filter((l) => l.startsWith('data:')).map((l) => l.slice(5)).join('') : body;
  try {
    const message = JSON.parse(text);
    if (message.error) return message.error.message ?? 'JSON-RPC error';
    if (message.result?.isError) return message.result.content?.[0]?.text ?? 'tool error';
    return undefined;
  } catch {
    return `unparseable response: ${text.slice(0, 120)}`;
  }
}

async function runLoad(port, next, { rate } = {}) {
  const latencies = [];
  const errors = {};
  const instance = autocannon({
    url: `http://127.0.0.1:${port}`,
    connections,
    duration: durationS,
    ...(rate ? { overallRate: rate } : {}),
    requests: [
      {
        method: 'POST',
        path: '/mcp',
        headers: { 'content-type': 'application/json', accept: 'application/json, text/event-stream', 'mcp-protocol-version': PROTOCOL_VERSION, 'x-api-key': apiKey },
        setupRequest(request, context) {
          const { tool, args: toolArgs } = next();
          context.tool = tool;
          return { ...request, body: rpcBody(tool, toolArgs) };
        },
        onResponse(status, body, context) {
          const failure = status !== 200 ? `HTTP ${status}` : failureIn(body);
          if (failure) {
            const key = `${context.tool}: ${failure.slice(0, 100)}`;
            errors[key] = (errors[key] ?? 0) + 1;
          }
        },
      },
    ],
  });
  instance.on('response', (_client, _status, _bytes, responseTime) => latencies.push(responseTime));
  const result = await instance;
  const errorCount = Object.values(errors).reduce((a, b) => a + b, 0) + result.errors + result.timeouts;
  return {
    offeredRate: rate ?? null,
    requests: latencies.length,
    throughput: round(latencies.length / durationS, 1),
    p50: round(percentile(latencies, 50), 1),
    p95: round(percentile(latencies, 95), 1),
    p99: round(percentile(latencies, 99), 1),
    errors: errorCount,
    ...(errorCount ? { errorKinds: errors, socketErrors: result.errors, timeouts: result.timeouts } : {}),
  };
}

// ---------------------------------------------------------------- targets

/** Spreads connections over the replicas in turn, as a Service does. */
async function roundRobin(ports) {
  const port = await freePort();
  let turn = 0;
  const server = createServer((socket) => {
    const upstream = connect(ports[turn++ % ports.length], '127.0.0.1');
    socket.pipe(upstream).pipe(socket);
    const close = () => {
      socket.destroy();
      upstream.destroy();
    };
    socket.on('error', close);
    upstream.on('error', close);
  });
  await new Promise((resolve) => server.listen(port, '127.0.0.1', resolve));
  return { port, close: () => new Promise((resolve) => server.close(resolve)) };
}

async function seed(client) {
  const tools = (await client.rpc('tools/list', {})).result.tools.map((t) => t.name);
  for (let i = 0; i < corpus.length; i += 50) {
    await client.callTool('rag_ingest', { collection: 'load', documents: corpus.slice(i, i + 50).map((d) => ({ id: d._id, title: d.title, text: d.text })) });
  }
  for (let i = 0; i < ARTIFACTS; i++) {
    await client.callTool('registry_publish', { name: `load/a${i}`, version: '1.0.0', content: `artifact ${i}`, mediaType: 'text/plain' });
  }
  return { hasDag: tools.includes('dag_run') };
}

/** Each operation of the mix alone, 30 calls one after another: where the mixed latency comes from. */
async function sequentialByOperation(client, hasDag) {
  const makers = {
    rag_query: () => ({ collection: 'load', query: pick(queries), topK: 10 }),
    registry_get: () => ({ name: `load/a${Math.floor(Math.random() * ARTIFACTS)}`, version: '1.0.0' }),
    registry_publish: () => ({ name: 'load/sequential', version: `2.0.${sequence++}`, content: 'x', mediaType: 'text/plain' }),
    rag_ingest: () => ({ collection: 'load-writes', documents: [{ id: `s${sequence++}`, text: pick(corpus).text.slice(0, 600) }] }),
    ...(hasDag ? { dag_run: () => ({ definition: { name: 'load', nodes: [{ id: 'a', action: 'noop' }, { id: 'b', action: 'noop', dependsOn: ['a'] }] } }) } : {}),
  };
  const result = {};
  for (const [tool, makeArgs] of Object.entries(makers)) {
    const ms = [];
    for (let i = 0; i < 30; i++) {
      const started = performance.now();
      await client.callTool(tool, makeArgs());
      ms.push(performance.now() - started);
    }
    result[tool] = { p50: round(percentile(ms, 50), 1), p95: round(percentile(ms, 95), 1) };
  }
  return result;
}

async function measure(label, port, seedClient) {
  log(`load: ${label}: seeding ${corpus.length} documents and ${ARTIFACTS} artifacts`);
  const { hasDag } = await seed(seedClient);
  const next = workload(hasDag);
  const perOperation = await sequentialByOperation(seedClient, hasDag);
  log(`load: ${label}: one call at a time, by operation ${JSON.stringify(perOperation)}`);
  log(`load: ${label}: warm-up`);
  await runLoad(port, next).catch(() => undefined);
  log(`load: ${label}: closed loop, ${connections} connections, ${durationS} s`);
  const max = await runLoad(port, next);
  log(`load: ${label}: max ${JSON.stringify(max)}`);
  const steps = [];
  let sustained = null;
  for (const fraction of [0.1, 0.2, 0.3, 0.5, 0.7, 0.85, 1]) {
    const rate = Math.max(1, Math.floor(max.throughput * fraction));
    const step = await runLoad(port, next, { rate });
    log(`load: ${label}: ${rate}/s → ${JSON.stringify(step)}`);
    steps.push(step);
    const ok = step.errors === 0 && step.p95 !== null && step.p95 < P95_THRESHOLD_MS && step.throughput >= rate * 0.95;
    if (!ok) break;
    sustained = rate;
  }
  return { perOperation, workload: hasDag ? 'reads 70, writes 20, dag 10' : 'reads 80, writes 20 (no dag toolset)', max, steps, sustainedRateP95Under100ms: sustained };
}

async function embedded() {
  const dataDir = tempDir('load-embedded');
  apiKey = createApiKey({ dataDir });
  const server = await startOurHttpServer({ dataDir, extraEnv: AUTH_ENV, label: 'embedded' });
  server.client.headers = { 'x-api-key': apiKey };
  try {
    return await measure('embedded', server.port, server.client);
  } finally {
    server.client.close();
    await stopChild(server.child);
    removeDir(dataDir);
  }
}

async function postgres(replicas, databaseUrl, redisUrl) {
  return withFreshDatabase(databaseUrl, `load${replicas}`, async (url) => {
    const { Redis } = await import('ioredis');
    const redis = new Redis(redisUrl);
    await redis.flushdb();
    redis.disconnect();
    const servers = [];
    const dataDirs = [tempDir('load-key')];
    apiKey = createApiKey({ dataDir: dataDirs[0], databaseUrl: url });
    try {
      for (let i = 0; i < replicas; i++) {
        const dataDir = tempDir(`load-pg${i}`);
        dataDirs.push(dataDir);
        const server = await startOurHttpServer({ dataDir, databaseUrl: url, redisUrl, extraEnv: AUTH_ENV, label: `replica ${i + 1}` });
        server.client.headers = { 'x-api-key': apiKey };
        servers.push(server);
      }
      const balancer = replicas > 1 ? await roundRobin(servers.map((s) => s.port)) : { port: servers[0].port, close: async () => undefined };
      try {
        return await measure(`postgres x${replicas}`, balancer.port, servers[0].client);
      } finally {
        await balancer.close();
      }
    } finally {
      for (const s of servers) {
        s.client.close();
        await stopChild(s.child);
      }
      dataDirs.forEach(removeDir);
    }
  });
}

const databaseUrl = databaseUrlFromEnv();
// A Redis database of its own: cached entries of an earlier run must not answer this one.
const redisUrl = process.env.REDIS_URL ? Object.assign(new URL(process.env.REDIS_URL), { pathname: '/9' }).toString() : undefined;
const wanted = (args.targets ?? 'embedded,postgres-1,postgres-3').split(',');
const results = { machine: { cores: (await import('node:os')).cpus().length, node: process.version }, durationS, connections, targets: {} };
if (wanted.includes('embedded')) results.targets.embedded = await embedded();
for (const replicas of [1, 3]) {
  if (!wanted.includes(`postgres-${replicas}`)) continue;
  if (!databaseUrl || !redisUrl) {
    results.targets[`postgres-${replicas}`] = { skipped: 'set DATABASE_URL and REDIS_URL' };
    continue;
  }
  log(`load: postgres x${replicas} on ${redactUrl(databaseUrl)}`);
  results.targets[`postgres-${replicas}`] = await postgres(replicas, databaseUrl, redisUrl);
}
console.log(JSON.stringify(results));
