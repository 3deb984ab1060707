#!/usr/bin/env node
/*
 * Retrieval evaluation on a BEIR-format set
 * =========================================
 *   npm run eval:rag -- --data DIR [--modes fulltext,vector,graph,hybrid] [--top-k 10]
 *     [--sample-queries N [--seed S]] [--limit-queries N] [--batch-size 200]
 * DIR holds corpus.jsonl ({_id, title, text, metadata?}), queries.jsonl ({_id, text}) and
 * qrels.tsv (query-id, corpus-id, score; header line). The corpus is ingested into a fresh
 * collection on the embedded database (in a temporary directory) or on DATABASE_URL (in a throw-away schema), every
 * query runs in each mode, and the last stdout line is one JSON object:
 *   {docs, queries, queriesJudged, modes: {<mode>: {ndcg10, recall10, mrr10, p50_ms, p95_ms}},
 *    ingest: {chunks, seconds, chunksPerSecond, cpuSeconds}, seconds, maxRssMb}
 * The corpus is streamed and ingested in batches, so its size is not bounded by memory. A set
 * with thousands of queries can be sampled: --sample-queries N runs the N judged queries with
 * the smallest sha256(seed:id), the same ones on every run and backend; `queries` is how many
 * ran, `queriesJudged` how many the set has. `seconds` is the whole run's wall time.
 * (graph mode needs GraphRAG in RAG_engine.modules, the default; RAG_GRAPH_WEIGHT sets its weight in hybrid).
 * cpuSeconds is the process's CPU time during ingest: PGlite runs in-process, so it measures
 * the ingest's work even when other processes share the machine.
 * Metrics are per document: a document's rank is that of its best chunk. Progress → stderr.
 */
import { createHash, randomBytes } from 'node:crypto';
import { createReadStream, existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { parseArgs } from 'node:util';
import pg from 'pg';
import { pino } from 'pino';
import { App } from '../dist/src/app.js';
import { ragIngest, ragQuery } from '../dist/src/operations/rag.js';

const { values } = parseArgs({
  options: {
    data: { type: 'string' },
    modes: { type: 'string', default: 'fulltext,vector,graph,hybrid' },
    'top-k': { type: 'string', default: '10' },
    'limit-queries': { type: 'string' },
    'sample-queries': { type: 'string' },
    seed: { type: 'string', default: '1' },
    'batch-size': { type: 'string', default: '200' },
  },
});
if (!values.data) {
  process.stderr.write('eval-rag: --data DIR is required (a folder with corpus.jsonl, queries.jsonl, qrels.tsv)\n');
  process.exit(2);
}
const runStarted = performance.now();
const elapsed = () => `${((performance.now() - runStarted) / 1000).toFixed(0)} s`;
const log = (message) => process.stderr.write(`[eval-rag ${elapsed()}] ${message}\n`);
const K = Number(values['top-k']);
const modes = values.modes.split(',').map((m) => m.trim());

/** One parsed object per non-empty line; a line that is not JSON is an error naming it. */
async function* jsonLines(path) {
  const lines = createInterface({ input: createReadStream(path), crlfDelay: Infinity });
  let number = 0;
  for await (const line of lines) {
    number++;
    if (!line.trim()) continue;
    try {
      yield JSON.parse(line);
    } catch (error) {
      throw new Error(`${path}:${number} is not JSON (${error.message}); each line must be one object`, { cause: error });
    }
  }
}

async function readJsonl(path) {
  const out = [];
  for await (const item of jsonLines(path)) out.push(item);
  return out;
}

async function readQrels(path) {
  const qrels = new Map();
  const lines = createInterface({ input: createReadStream(path), crlfDelay: Infinity });
  let first = true;
  for await (const line of lines) {
    if (first) {
      first = false;
      if (/query/i.test(line)) continue;
    }
    const [queryId, docId, score] = line.split('\t');
    if (!queryId || !docId) continue;
    if (!qrels.has(queryId)) qrels.set(queryId, new Map());
    qrels.get(queryId).set(docId, Number(score));
  }
  return qrels;
}

for (const file of ['corpus.jsonl', 'queries.jsonl', 'qrels.tsv']) {
  if (!existsSync(join(values.data, file))) {
    process.stderr.write(`eval-rag: ${join(values.data, file)} is missing\n`);
    process.exit(2);
  }
}

for (const option of ['top-k', 'batch-size', 'limit-queries', 'sample-queries']) {
  if (values[option] !== undefined && !(Number.isInteger(Number(values[option])) && Number(values[option]) > 0)) {
    process.stderr.write(`eval-rag: --${option} must be a positive integer, got ${JSON.stringify(values[option])}\n`);
    process.exit(2);
  }
}

const qrels = await readQrels(join(values.data, 'qrels.tsv'));
let queries = (await readJsonl(join(values.data, 'queries.jsonl'))).filter((q) => qrels.has(String(q._id)));
const queriesJudged = queries.length;
if (values['sample-queries']) {
  const rank = (q) => createHash('sha256').update(`${values.seed}:${q._id}`).digest('hex');
  queries = queries
    .map((q) => ({ q, rank: rank(q) }))
    .sort((a, b) => (a.rank < b.rank ? -1 : a.rank > b.rank ? 1 : 0))
    .slice(0, Number(values['sample-queries']))
    .map(({ q }) => q);
}
if (values['limit-queries']) queries = queries.slice(0, Number(values['limit-queries']));
log(`${queries.length} of ${queriesJudged} judged queries, modes ${modes.join(', ')}; streaming ${join(values.data, 'corpus.jsonl')}`);

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
  const batchSize = Number(values['batch-size']);
  let chunks = 0;
  let docs = 0;
  let batches = 0;
  const cpuStart = process.cpuUsage();
  const started = performance.now();
  const ingestBatch = async (batch) => {
    const documents = batch.map((doc) => ({
      id: String(doc._id),
      text: doc.text || doc.title || '(empty)',
      ...(doc.title ? { title: String(doc.title) } : {}),
      ...(doc.metadata ? { metadata: doc.metadata } : {}),
    }));
    const result = await app.invoke(ragIngest, { collection, documents }, principal);
    chunks += result.chunks;
    docs += batch.length;
    for (const error of result.errors) log(`document ${error.id} not ingested: ${error.message}`);
    if (++batches % 10 === 0) {
      const seconds = (performance.now() - started) / 1000;
      log(`ingested ${docs} documents, ${chunks} chunks (${(chunks / seconds).toFixed(0)} chunks/s, rss ${Math.round(process.memoryUsage().rss / 2 ** 20)} MB)`);
    }
  };
  let batch = [];
  for await (const doc of jsonLines(join(values.data, 'corpus.jsonl'))) {
    batch.push(doc);
    if (batch.length >= batchSize) {
      await ingestBatch(batch);
      batch = [];
    }
  }
  if (batch.length) await ingestBatch(batch);
  const ingestSeconds = (performance.now() - started) / 1000;
  const cpu = process.cpuUsage(cpuStart);
  log(`ingest: ${chunks} chunks in ${ingestSeconds.toFixed(1)} s`);

  const report = {};
  for (const mode of modes) {
    let ndcg = 0;
    let recall = 0;
    let mrr = 0;
    const latencies = [];
    const byGroup = new Map(); // queries' metadata.difficulty, when the set has it
    for (const [done, query] of queries.entries()) {
      if (done > 0 && done % 250 === 0) log(`${mode}: ${done} / ${queries.length} queries`);
      const judged = qrels.get(String(query._id));
      const t0 = performance.now();
      const { hits } = await app.invoke(ragQuery, { collection, query: String(query.text), mode, topK: Math.min(100, K * 3) }, principal);
      latencies.push(performance.now() - t0);
      const ranked = [];
      for (const hit of hits) if (!ranked.includes(hit.documentId)) ranked.push(hit.documentId);
      const top = ranked.slice(0, K);
      let dcg = 0;
      top.forEach((id, index) => {
        const gain = judged.get(id) ?? 0;
        if (gain > 0) dcg += (2 ** gain - 1) / Math.log2(index + 2);
      });
      const ideal = [...judged.values()].filter((g) => g > 0).sort((a, b) => b - a).slice(0, K);
      const idcg = ideal.reduce((sum, gain, index) => sum + (2 ** gain - 1) / Math.log2(index + 2), 0);
      const queryNdcg = idcg > 0 ? dcg / idcg : 0;
      ndcg += queryNdcg;
      const group = query.metadata?.difficulty;
      if (group) byGroup.set(group, [...(byGroup.get(group) ?? []), queryNdcg]);
      const relevant = [...judged.entries()].filter(([, g]) => g > 0).map(([id]) => id);
      recall += relevant.length ? top.filter((id) => relevant.includes(id)).length / relevant.length : 0;
      const first = top.findIndex((id) => (judged.get(id) ?? 0) > 0);
      mrr += first === -1 ? 0 : 1 / (first + 1);
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
      docs,
      queries: queries.length,
      queriesJudged,
      backend: databaseUrl ? 'postgres' : 'pglite',
      modes: report,
      ingest: { chunks, seconds: Number(ingestSeconds.toFixed(2)), chunksPerSecond: Number((chunks / ingestSeconds).toFixed(1)), cpuSeconds: Number(((cpu.user + cpu.system) / 1e6).toFixed(2)) },
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
