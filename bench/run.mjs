#!/usr/bin/env node
/*
 * Benchmark runner
 * ================
 *   node bench/run.mjs                     all: coldstart, registry-get, memory, dag
 *   node bench/run.mjs registry-get        one (or several, space separated)
 * Needs a build (npm run bench builds first). Prints one JSON document on stdout and
 * writes it to bench/results/latest.json; progress goes to stderr. PostgreSQL variants
 * run when DATABASE_URL is set (a throw-away database is created next to it and dropped).
 */
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { cpus, loadavg, totalmem } from 'node:os';
import { join } from 'node:path';
import { BENCH_DIR, CLI, databaseUrlFromEnv, log, redactUrl, round } from './lib.mjs';

const BENCHMARKS = {
  coldstart: () => import('./coldstart.mjs'),
  'registry-get': () => import('./registry-get.mjs'),
  memory: () => import('./memory.mjs'),
  dag: () => import('./dag.mjs'),
};

const requested = process.argv.slice(2);
for (const name of requested) {
  if (!(name in BENCHMARKS)) {
    process.stderr.write(`unknown benchmark "${name}"; choose from: ${Object.keys(BENCHMARKS).join(', ')}\n`);
    process.exit(2);
  }
}
if (!existsSync(CLI)) {
  process.stderr.write(`${CLI} is missing; run "npm run build" first (or "npm run bench", which builds)\n`);
  process.exit(2);
}
const names = requested.length > 0 ? requested : Object.keys(BENCHMARKS);

const databaseUrl = databaseUrlFromEnv();
const report = {
  startedAt: new Date().toISOString(),
  machine: { node: process.version, platform: `${process.platform}-${process.arch}`, cpus: cpus().length, cpuModel: cpus()[0]?.model, totalMemMb: round(totalmem() / 1024 / 1024, 0) },
  // Other work on the machine skews absolute figures; the ratios are measured side by side.
  loadAverageAtStart: loadavg().map((v) => round(v, 2)),
  databaseUrl: databaseUrl ? redactUrl(databaseUrl) : null,
  benchmarks: {},
};

const started = performance.now();
let failed = false;
for (const name of names) {
  log(`=== ${name} ===`);
  const t0 = performance.now();
  try {
    const { run } = await BENCHMARKS[name]();
    report.benchmarks[name] = await run();
  } catch (error) {
    failed = true;
    log(`${name} failed: ${error.stack ?? error}`);
    report.benchmarks[name] = { error: String(error.message ?? error) };
  }
  report.benchmarks[name].seconds = round((performance.now() - t0) / 1000, 1);
}
report.loadAverageAtEnd = loadavg().map((v) => round(v, 2));
report.totalSeconds = round((performance.now() - started) / 1000, 1);
report.summary = Object.fromEntries(
  Object.entries(report.benchmarks).map(([name, r]) => [name, r.error ? 'error' : r.pass ? 'pass' : 'fail']),
);

const json = JSON.stringify(report, null, 2);
const resultsDir = join(BENCH_DIR, 'results');
mkdirSync(resultsDir, { recursive: true });
writeFileSync(join(resultsDir, 'latest.json'), `${json}\n`);
process.stdout.write(`${json}\n`);
log(`done in ${report.totalSeconds} s: ${JSON.stringify(report.summary)} (written to bench/results/latest.json)`);
// Target misses are findings, not crashes: exit 0 unless a benchmark could not run.
process.exit(failed ? 1 : 0);
