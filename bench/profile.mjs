#!/usr/bin/env node
/*
 * CPU profiles for the benchmarks' hot paths (not part of `npm run bench`):
 *   node bench/profile.mjs coldstart       stdio start on an existing data dir → first registry_list
 *   node bench/profile.mjs registry-get    32 registry_get in flight for 5 s (bare echo for comparison)
 * Servers run with `node --cpu-prof`; profiles land in bench/results/prof/ and the summary
 * (self time by function and area, inclusive time, busy µs per call) is printed as JSON.
 * For registry-get only the samples taken during the load count (start-up is left out).
 */
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { closeSession, firstToolResult, initialize, startStdio } from './coldstart.mjs';
import { BENCH_DIR, closedLoop, databaseUrlFromEnv, GET_ARGS, log, publishArtifact, removeDir, round, sequential, startBareServer, startOurHttpServerWithApiKey, stopChild, tempDir, withFreshDatabase } from './lib.mjs';
import { summarizeFile } from './profile-summary.mjs';

const PROF_DIR = join(BENCH_DIR, 'results', 'prof');
const nowUs = () => Number(process.hrtime.bigint() / 1000n);
const profFlags = (name) => ['--cpu-prof', '--cpu-prof-dir', PROF_DIR, '--cpu-prof-name', name];

function trim(summary, top) {
  const { areaUs, ...rest } = summary;
  void areaUs;
  return { ...rest, topSelf: rest.topSelf.slice(0, top), topInclusive: rest.topInclusive.slice(0, top) };
}

async function profileColdstart() {
  const dir = tempDir('prof-cold');
  try {
    log('profile: preparing an existing data dir');
    const prep = startStdio(dir);
    await initialize(prep);
    await firstToolResult(prep);
    await closeSession(prep);

    const name = `coldstart-${Date.now()}.cpuprofile`;
    const t0 = nowUs();
    const s = startStdio(dir, profFlags(name));
    const initMs = await initialize(s);
    const t1 = nowUs();
    const toolMs = await firstToolResult(s);
    const t2 = nowUs();
    await closeSession(s);
    log(`profile: coldstart initialize ${initMs.toFixed(0)} ms, first registry_list ${toolMs.toFixed(0)} ms`);
    const file = join(PROF_DIR, name);
    const storageReady = /"ms":(\d+),"msg":"storage ready"/.exec(s.child.stderrTail);
    return {
      profile: file,
      initializeMs: round(initMs, 1),
      firstToolResultMs: round(toolMs, 1),
      storageReadyLogMs: storageReady ? Number(storageReady[1]) : null,
      untilInitialize: trim(summarizeFile(file, { fromUs: t0, toUs: t1, top: 20 }), 20),
      initializeToFirstTool: trim(summarizeFile(file, { fromUs: t1, toUs: t2, top: 25 }), 25),
    };
  } finally {
    removeDir(dir);
  }
}

async function profileLoad(label, start, tool, seconds) {
  const name = `${label}-${Date.now()}.cpuprofile`;
  const server = await start(profFlags(name));
  try {
    if (tool === 'registry_get') await publishArtifact(server.client);
    const call = () => server.client.callTool(tool, GET_ARGS);
    await sequential(500, call);
    const from = nowUs();
    const load = await closedLoop({ concurrency: 32, durationMs: seconds * 1000, maxCalls: Infinity, call });
    const to = nowUs();
    if (load.errors) throw new Error(`${label}: ${load.errors} errors`);
    server.client.close();
    await stopChild(server.child);
    const summary = summarizeFile(join(PROF_DIR, name), { fromUs: from, toUs: to, top: 30 });
    log(`profile: ${label}: ${load.completed} calls, ${Math.round(summary.busyMs)} ms busy`);
    return { profile: join(PROF_DIR, name), calls: load.completed, callsPerSecond: round(load.throughput, 1), busyUsPerCall: round((summary.busyMs * 1000) / load.completed, 1), summary };
  } finally {
    server.client.close();
    await stopChild(server.child);
  }
}

function perCallByArea(result) {
  return Object.fromEntries(Object.entries(result.summary.areaUs).map(([area, us]) => [area, round(us / result.calls, 1)]));
}

async function profileRegistryGet(seconds = 5) {
  const out = {};
  out.bare = await profileLoad('bare', (flags) => startBareServer({ nodeFlags: flags }), 'echo', seconds);
  const dir = tempDir('prof-get');
  try {
    out.pglite = await profileLoad('ours-pglite', (flags) => startOurHttpServerWithApiKey({ dataDir: dir, nodeFlags: flags }), 'registry_get', seconds);
  } finally {
    removeDir(dir);
  }
  const url = databaseUrlFromEnv();
  if (url) {
    await withFreshDatabase(url, 'prof', async (fresh) => {
      const pgDir = tempDir('prof-get-pg');
      try {
        out.postgres = await profileLoad('ours-postgres', (flags) => startOurHttpServerWithApiKey({ dataDir: pgDir, databaseUrl: fresh, nodeFlags: flags }), 'registry_get', seconds);
      } finally {
        removeDir(pgDir);
      }
    });
  }
  const bareArea = perCallByArea(out.bare);
  for (const key of ['pglite', 'postgres']) {
    if (!out[key]) continue;
    const ours = perCallByArea(out[key]);
    const areas = new Set([...Object.keys(ours), ...Object.keys(bareArea)]);
    out[key].extraUsPerCallByArea = Object.fromEntries(
      [...areas].map((a) => [a, round((ours[a] ?? 0) - (bareArea[a] ?? 0), 1)]).sort((x, y) => y[1] - x[1]),
    );
  }
  for (const r of Object.values(out)) r.summary = trim(r.summary, 25);
  return out;
}

const which = process.argv[2];
mkdirSync(PROF_DIR, { recursive: true });
let result;
if (which === 'coldstart') result = await profileColdstart();
else if (which === 'registry-get') result = await profileRegistryGet(Number(process.argv[3] ?? 5));
else {
  process.stderr.write('usage: node bench/profile.mjs coldstart|registry-get [seconds]\n');
  process.exit(2);
}
process.stdout.write(`${JSON.stringify(result, null, 2)}\n`);
process.exit(0);
