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
 * threshold with no errors. An offered rate is an open loop: the step's calls arrive at
 * random times spread over it (a Poisson process, mixed-workload.mjs `openLoop`), each
 * timed from when it was due. Prints one JSON line last.
 *
 * Options: --duration S (per step, default 15), --connections N (default 16),
 *          --targets embedded,postgres-1,postgres-3 (default: all that can run).
 */
import { parseArgs } from 'node:util';
import { createApiKey, databaseUrlFromEnv, log, percentile, redactUrl, removeDir, round, startOurHttpServerWithApiKey, stopChild, tempDir, withFreshDatabase } from './lib.mjs';
import { ARTIFACTS, corpus, operations, runLoad as runMixedLoad, seed, startReplicas, workload } from './mixed-workload.mjs';

// Measured with the offline embedder unless EMBEDDINGS_PROVIDER says otherwise: these figures
// are about the server under call load, and the model's background embedding of the small
// ingests would make them a measure of the model instead.
process.env.EMBEDDINGS_PROVIDER ||= 'offline';

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
let apiKey;

const runLoad = (port, next, { rate } = {}) => runMixedLoad({ port, next, apiKey, connections, durationS, rate });

/** Each operation of the mix alone, 30 calls one after another: where the mixed latency comes from. */
async function sequentialByOperation(client, hasDag) {
  const makers = operations(hasDag, 'load-sequential');
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
  // Past the closed loop's maximum too: 16 connections in flight may not be what saturates the server.
  for (const fraction of [0.05, 0.1, 0.2, 0.3, 0.5, 0.7, 0.85, 1, 1.25, 1.5, 2]) {
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
  const server = await startOurHttpServerWithApiKey({ dataDir, label: 'embedded' });
  apiKey = server.apiKey;
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
    const keyDir = tempDir('load-key');
    apiKey = createApiKey({ dataDir: keyDir, databaseUrl: url });
    const target = await startReplicas({ replicas, databaseUrl: url, redisUrl, apiKey });
    try {
      return await measure(`postgres x${replicas}`, target.port, target.servers[0].client);
    } finally {
      await target.close();
      removeDir(keyDir);
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
