/*
 * Memory of the HTTP server process
 * =================================
 * The server runs as `node --expose-gc --import bench/gc-hook.mjs dist/bundle/cli.js http ...`;
 * the hook runs a full GC on SIGUSR2 (nothing else changes). RSS is VmRSS from
 * /proc/<pid>/status.
 *   - idle: after /ready answers 200 and 2 s of settling (judged), and again after a forced
 *     GC. PGlite: on a new data dir (first start, creates the database) and again after a
 *     restart on the same, now existing, dir. PostgreSQL: on a fresh database.
 *   - load (on the existing-dir / PostgreSQL server): publish one small artifact, 200
 *     warm-up calls, forced GC → "before"; 2 × 10,000 registry_get calls (32 in flight)
 *     with a forced-GC sample in between; 1 s settling, forced GC → "after".
 *     Growth in MB, % and bytes per call, per half; flagged when it is over 10%.
 * Targets: idle RSS ≤ 350 MB on the embedded default (PGlite), ≤ 150 MB with DATABASE_URL.
 */
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { BENCH_DIR, closedLoop, databaseUrlFromEnv, GET_ARGS, log, publishArtifact, redactUrl, removeDir, round, rssMb, sequential, sleep, startOurHttpServer, stopChild, tempDir, withFreshDatabase } from './lib.mjs';

const IDLE_TARGET_MB = { pglite: 350, postgres: 150 };
const GROWTH_FLAG_PCT = 10;
export const DEFAULTS = { calls: 20_000, concurrency: 32, warmup: 200, idleSettleMs: 2000 };

const NODE_FLAGS = ['--expose-gc', '--import', pathToFileURL(join(BENCH_DIR, 'gc-hook.mjs')).href];

/** Asks the hook for a full GC; resolves with its process.memoryUsage() report and VmRSS after it. */
function forceGc(child) {
  return new Promise((resolveGc, reject) => {
    let buffer = '';
    const timer = setTimeout(() => {
      child.off('stderr-chunk', onChunk);
      reject(new Error('no BENCH_GC answer within 10 s'));
    }, 10_000);
    const onChunk = (chunk) => {
      buffer += chunk;
      const match = /BENCH_GC (\{.*\})\n/.exec(buffer);
      if (!match) return;
      clearTimeout(timer);
      child.off('stderr-chunk', onChunk);
      const report = JSON.parse(match[1]);
      // Give the allocator a moment to hand pages back before reading RSS.
      setTimeout(() => resolveGc({ ...report, vmRssMb: round(rssMb(child.pid), 1) }), 300);
    };
    child.on('stderr-chunk', onChunk);
    child.kill('SIGUSR2');
  });
}

async function idleSample(backend, server, opts) {
  log(`memory: ${backend}: ready after ${server.readyMs.toFixed(0)} ms (pid ${server.child.pid}); settling ${opts.idleSettleMs} ms`);
  await sleep(opts.idleSettleMs);
  const idleRss = rssMb(server.child.pid);
  const afterGc = await forceGc(server.child);
  log(`memory: ${backend}: idle RSS ${idleRss.toFixed(1)} MB (${afterGc.vmRssMb} MB after GC, JS heap ${afterGc.heapUsedMb} MB)`);
  const target = IDLE_TARGET_MB[backend];
  return {
    readyMs: round(server.readyMs, 0),
    rssMb: round(idleRss, 1),
    afterGc,
    target: { targetMb: target, valueMb: round(idleRss, 1), pass: idleRss <= target, overByMb: idleRss > target ? round(idleRss - target, 1) : 0 },
  };
}

async function loadPhase(backend, server, opts) {
  const { child, client } = server;
  const call = () => client.callTool('registry_get', GET_ARGS);
  await publishArtifact(client);
  await sequential(opts.warmup, call);
  const before = await forceGc(child);
  log(`memory: ${backend}: before ${opts.calls} calls: RSS ${before.vmRssMb} MB (after GC)`);
  const half = Math.floor(opts.calls / 2);
  const first = await closedLoop({ concurrency: opts.concurrency, durationMs: 10 * 60_000, maxCalls: half, call });
  const middle = await forceGc(child);
  const second = await closedLoop({ concurrency: opts.concurrency, durationMs: 10 * 60_000, maxCalls: opts.calls - half, call });
  const errors = first.errors + second.errors;
  if (errors > 0) throw new Error(`${backend}: ${errors} errors under load (${first.firstError ?? second.firstError})`);
  const rightAfter = rssMb(child.pid);
  await sleep(1000);
  const after = await forceGc(child);
  const calls = first.completed + second.completed;
  const growthMb = after.vmRssMb - before.vmRssMb;
  const growthPct = (growthMb / before.vmRssMb) * 100;
  log(`memory: ${backend}: after ${calls} calls: RSS ${after.vmRssMb} MB (after GC; ${rightAfter.toFixed(1)} MB right after the calls), growth ${growthMb.toFixed(1)} MB`);
  return {
    calls,
    callsPerSecond: round(calls / ((first.elapsedMs + second.elapsedMs) / 1000), 1),
    before,
    afterHalf: middle,
    rightAfterCallsRssMb: round(rightAfter, 1),
    after,
    growthMb: round(growthMb, 2),
    growthPct: round(growthPct, 2),
    bytesPerCall: round((growthMb * 1024 * 1024) / calls, 1),
    // Growth that keeps going in the second half points at a leak; growth only in the first at warm-up.
    growthFirstHalfMb: round(middle.vmRssMb - before.vmRssMb, 2),
    growthSecondHalfMb: round(after.vmRssMb - middle.vmRssMb, 2),
    heapGrowthMb: round(after.heapUsedMb - before.heapUsedMb, 2),
    heapGrowthFirstHalfMb: round(middle.heapUsedMb - before.heapUsedMb, 2),
    heapGrowthSecondHalfMb: round(after.heapUsedMb - middle.heapUsedMb, 2),
    flagged: growthPct > GROWTH_FLAG_PCT,
    flagRule: `growth > ${GROWTH_FLAG_PCT}% of the RSS before the calls (both after a forced GC)`,
  };
}

async function withServer(label, options, fn) {
  const server = await startOurHttpServer({ ...options, nodeFlags: NODE_FLAGS, label: `memory-${label}` });
  try {
    return await fn(server);
  } finally {
    server.client.close();
    await stopChild(server.child);
  }
}

/**
 * PGlite: the first start on a new data dir creates the database (initdb), which leaves
 * more memory mapped than a later start on the existing dir; both are measured and judged.
 * The load phase runs on the restarted (existing-dir) server.
 */
async function measurePglite(opts) {
  const dir = tempDir('mem');
  try {
    const newDir = await withServer('pglite-new', { dataDir: dir }, (server) => idleSample('pglite', server, opts));
    return await withServer('pglite-existing', { dataDir: dir }, async (server) => {
      const existingDir = await idleSample('pglite', server, opts);
      return { backend: 'pglite (embedded, --data-dir temp dir)', idle: { newDataDir: newDir, existingDataDir: existingDir }, load: await loadPhase('pglite', server, opts) };
    });
  } finally {
    removeDir(dir);
  }
}

async function measurePostgres(url, opts) {
  const dir = tempDir('mem-pg');
  try {
    return await withServer('postgres', { dataDir: dir, databaseUrl: url }, async (server) => ({
      backend: `postgres (${redactUrl(url)})`,
      idle: { fresh: await idleSample('postgres', server, opts) },
      load: await loadPhase('postgres', server, opts),
    }));
  } finally {
    removeDir(dir);
  }
}

export async function run(options = {}) {
  const opts = { ...DEFAULTS, ...options };
  const result = { description: 'RSS (VmRSS) of the HTTP server process', settings: opts };
  result.pglite = await measurePglite(opts);
  const databaseUrl = databaseUrlFromEnv();
  if (databaseUrl) {
    result.postgres = await withFreshDatabase(databaseUrl, 'mem', (url) => measurePostgres(url, opts));
  } else {
    result.postgres = { skipped: 'DATABASE_URL is not set' };
  }
  const backends = [result.pglite, result.postgres].filter((r) => r?.idle);
  result.pass = backends.every((r) => Object.values(r.idle).every((i) => i.target.pass));
  result.growthFlagged = backends.some((r) => r.load.flagged);
  return result;
}
