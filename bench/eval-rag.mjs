#!/usr/bin/env node
/*
 * Retrieval evaluation on a BEIR-format set
 * =========================================
 *   npm run eval:rag -- --data DIR [--modes fulltext,vector,graph,hybrid] [--top-k 10] [--limit-queries N]
 * DIR holds corpus.jsonl ({_id, title, text, metadata?}), queries.jsonl ({_id, text}) and
 * qrels.tsv (query-id, corpus-id, score; header line). The corpus is ingested into a fresh
 * collection on the embedded database (or on DATABASE_URL, in a throw-away schema), every
 * query runs in each mode, and the last stdout line is one JSON object:
 *   {docs, queries, backend, embedder, modes: {<mode>: {ndcg10, recall10, mrr10, p50_ms, p95_ms}}, ingest: {chunks, seconds, chunksPerSecond, cpuSeconds}}
 * (graph mode needs GraphRAG in RAG_engine.modules, the default; RAG_GRAPH_WEIGHT sets its weight in hybrid).
 * cpuSeconds is the process's CPU time during ingest: PGlite runs in-process, so it measures
 * the ingest's work even when other processes share the machine.
 * Metrics are per document: a document's rank is that of its best chunk. Progress → stderr.
 */
import { randomBytes } from 'node:crypto';
import { parseArgs } from 'node:util';
import pg from 'pg';
import { pino } from 'pino';
import { App } from '../dist/src/app.js';
import { ragCollections, ragQuery } from '../dist/src/operations/rag.js';
import { ingestCorpus, readBeir, scoreRanking } from './beir.mjs';

const { values } = parseArgs({
  options: {
    data: { type: 'string' },
    modes: { type: 'string', default: 'fulltext,vector,graph,hybrid' },
    'top-k': { type: 'string', default: '10' },
    'limit-queries': { type: 'string' },
    'batch-size': { type: 'string', default: '200' },
  },
});
if (!values.data) {
  process.stderr.write('eval-rag: --data DIR is required (a folder with corpus.jsonl, queries.jsonl, qrels.tsv)\n');
  process.exit(2);
}
const log = (message) => process.stderr.write(`[eval-rag] ${message}\n`);
const K = Number(values['top-k']);
const modes = values.modes.split(',').map((m) => m.trim());

const { corpus, queries, qrels } = await readBeir(values.data, values['limit-queries']);
log(`${corpus.length} documents, ${queries.length} judged queries, modes ${modes.join(', ')}`);

const databaseUrl = process.env.DATABASE_URL || undefined;
const schema = databaseUrl ? `eval_${randomBytes(5).toString('hex')}` : undefined;
const app = new App({ dataDir: 'memory://', databaseUrl, databaseSchema: schema, cacheKeyPrefix: `eval-${randomBytes(4).toString('hex')}:`, logger: pino({ level: 'warn' }), env: process.env });
const principal = { principal: { id: 'eval', scopes: ['*'] } };
const collection = 'eval';

try {
  await app.services();
  const ingest = await ingestCorpus(app, principal, collection, corpus, Number(values['batch-size']), log);
  const { chunks } = ingest;
  log(`ingest: ${chunks} chunks in ${ingest.seconds.toFixed(1)} s`);
  const { embedder } = (await app.invoke(ragCollections, {}, principal)).collections.find((c) => c.name === collection);

  const report = {};
  for (const mode of modes) {
    let ndcg = 0;
    let recall = 0;
    let mrr = 0;
    const latencies = [];
    const byGroup = new Map(); // queries' metadata.difficulty, when the set has it
    for (const query of queries) {
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
    latencies.sort((a, b) => a - b);
    const pct = (p) => latencies[Math.min(latencies.length - 1, Math.floor((p / 100) * latencies.length))] ?? 0;
    const n = queries.length || 1;
    report[mode] = {
      ndcg10: Number((ndcg / n).toFixed(4)),
      recall10: Number((recall / n).toFixed(4)),
      mrr10: Number((mrr / n).toFixed(4)),
      p50_ms: Number(pct(50).toFixed(2)),
      p95_ms: Number(pct(95).toFixed(2)),
      ...(byGroup.size
        ? { ndcg10ByDifficulty: Object.fromEntries([...byGroup].map(([g, values]) => [g, Number((values.reduce((a, b) => a + b, 0) / values.length).toFixed(4))])) }
        : {}),
    };
    log(`${mode}: ${JSON.stringify(report[mode])}`);
  }
  process.stdout.write(
    `${JSON.stringify({
      docs: corpus.length,
      queries: queries.length,
      backend: databaseUrl ? 'postgres' : 'pglite',
      embedder,
      modes: report,
      ingest: { chunks, seconds: Number(ingest.seconds.toFixed(2)), chunksPerSecond: Number((chunks / ingest.seconds).toFixed(1)), cpuSeconds: Number(ingest.cpuSeconds.toFixed(2)) },
    })}\n`,
  );
} finally {
  await app.close();
  if (schema) {
    const client = new pg.Client({ connectionString: databaseUrl });
    await client.connect();
    await client.query(`drop schema if exists ${schema} cascade`);
    await client.end();
  }
}
