/*
 * Soak: the mixed load at a steady rate for a long time, watching for leaks
 * =========================================================================
 * `npm run soak -- --rate R [--minutes 30] [--replicas 3]` (builds first).
 * With DATABASE_URL and REDIS_URL: `--replicas` processes on a throw-away PostgreSQL database
 * and Redis behind the round-robin balancer of `npm run load`; without them, one embedded
 * (PGlite) process. The workload is `npm run load`'s (bench/mixed-workload.mjs), offered open
 * loop at R calls/s; issue 8 asks for half the published sustained rate.
 *
 * Phases: seed, then a warm-up at the same rate (`--warmup-minutes`, default 2: JIT, caches
 * and pools fill), then the soak itself, sampled every `--sample-seconds`. Each replica is
 * sampled for RSS (/proc), heap used, active handles and open file descriptors (its own
 * /metrics), plus the database's connections (pg_stat_activity) and Redis's clients.
 *
 * Verdicts (printed in the JSON line, the last line of stdout):
 *   - rss: each replica's RSS over the last samples of the soak against the first ones (medians
 *     of up to three, all under load, after the warm-up) grows less than 10%;
 *   - leaks: handles, file descriptors, database connections and Redis clients after the
 *     load stops and the pools' idle timeout has passed (`--idle-seconds`, default 40) are
 *     no more than they were after the same idle wait following the warm-up.
 */
import { parseArgs } from 'node:util';
import { createApiKey, databaseUrlFromEnv, log, median, percentile, redactUrl, removeDir, round, rssMb, sleep, startOurHttpServerWithApiKey, stopChild, tempDir, withFreshDatabase } from './lib.mjs';
import { runLoad, seed, startReplicas, workload } from './mixed-workload.mjs';

// Measured with the offline embedder unless EMBEDDINGS_PROVIDER says otherwise: these figures
// are about the server under call load, and the model's background embedding of the small
// ingests would make them a measure of the model instead.
process.env.EMBEDDINGS_PROVIDER ||= 'offline';

const RSS_GROWTH_LIMIT = 0.1;
const { values: args } = parseArgs({
  options: {
    rate: { type: 'string' },
    minutes: { type: 'string', default: '30' },
    'warmup-minutes': { type: 'string', default: '2' },
    'sample-seconds': { type: 'string', default: '30' },
    'idle-seconds': { type: 'string', default: '40' },
    replicas: { type: 'string', default: '3' },
    connections: { type: 'string', default: '16' },
  },
});
if (!args.rate || !(Number(args.rate) > 0)) {
  console.error('soak: --rate R is required (calls/s; issue 8 asks for half the sustained rate `npm run load` publishes)');
  process.exit(2);
}
const rate = Number(args.rate);
const minutes = Number(args.minutes);
const warmupMinutes = Number(args['warmup-minutes']);
const sampleSeconds = Number(args['sample-seconds']);
const idleSeconds = Number(args['idle-seconds']);
const connections = Number(args.connections);

/** One figure from a Prometheus text exposition (an unlabelled series). */
function metric(text, name) {
  const line = text.split('\n').find((l) => l.startsWith(`${name} `));
  return line === undefined ? null : Number(line.slice(name.length + 1));
}

async function sampleReplica(server) {
  const { body } = await server.client.get('/metrics');
  return {
    rssMb: round(rssMb(server.child.pid), 1),
    heapUsedMb: round((metric(body, 'nodejs_heap_size_used_bytes') ?? 0) / 2 ** 20, 1),
    handles: metric(body, 'nodejs_active_handles_total'),
    fds: metric(body, 'process_open_fds'),
  };
}

async function sample(target) {
  return {
    atS: round((performance.now() - target.startedAt) / 1000, 0),
    replicas: await Promise.all(target.servers.map(sampleReplica)),
    ...(await target.shared()),
  };
}

/** Runs the load in `sampleSeconds` windows, sampling between them; the load never pauses. */
async function soak(target, durationS, label) {
  let windowLatencies = [];
  const samples = [];
  const timer = setInterval(async () => {
    const window = windowLatencies;
    windowLatencies = [];
    const s = await sample(target).catch((error) => ({ error: String(error) }));
    s.p95 = round(percentile(window, 95), 1);
    s.calls = window.length;
    samples.push(s);
    log(`soak: ${label} ${JSON.stringify(s)}`);
  }, sampleSeconds * 1000);
  try {
    const result = await runLoad({
      port: target.port,
      next: target.next,
      apiKey: target.apiKey,
      connections,
      durationS,
      rate,
      onLatency: (ms) => windowLatencies.push(ms),
    });
    return { result, samples };
  } finally {
    clearInterval(timer);
  }
}

/** RSS swings with each GC, so a replica's start and end are medians of a few samples. */
function rssGrowth(samples) {
  const k = Math.max(1, Math.min(3, Math.floor(samples.length / 2)));
  return samples[0].replicas.map((_, i) => {
    const startMb = median(samples.slice(0, k).map((s) => s.replicas[i].rssMb));
    const endMb = median(samples.slice(-k).map((s) => s.replicas[i].rssMb));
    const growth = (endMb - startMb) / startMb;
    return { startMb, endMb, growthPct: round(growth * 100, 1), ok: growth < RSS_GROWTH_LIMIT };
  });
}

function verdict(baselineIdle, loadSamples, finalIdle) {
  const rss = rssGrowth(loadSamples.filter((s) => s.replicas));
  const counts = (s) => ({
    handles: s.replicas.reduce((a, r) => a + (r.handles ?? 0), 0),
    fds: s.replicas.reduce((a, r) => a + (r.fds ?? 0), 0),
    dbConnections: s.dbConnections ?? null,
    redisClients: s.redisClients ?? null,
  });
  const before = counts(baselineIdle);
  const after = counts(finalIdle);
  const grew = Object.keys(before).filter((k) => before[k] !== null && after[k] !== null && after[k] > before[k]);
  return { rss, rssOk: rss.every((r) => r.ok), idleBefore: before, idleAfter: after, leaksOk: grew.length === 0, grew };
}

async function run(target) {
  log(`soak: seeding`);
  const { hasDag } = await seed(target.servers[0].client);
  target.next = workload(hasDag);
  target.startedAt = performance.now();
  log(`soak: warm-up ${warmupMinutes} min at ${rate}/s`);
  const warmup = await soak(target, warmupMinutes * 60, 'warm-up');
  await sleep(idleSeconds * 1000);
  const baselineIdle = await sample(target);
  log(`soak: idle after warm-up ${JSON.stringify(baselineIdle)}`);
  log(`soak: ${minutes} min at ${rate}/s`);
  const main = await soak(target, minutes * 60, 'soak');
  await sleep(idleSeconds * 1000);
  const finalIdle = await sample(target);
  log(`soak: idle after soak ${JSON.stringify(finalIdle)}`);
  return {
    warmup: warmup.result,
    soak: main.result,
    samples: main.samples,
    verdict: verdict(baselineIdle, main.samples, finalIdle),
  };
}

async function embedded() {
  const dataDir = tempDir('soak-embedded');
  const server = await startOurHttpServerWithApiKey({ dataDir, label: 'embedded' });
  try {
    return await run({ servers: [server], port: server.port, apiKey: server.apiKey, shared: async () => ({}) });
  } finally {
    server.client.close();
    await stopChild(server.child);
    removeDir(dataDir);
  }
}

async function postgres(replicas, databaseUrl, redisUrl) {
  return withFreshDatabase(databaseUrl, 'soak', async (url) => {
    const { Redis } = await import('ioredis');
    const pg = await import('pg');
    const redis = new Redis(redisUrl);
    await redis.flushdb();
    const db = new pg.default.Client({ connectionString: url });
    await db.connect();
    const keyDir = tempDir('soak-key');
    const apiKey = createApiKey({ dataDir: keyDir, databaseUrl: url });
    const database = new URL(url).pathname.slice(1);
    const shared = async () => {
      const { rows } = await db.query('select count(*)::int as n from pg_stat_activity where datname = $1 and pid <> pg_backend_pid()', [database]);
      // Other clients may share the Redis server: count only connections on this run's database.
      const clients = String(await redis.client('LIST')).split('\n').filter((line) => line.includes(` db=${REDIS_DB} `));
      return { dbConnections: rows[0].n, redisClients: clients.length - 1 };
    };
    try {
      const target = await startReplicas({ replicas, databaseUrl: url, redisUrl, apiKey });
      try {
        return await run({ servers: target.servers, port: target.port, apiKey, shared });
      } finally {
        await target.close();
      }
    } finally {
      await db.end();
      redis.disconnect();
      removeDir(keyDir);
    }
  });
}

const databaseUrl = databaseUrlFromEnv();
// A Redis database of its own, flushed first; its clients are the ones counted.
const REDIS_DB = 10;
const redisUrl = process.env.REDIS_URL ? Object.assign(new URL(process.env.REDIS_URL), { pathname: `/${REDIS_DB}` }).toString() : undefined;
const replicas = databaseUrl && redisUrl ? Number(args.replicas) : 1;
const os = await import('node:os');
const header = { machine: { cores: os.cpus().length, node: process.version, loadAverageAtStart: os.loadavg().map((l) => round(l, 2)) }, rate, minutes, warmupMinutes, connections };
log(`soak: ${databaseUrl && redisUrl ? `postgres x${replicas} on ${redactUrl(databaseUrl)}` : 'embedded'}`);
const outcome = databaseUrl && redisUrl ? await postgres(replicas, databaseUrl, redisUrl) : await embedded();
const result = { ...header, target: databaseUrl && redisUrl ? `postgres-${replicas}` : 'embedded', loadAverageAtEnd: os.loadavg().map((l) => round(l, 2)), ...outcome };
console.log(JSON.stringify(result));
process.exitCode = result.verdict.rssOk && result.verdict.leaksOk ? 0 : 1;
