#!/usr/bin/env node
/*
 * Where graph-mode queries spend their time
 * =========================================
 *   EVAL_DATA_DIR=DIR node bench/graph-profile.mjs --data SET [--queries 100] [--mode graph]
 * Opens the collection "eval" an earlier `eval-rag.mjs` run left in EVAL_DATA_DIR (PGlite) and
 * runs the set's first N judged queries (sha256-sampled, like --sample-queries) in one mode,
 * timing every graph store call. The last stdout line is one JSON object:
 *   {queries, mode, p50_ms, p95_ms, cpuSeconds, store: {<method>: {calls, ms, p95_ms}}}
 * and `checksum`, a hash of every query's ranked chunk ids, to compare two builds' results.
 */
import { createHash } from 'node:crypto';
import { parseArgs } from 'node:util';
import { pino } from 'pino';
import { App } from '../dist/src/app.js';
import { ragQuery } from '../dist/tools/rag.js';
import { readBeir } from './beir.mjs';

const { values } = parseArgs({ options: { data: { type: 'string' }, queries: { type: 'string', default: '100' }, mode: { type: 'string', default: 'graph' } } });
if (!values.data || !process.env.EVAL_DATA_DIR) {
  process.stderr.write('graph-profile: EVAL_DATA_DIR=DIR node bench/graph-profile.mjs --data SET\n');
  process.exit(2);
}
const { queries } = await readBeir(values.data, { sample: values.queries });
const app = new App({ dataDir: process.env.EVAL_DATA_DIR, logger: pino({ level: 'warn' }), env: process.env });
const principal = { principal: { id: 'eval', scopes: ['*'] } };
try {
  const { graph } = await app.services();
  const store = {};
  for (const method of ['entitiesWithin', 'entities', 'edgesAround', 'mentions']) {
    const original = graph[method].bind(graph);
    store[method] = { calls: 0, ms: 0, each: [] };
    graph[method] = async (...args) => {
      const t0 = performance.now();
      try {
        return await original(...args);
      } finally {
        const ms = performance.now() - t0;
        store[method].calls++;
        store[method].ms += ms;
        store[method].each.push(ms);
      }
    };
  }
  // One warm-up query: the first pays for loading code and caches.
  await app.invoke(ragQuery, { collection: 'eval', query: String(queries[0].text), mode: values.mode, topK: 30 }, principal);
  for (const s of Object.values(store)) Object.assign(s, { calls: 0, ms: 0, each: [] });
  const latencies = [];
  const checksum = createHash('sha256');
  const cpuStart = process.cpuUsage();
  for (const query of queries) {
    const t0 = performance.now();
    const result = await app.invoke(ragQuery, { collection: 'eval', query: String(query.text), mode: values.mode, topK: 30 }, principal);
    latencies.push(performance.now() - t0);
    checksum.update(JSON.stringify([result.hits.map((h) => [h.chunkId, h.score.toFixed(6)]), result.graph ?? null]));
  }
  const cpu = process.cpuUsage(cpuStart);
  const pct = (list, p) => [...list].sort((a, b) => a - b)[Math.min(list.length - 1, Math.floor((p / 100) * list.length))] ?? 0;
  process.stdout.write(
    `${JSON.stringify({
      queries: queries.length,
      mode: values.mode,
      p50_ms: Number(pct(latencies, 50).toFixed(1)),
      p95_ms: Number(pct(latencies, 95).toFixed(1)),
      cpuSeconds: Number(((cpu.user + cpu.system) / 1e6).toFixed(2)),
      store: Object.fromEntries(Object.entries(store).map(([m, s]) => [m, { calls: s.calls, ms: Math.round(s.ms), p95_ms: Number(pct(s.each, 95).toFixed(1)) }])),
      checksum: checksum.digest('hex').slice(0, 16),
    })}\n`,
  );
} finally {
  await app.close();
}
