/*
 * Memory of the HTTP server process
 * =================================
 * The server runs as `node --expose-gc --import bench/gc-hook.mjs dist/src/cli.js http ...`;
 * the hook runs a full GC on SIGUSR2 (nothing else changes). RSS is VmRSS from
 * /proc/<pid>/status.
 *   - idle: after /ready answers 200 and 2 s of settling (judged), and again after a forced GC;
 *   - load: publish one small artifact, 200 warm-up calls, forced GC → "before";
 *           20,000 registry_get calls (32 in flight); 1 s settling, forced GC → "after".
 *     Growth in MB and bytes per call; flagged when after/before grows more than 10%.
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

async function measureBackend(backend, { dataDir, databaseUrl }, opts) {
  const server = await startOurHttpServer({ dataDir, databaseUrl, nodeFlags: NODE_FLAGS, label: `memory-${backend}` });
  const { child, client } = server;
  try {
    log(`memory: ${backend}: ready after ${server.readyMs.toFixed(0)} ms (pid ${child.pid}); settling ${opts.idleSettleMs} ms`);
    await sleep(opts.idleSettleMs);
    const idleRss = rssMb(child.pid);
    const idleGc = await forceGc(child);
    log(`memory: ${backend}: idle RSS ${idleRss.toFixed(1)} MB (${idleGc.vmRssMb} MB after GC, JS heap ${idleGc.heapUsedMb} MB)`);

    await publishArtifact(client);
    await sequential(opts.warmup, () => client.callTool('registry_get', GET_ARGS));
    const before = await forceGc(child);
    log(`memory: ${backend}: before ${opts.calls} calls: RSS ${before.vmRssMb} MB (after GC)`);

    const load = await closedLoop({ concurrency: opts.concurrency, durationMs: 10 * 60_000, maxCalls: opts.calls, call: () => client.callTool('registry_get', GET_ARGS) });
    if (load.errors > 0) throw new Error(`${backend}: ${load.errors} errors under load (${load.firstError})`);
    const rightAfter = rssMb(child.pid);
    await sleep(1000);
    const after = await forceGc(child);
    const growthMb = after.vmRssMb - before.vmRssMb;
    const growthPct = (growthMb / before.vmRssMb) * 100;
    log(`memory: ${backend}: after ${load.completed} calls: RSS ${after.vmRssMb} MB (after GC; ${rightAfter.toFixed(1)} MB right after the calls), growth ${growthMb.toFixed(1)} MB`);

    const target = IDLE_TARGET_MB[backend];
    return {
      backend: databaseUrl ? `postgres (${redactUrl(databaseUrl)})` : 'pglite (embedded, --data-dir temp dir)',
      readyMs: round(server.readyMs, 0),
      idle: {
        rssMb: round(idleRss, 1),
        afterGc: idleGc,
        target: { targetMb: target, valueMb: round(idleRss, 1), pass: idleRss <= target, overByMb: idleRss > target ? round(idleRss - target, 1) : 0 },
      },
      load: {
        calls: load.completed,
        callsPerSecond: round(load.throughput, 1),
        before,
        rightAfterCallsRssMb: round(rightAfter, 1),
        after,
        growthMb: round(growthMb, 2),
        growthPct: round(growthPct, 2),
        bytesPerCall: round((growthMb * 1024 * 1024) / load.completed, 1),
        heapGrowthMb: round(after.heapUsedMb - before.heapUsedMb, 2),
        flagged: growthPct > GROWTH_FLAG_PCT,
        flagRule: `growth > ${GROWTH_FLAG_PCT}% of the RSS before the calls (both after a forced GC)`,
      },
    };
  } finally {
    client.close();
    await stopChild(child);
  }
}

export async function run(options = {}) {
  const opts = { ...DEFAULTS, ...options };
  const result = { description: 'RSS (VmRSS) of the HTTP server process', settings: opts };
  const dir = tempDir('mem');
  try {
    result.pglite = await measureBackend('pglite', { dataDir: dir }, opts);
  } finally {
    removeDir(dir);
  }
  const databaseUrl = databaseUrlFromEnv();
  if (databaseUrl) {
    await withFreshDatabase(databaseUrl, 'mem', async (url) => {
      const pgDir = tempDir('mem-pg');
      try {
        result.postgres = await measureBackend('postgres', { dataDir: pgDir, databaseUrl: url }, opts);
      } finally {
        removeDir(pgDir);
      }
    });
  } else {
    result.postgres = { skipped: 'DATABASE_URL is not set' };
  }
  const backends = [result.pglite, result.postgres].filter((r) => r?.idle);
  result.pass = backends.every((r) => r.idle.target.pass);
  result.growthFlagged = backends.some((r) => r.load.flagged);
  return result;
}
