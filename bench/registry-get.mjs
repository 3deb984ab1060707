/*
 * registry_get over HTTP against a bare-SDK baseline
 * ==================================================
 * Servers (each in its own child process, so the client does not share their event loop):
 *   - baseline: bench/bare-server.mjs, createMcpHandler + toNodeHandler + node:http, one
 *     `echo` tool; called as tools/call echo {name, version}.
 *   - ours: dist/bundle/cli.js http --data-dir <temp dir> (embedded PGlite), and again with
 *     DATABASE_URL (a throw-away database) when that variable is set, as deployed: API keys
 *     required (one made with `apikey create`, sent as X-API-Key), auditLevel full; one
 *     small artifact is published first, then tools/call registry_get {name, version}.
 * The same client (node:http keep-alive, POST /mcp, protocol 2025-06-18, no initialize:
 * the stateless legacy path answers tools/call directly) drives both:
 *   - latency: 200 warm-up calls, then 2,000 sequential calls → p50/p95/p99 (ms);
 *   - throughput: 1 s of unrecorded warm-up at 32 in flight, then 32 calls in flight for
 *     10 s or 20,000 calls, whichever ends first.
 * The servers run side by side and are measured in interleaved rounds (see below).
 * Targets: throughput ours/bare ≥ 0.7; sequential p95 ours/bare ≤ 1.3; server CPU per call
 * under load ours/bare ≤ 2.5.
 */
import { closedLoop, cpuMs, databaseUrlFromEnv, GET_ARGS, log, median, percentile, publishArtifact, redactUrl, removeDir, round, sequential, startBareServer, startOurHttpServerWithApiKey, stopChild, summarize, tempDir, withFreshDatabase } from './lib.mjs';

const P95_RATIO_TARGET = 1.3;
const THROUGHPUT_RATIO_TARGET = 0.7;
const CPU_RATIO_TARGET = 2.5;

export const DEFAULTS = { warmup: 200, sequentialCalls: 2000, concurrency: 32, durationMs: 10_000, maxCalls: 20_000, sequentialRounds: 20, throughputRounds: 10, throughputWarmupMs: 1000 };

/*
 * The servers run side by side (an idle one costs nothing) and are measured in
 * interleaved rounds — sequential round r does sequentialCalls/sequentialRounds calls on
 * each, then each gets durationMs/throughputRounds of load per throughput round — so
 * background noise on a shared 2-core machine lands on the baseline and on ours alike.
 */
async function measureInterleaved(targets, opts) {
  for (const t of targets) {
    log(`registry-get: ${t.label}: ${opts.warmup} warm-up calls`);
    await sequential(opts.warmup, t.call);
    t.latencies = [];
    t.load = { completed: 0, elapsedMs: 0, latencies: [], perRound: [], cpuMs: 0 };
    t.roundP95 = [];
  }
  const perRoundCalls = Math.ceil(opts.sequentialCalls / opts.sequentialRounds);
  for (let r = 0; r < opts.sequentialRounds; r++) {
    for (const t of targets) {
      const lat = await sequential(perRoundCalls, t.call);
      t.latencies.push(...lat);
      t.roundP95.push(percentile(lat, 95));
    }
    if ((r + 1) % 5 === 0) log(`registry-get: sequential round ${r + 1}/${opts.sequentialRounds} done (${perRoundCalls} calls each)`);
  }
  // Concurrent warm-up (not recorded): the sequential warm-up does not exercise the paths
  // that only run with many requests in flight.
  for (const t of targets) await closedLoop({ concurrency: opts.concurrency, durationMs: opts.throughputWarmupMs, maxCalls: Infinity, call: t.call });
  const perRoundMs = opts.durationMs / opts.throughputRounds;
  const perRoundMax = Math.ceil(opts.maxCalls / opts.throughputRounds);
  for (let r = 0; r < opts.throughputRounds; r++) {
    for (const t of targets) {
      // Short pause so the previous phase's garbage and sockets settle.
      await new Promise((res) => setTimeout(res, 100));
      const cpu0 = cpuMs(t.server.child.pid);
      const load = await closedLoop({ concurrency: opts.concurrency, durationMs: perRoundMs, maxCalls: perRoundMax, call: t.call });
      t.load.cpuMs += cpuMs(t.server.child.pid) - cpu0;
      if (load.errors > 0) throw new Error(`${t.label}: ${load.errors} errors under load (${load.firstError})`);
      t.load.completed += load.completed;
      t.load.elapsedMs += load.elapsedMs;
      t.load.latencies.push(...load.latencies);
      t.load.perRound.push(load.throughput);
    }
    if ((r + 1) % 2 === 0) log(`registry-get: throughput round ${r + 1}/${opts.throughputRounds} done (${opts.concurrency} in flight, ${perRoundMs} ms each)`);
  }
  for (const t of targets) {
    t.result = {
      sequentialLatencyMs: summarize(t.latencies),
      throughput: {
        concurrency: opts.concurrency,
        calls: t.load.completed,
        seconds: round(t.load.elapsedMs / 1000, 2),
        callsPerSecond: round(t.load.completed / (t.load.elapsedMs / 1000), 1),
        latencyUnderLoadMs: summarize(t.load.latencies),
        // CPU the server process used per call under load: less sensitive to other work on the machine
        // than wall-clock figures (PostgreSQL's own CPU is not included).
        serverCpuUsPerCall: round((t.load.cpuMs * 1000) / t.load.completed, 1),
        serverCpuCoresBusy: round(t.load.cpuMs / t.load.elapsedMs, 2),
      },
      perRound: { sequentialP95Ms: t.roundP95.map((v) => round(v, 3)), callsPerSecond: t.load.perRound.map((v) => round(v, 1)) },
      responseContentTypes: [...t.client.contentTypes],
    };
    const s = t.result.sequentialLatencyMs;
    log(`registry-get: ${t.label}: p50 ${s.p50} ms, p95 ${s.p95} ms, p99 ${s.p99} ms, ${t.result.throughput.callsPerSecond} calls/s`);
  }
}

/** Median over rounds of ours/bare in the same round: less sensitive to one noisy burst. */
function roundRatios(ours, bare, key) {
  const ratios = ours.perRound[key].map((v, i) => v / bare.perRound[key][i]);
  return { perRound: ratios.map((r) => round(r, 3)), median: round(median(ratios), 3) };
}

function compare(ours, bare) {
  const p95Ratio = ours.sequentialLatencyMs.p95 / bare.sequentialLatencyMs.p95;
  const throughputRatio = ours.throughput.callsPerSecond / bare.throughput.callsPerSecond;
  const cpuRatio = ours.throughput.serverCpuUsPerCall / bare.throughput.serverCpuUsPerCall;
  return {
    p50Ratio: round(ours.sequentialLatencyMs.p50 / bare.sequentialLatencyMs.p50, 3),
    p95Ratio: round(p95Ratio, 3),
    p99Ratio: round(ours.sequentialLatencyMs.p99 / bare.sequentialLatencyMs.p99, 3),
    throughputRatio: round(throughputRatio, 3),
    serverCpuPerCallRatio: round(cpuRatio, 3),
    byRound: { p95Ratio: roundRatios(ours, bare, 'sequentialP95Ms'), throughputRatio: roundRatios(ours, bare, 'callsPerSecond') },
    targets: {
      p95Ratio: { target: `<= ${P95_RATIO_TARGET}`, value: round(p95Ratio, 3), pass: p95Ratio <= P95_RATIO_TARGET },
      throughputRatio: { target: `>= ${THROUGHPUT_RATIO_TARGET}`, value: round(throughputRatio, 3), pass: throughputRatio >= THROUGHPUT_RATIO_TARGET },
      serverCpuPerCallRatio: { target: `<= ${CPU_RATIO_TARGET}`, value: round(cpuRatio, 3), pass: cpuRatio <= CPU_RATIO_TARGET },
    },
  };
}

async function startOurs(label, { dataDir, databaseUrl }) {
  const server = await startOurHttpServerWithApiKey({ dataDir, databaseUrl, label: `ours-${label}` });
  log(`registry-get: ${label}: server ready after ${server.readyMs.toFixed(0)} ms (pid ${server.child.pid})`);
  await publishArtifact(server.client);
  return { label: `ours (${label})`, server, client: server.client, call: () => server.client.callTool('registry_get', GET_ARGS) };
}

async function measureAll(opts, databaseUrl) {
  const result = { description: 'tools/call over HTTP POST /mcp (stateless, 2025-06-18), same client for every server', settings: opts };
  const servers = [];
  const dirs = [];
  try {
    const bare = await startBareServer();
    servers.push(bare);
    log(`registry-get: baseline ready (pid ${bare.child.pid})`);
    const targets = [{ label: 'bare SDK echo', server: bare, client: bare.client, call: () => bare.client.callTool('echo', GET_ARGS) }];

    const dir = tempDir('get');
    dirs.push(dir);
    const pglite = await startOurs('pglite', { dataDir: dir });
    servers.push(pglite.server);
    pglite.backend = 'pglite (embedded, --data-dir temp dir)';
    targets.push(pglite);

    if (databaseUrl) {
      const pgDir = tempDir('get-pg');
      dirs.push(pgDir);
      const postgres = await startOurs('postgres', { dataDir: pgDir, databaseUrl });
      servers.push(postgres.server);
      postgres.backend = `postgres (${redactUrl(databaseUrl)})`;
      targets.push(postgres);
    }

    await measureInterleaved(targets, opts);
    result.baseline = { server: 'bench/bare-server.mjs (createMcpHandler + toNodeHandler + node:http, one echo tool)', ...targets[0].result };
    result.pglite = { backend: pglite.backend, ...pglite.result, vsBaseline: compare(pglite.result, result.baseline) };
    if (databaseUrl) {
      const postgres = targets[2];
      result.postgres = { backend: postgres.backend, ...postgres.result, vsBaseline: compare(postgres.result, result.baseline) };
    } else {
      result.postgres = { skipped: 'DATABASE_URL is not set' };
    }
  } finally {
    for (const s of servers) {
      s.client.close();
      await stopChild(s.child);
    }
    for (const d of dirs) removeDir(d);
  }
  const verdicts = [result.pglite, result.postgres].filter((r) => r?.vsBaseline).flatMap((r) => Object.values(r.vsBaseline.targets));
  result.pass = verdicts.every((t) => t.pass);
  return result;
}

export async function run(options = {}) {
  const opts = { ...DEFAULTS, ...options };
  const databaseUrl = databaseUrlFromEnv();
  if (!databaseUrl) return measureAll(opts, undefined);
  return withFreshDatabase(databaseUrl, 'get', (url) => measureAll(opts, url));
}
