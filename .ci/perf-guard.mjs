#!/usr/bin/env node
/*
 * Per-call overhead guard (issue 18)
 * ==================================
 * A short run of bench/registry-get.mjs (the bare SDK against mcp-level3 with API keys and
 * auditLevel full, in interleaved rounds) on PGlite, and on PostgreSQL when DATABASE_URL is
 * set. CI machines are noisy, so only ratios measured in the same run count, and only a
 * throughput ratio far off the target fails: below FAIL_BELOW (the target itself is 0.7).
 * Prints the ratios, and writes {passed, failed} for .ci/summarize.mjs to PERF_SUMMARY.
 *
 *   PERF_SUMMARY=out.json node .ci/perf-guard.mjs      (needs a build: dist/bundle/cli.js)
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import { run } from '../bench/registry-get.mjs';

const FAIL_BELOW = 0.4;
const QUICK = { warmup: 100, sequentialCalls: 600, sequentialRounds: 6, durationMs: 6000, throughputRounds: 6, maxCalls: 12_000 };

const result = await run(QUICK);
let passed = 0;
let failed = 0;
for (const backend of ['pglite', 'postgres']) {
  const measured = result[backend];
  if (!measured?.vsBaseline) {
    process.stderr.write(`[perf-guard] ${backend}: ${measured?.skipped ?? 'not measured'}\n`);
    continue;
  }
  const { throughputRatio, p95Ratio, serverCpuPerCallRatio } = measured.vsBaseline;
  const ok = throughputRatio >= FAIL_BELOW;
  if (ok) passed++;
  else failed++;
  process.stderr.write(
    `[perf-guard] ${ok ? 'PASS' : 'FAIL'} ${backend}: registry_get throughput ${throughputRatio}× the bare SDK (fails below ${FAIL_BELOW}; target 0.7), sequential p95 ${p95Ratio}× (target ≤ 1.3), server CPU per call ${serverCpuPerCallRatio}× (target ≤ 2.5)\n`,
  );
}
const summaryPath = process.env.PERF_SUMMARY;
if (summaryPath) {
  mkdirSync(dirname(summaryPath), { recursive: true });
  writeFileSync(summaryPath, `${JSON.stringify({ passed, failed, skipped: 0, ratios: { pglite: result.pglite?.vsBaseline, postgres: result.postgres?.vsBaseline } }, null, 2)}\n`);
}
process.exit(failed > 0 ? 1 : 0);
