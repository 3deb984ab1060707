#!/usr/bin/env node
/*
 * Retrieval evaluation on a BEIR-format set
 * =========================================
 *   npm run eval:rag -- --data DIR [--modes fulltext,vector,graph,hybrid] [--top-k 10]
 *     [--sample-queries N [--seed S]] [--limit-queries N] [--batch-size 200] [--skip-ingest] [--warm-up]
 * DIR holds corpus.jsonl ({_id, title, text, metadata?}), queries.jsonl ({_id, text}) and
 * qrels.tsv (query-id, corpus-id, score; header line). The corpus is ingested into a fresh
 * collection on the embedded database (in a temporary directory; EVAL_DATA_DIR overrides) or on
 * DATABASE_URL (in a throw-away schema), every
 * query runs in each mode, and the last stdout line is one JSON object:
 *   {docs, queries, queriesJudged, backend, embedder, modes: {<mode>: {ndcg10, recall10, mrr10, p50_ms, p95_ms, cpuSeconds}},
 *    ingest: {chunks, seconds, chunksPerSecond, searchableSeconds, searchableChunksPerSecond, cpuSeconds, mainThreadCpuSeconds, warmUp?}, seconds, maxRssMb}
 * ingest.seconds runs until every list is ready: with the default embedder the vectors are
 * computed after the write, in the background, and queries are measured only once all are
 * in; searchableSeconds is when the last batch was written (searchable by full text).
 * The corpus is streamed and ingested in batches, so its size is not bounded by memory. A set
 * with thousands of queries can be sampled: --sample-queries N runs the N judged queries with
 * the smallest sha256(seed:id), the same ones on every run and backend; `queries` is how many
 * ran, `queriesJudged` how many the set has. `seconds` is the whole run's wall time.
 * (graph mode needs GraphRAG in RAG_engine.modules, the default; RAG_GRAPH_WEIGHT sets its weight in hybrid).
 * --skip-ingest queries the collection an earlier run left in EVAL_DATA_DIR (a directory is kept
 * when EVAL_DATA_DIR names it), so queries can be profiled without ingesting again; `ingest` is
 * then null.
 * --warm-up first ingests the corpus into another collection ("eval-warm-up"), untimed, so the
 * timed ingest runs in a warm process: the first ingest after a start also pays one-time work
 * (V8 compiling PGlite's WebAssembly and the JS hot paths on its background threads, the
 * preparation worker's start, loading the text splitter). `ingest.warmUp` reports that first
 * pass. The timed ingest then writes into tables that already hold one copy of the corpus.
 * cpuSeconds is the process's CPU time during ingest, or during a mode's queries: PGlite runs
 * in-process, so it measures the work even when other processes share the machine (on PGlite,
 * a vector index built in the background after the ingest counts in the mode it overlapped).
 * mainThreadCpuSeconds (Linux) is the ingest's main-thread share: PGlite and the writes;
 * document preparation with the offline embedder runs on a worker thread beside it, so with a
 * second core free the ingest takes about the larger of the two.
 * Metrics are per document: a document's rank is that of its best chunk. Progress → stderr.
 */
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import pg from 'pg';
import { pino } from 'pino';
import { App } from '../dist/src/app.js';
import { ragCollections, ragQuery } from '../dist/tools/rag.js';
import { ingestCorpus, readBeir, readCorpus, scoreRanking } from './beir.mjs';

const { values } = parseArgs({
  options: {
    data: { type: 'string' },
    modes: { type: 'string', default: 'fulltext,vector,graph,hybrid' },
    'top-k': { type: 'string', default: '10' },
    'limit-queries': { type: 'string' },
    'sample-queries': { type: 'string' },
    seed: { type: 'string', default: '1' },
    'batch-size': { type: 'string', default: '200' },
    'skip-ingest': { type: 'boolean', default: false },
    'warm-up': { type: 'boolean', default: false },
  },
});
if (values['skip-ingest'] && values['warm-up']) {
  process.stderr.write('eval-rag: --warm-up warms up an ingest; --skip-ingest runs none\n');
  process.exit(2);
}
if (values['skip-ingest'] && !process.env.EVAL_DATA_DIR) {
  process.stderr.write('eval-rag: --skip-ingest needs EVAL_DATA_DIR, the directory an earlier run ingested into\n');
  process.exit(2);
}
if (!values.data) {
  process.stderr.write('eval-rag: --data DIR is required (a folder with corpus.jsonl, queries.jsonl, qrels.tsv)\n');
  process.exit(2);
}
const runStarted = performance.now();
const elapsed = () => `${((performance.now() - runStarted) / 1000).toFixed(0)} s`;
const log = (message) => process.stderr.write(`[eval-rag ${elapsed()}] ${message}\n`);
for (const option of ['top-k', 'batch-size', 'limit-queries', 'sample-queries']) {
  if (values[option] !== undefined && !(Number.isInteger(Number(values[option])) && Number(values[option]) > 0)) {
    process.stderr.write(`eval-rag: --${option} must be a positive integer, got ${JSON.stringify(values[option])}\n`);
    process.exit(2);
  }
}
const K = Number(values['top-k']);
const modes = values.modes.split(',').map((m) => m.trim());

const { corpus, queries, queriesJudged, qrels } = await readBeir(values.data, { limit: values['limit-queries'], sample: values['sample-queries'], seed: values.seed });
log(`${queries.length} of ${queriesJudged} judged queries, modes ${modes.join(', ')}; streaming the corpus`);

const databaseUrl = process.env.DATABASE_URL || undefined;
const schema = databaseUrl ? `eval_${randomBytes(5).toString('hex')}` : undefined;
// A fresh directory on disk by default: PGlite's memory:// keeps the whole database in the
// process (3.8 GB RSS at 20,000 man pages, 64,000 chunks). EVAL_DATA_DIR=memory:// for that.
const dataDir = process.env.EVAL_DATA_DIR || (databaseUrl ? 'memory://' : mkdtempSync(join(tmpdir(), 'eval-rag-')));
const app = new App({ dataDir, databaseUrl, databaseSchema: schema, cacheKeyPrefix: `eval-${randomBytes(4).toString('hex')}:`, logger: pino({ level: 'warn' }), env: process.env });
const principal = { principal: { id: 'eval', scopes: ['*'] } };
const collection = 'eval';

try {
  await app.services();
  const warmUp = values['warm-up'] ? await ingestCorpus(app, principal, `${collection}-warm-up`, readCorpus(values.data), Number(values['batch-size']), log) : undefined;
  if (warmUp) log(`warm-up ingest: ${warmUp.chunks} chunks in ${warmUp.seconds.toFixed(1)} s`);
  const ingest = values['skip-ingest'] ? undefined : await ingestCorpus(app, principal, collection, corpus, Number(values['batch-size']), log);
  if (ingest) log(`ingest: ${ingest.chunks} chunks in ${ingest.seconds.toFixed(1)} s`);
  const stored = (await app.invoke(ragCollections, {}, principal)).collections.find((c) => c.name === collection);
  if (!stored) throw new Error(`no collection "${collection}" in ${dataDir}: run once without --skip-ingest`);
  const { embedder } = stored;

  const report = {};
  for (const mode of modes) {
    let ndcg = 0;
    let recall = 0;
    let mrr = 0;
    const latencies = [];
    const byGroup = new Map(); // queries' metadata.difficulty, when the set has it
    const cpuStart = process.cpuUsage();
    for (const [done, query] of queries.entries()) {
      if (done > 0 && done % 250 === 0) log(`${mode}: ${done} / ${queries.length} queries`);
      const judged = qrels.get(String(query._id));
      const t0 = performance.now();
      const { hits } = await app.invoke(ragQuery, { collection, query: String(query.text), mode, topK: Math.min(100, K * 3) }, principal);
      latencies.push(performance.now() - t0);
      const scored = scoreRanking(hits.map((h) => h.documentId), judged, K);
      const queryNdcg = scored.ndcg;
      ndcg += queryNdcg;
      const group = query.metadata?.difficulty;
      if (group) byGroup.set(group, [...(byGroup.get(group) ?? []), queryNdcg]);
      recall += scored.recall;
      mrr += scored.rr;
    }
    const cpu = process.cpuUsage(cpuStart);
    latencies.sort((a, b) => a - b);
    const pct = (p) => latencies[Math.min(latencies.length - 1, Math.floor((p / 100) * latencies.length))] ?? 0;
    const n = queries.length || 1;
    report[mode] = {
      ndcg10: Number((ndcg / n).toFixed(4)),
      recall10: Number((recall / n).toFixed(4)),
      mrr10: Number((mrr / n).toFixed(4)),
      p50_ms: Number(pct(50).toFixed(2)),
      p95_ms: Number(pct(95).toFixed(2)),
      cpuSeconds: Number(((cpu.user + cpu.system) / 1e6).toFixed(2)),
      ...(byGroup.size
        ? { ndcg10ByDifficulty: Object.fromEntries([...byGroup].map(([g, values]) => [g, Number((values.reduce((a, b) => a + b, 0) / values.length).toFixed(4))])) }
        : {}),
    };
    log(`${mode}: ${JSON.stringify(report[mode])}`);
  }
  process.stdout.write(
    `${JSON.stringify({
      docs: ingest ? ingest.docs : stored.documents,
      queries: queries.length,
      queriesJudged,
      backend: databaseUrl ? 'postgres' : 'pglite',
      embedder,
      modes: report,
      ingest: ingest
        ? {
            chunks: ingest.chunks,
            seconds: Number(ingest.seconds.toFixed(2)),
            chunksPerSecond: Number((ingest.chunks / ingest.seconds).toFixed(1)),
            searchableSeconds: Number(ingest.searchableSeconds.toFixed(2)),
            searchableChunksPerSecond: Number((ingest.chunks / ingest.searchableSeconds).toFixed(1)),
            cpuSeconds: Number(ingest.cpuSeconds.toFixed(2)),
            ...(ingest.mainThreadCpuSeconds === null ? {} : { mainThreadCpuSeconds: Number(ingest.mainThreadCpuSeconds.toFixed(2)) }),
            ...(warmUp ? { warmUp: { chunks: warmUp.chunks, seconds: Number(warmUp.seconds.toFixed(2)), chunksPerSecond: Number((warmUp.chunks / warmUp.seconds).toFixed(1)) } } : {}),
          }
        : null,
      seconds: Number(((performance.now() - runStarted) / 1000).toFixed(1)),
      maxRssMb: Math.round(process.resourceUsage().maxRSS / 1024),
    })}\n`,
  );
} finally {
  await app.close();
  if (!process.env.EVAL_DATA_DIR && !databaseUrl) rmSync(dataDir, { recursive: true, force: true });
  if (schema) {
    const client = new pg.Client({ connectionString: databaseUrl });
    await client.connect();
    await client.query(`drop schema if exists ${schema} cascade`);
    await client.end();
  }
}
