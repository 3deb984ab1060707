#!/usr/bin/env node
/*
 * Hybrid fusion settings swept on a BEIR-format set
 * =================================================
 *   npm run build && node bench/rag-fusion.mjs --data DIR [--k 10,20,30,60,100] [--weights 1:1:0.25,1:1:0,...]
 *     [--dump FILE] [--sample-queries N [--seed S]]
 * Ingests the corpus once (embedded database, or DATABASE_URL in a throw-away schema; the
 * embedder is the server's, e.g. EMBEDDINGS_PROVIDER=onnx), asks each retriever for its list
 * at the depth hybrid uses (150 chunks for the 30 hits eval-rag.mjs asks for), and fuses the
 * lists with the engine's own fuseByRank for each RRF k and each weight triple
 * vector:fulltext:graph, so a sweep costs one ingest and three queries per query.
 * --dump FILE writes each query's lists, one JSON line per query, for fusion experiments
 * without a database (bench/fusion-replay.mjs):
 *   {query: {_id, text, difficulty?}, qrels: {<doc id>: grade}, lists: {fulltext|vector|graph: [{chunk, doc, score, rank}]}}
 * preceded by one header line {dump: 1, data, docs, chunks, queries, embedder, backend, depth, hits}.
 * The last stdout line is one JSON object:
 *   {docs, queries, embedder, single: {<mode>: {ndcg10, ...}}, fused: [{k, weights, ndcg10, recall10, mrr10, ndcg10ByDifficulty?}]}
 */
import { randomBytes } from 'node:crypto';
import { createWriteStream } from 'node:fs';
import { once } from 'node:events';
import { parseArgs } from 'node:util';
import pg from 'pg';
import { pino } from 'pino';
import { App } from '../dist/src/app.js';
import { fuseByRank } from '../dist/src/engines/rag/fusion.js';
import { ragCollections } from '../dist/tools/rag.js';
import { ingestCorpus, readBeir, scoreRanking } from './beir.mjs';

const { values } = parseArgs({
  options: {
    data: { type: 'string' },
    k: { type: 'string', default: '10,20,30,60,100' },
    weights: { type: 'string', default: '1:1:0,1:1:0.25,1:0.5:0.25,0.5:1:0.25,1:1:0.5,1.5:1:0.25,2:1:0.25' },
    'top-k': { type: 'string', default: '10' },
    'batch-size': { type: 'string', default: '200' },
    dump: { type: 'string' },
    'sample-queries': { type: 'string' },
    seed: { type: 'string', default: '1' },
  },
});
if (!values.data) {
  process.stderr.write('rag-fusion: --data DIR is required (a folder with corpus.jsonl, queries.jsonl, qrels.tsv)\n');
  process.exit(2);
}
const log = (message) => process.stderr.write(`[rag-fusion] ${message}\n`);
const K = Number(values['top-k']);
const HITS = Math.min(100, K * 3); // what eval-rag.mjs asks for
const DEPTH = Math.max(50, HITS * 5); // each list's depth in hybrid (rag-engine.ts)
const ks = values.k.split(',').map(Number);
const weightSets = values.weights.split(',').map((w) => {
  const [vector, fulltext, graph] = w.split(':').map(Number);
  return { vector, fulltext, graph };
});

const { corpus, queries, qrels } = await readBeir(values.data, { sample: values['sample-queries'], seed: values.seed });
const databaseUrl = process.env.DATABASE_URL || undefined;
const schema = databaseUrl ? `fusion_${randomBytes(5).toString('hex')}` : undefined;
const app = new App({ dataDir: 'memory://', databaseUrl, databaseSchema: schema, cacheKeyPrefix: `fusion-${randomBytes(4).toString('hex')}:`, logger: pino({ level: 'warn' }), env: process.env });
const principal = { principal: { id: 'eval', scopes: ['*'] } };
const collection = 'eval';
const round = (x) => Number(x.toFixed(4));

try {
  const { engines } = await app.services();
  const { docs, chunks } = await ingestCorpus(app, principal, collection, corpus, Number(values['batch-size']), log);
  const { embedder } = (await app.invoke(ragCollections, {}, principal)).collections.find((c) => c.name === collection);
  const dump = values.dump ? createWriteStream(values.dump) : undefined;
  const writeLine = async (object) => {
    if (!dump.write(`${JSON.stringify(object)}\n`)) await once(dump, 'drain');
  };
  if (dump) await writeLine({ dump: 1, data: values.data, docs, chunks, queries: queries.length, embedder, backend: databaseUrl ? 'postgres' : 'pglite', depth: DEPTH, hits: HITS });
  const documentOf = new Map();
  const runs = [];
  for (const [index, query] of queries.entries()) {
    const lists = {};
    for (const mode of ['fulltext', 'vector', 'graph']) {
      // The engine directly: the operation caps topK at 100, hybrid's lists go deeper.
      const { hits } = await engines.rag.query({ collection, query: String(query.text), mode, topK: DEPTH });
      for (const hit of hits) documentOf.set(hit.chunkId, hit.documentId);
      lists[mode] = hits.map((hit) => ({ id: hit.chunkId, score: hit.score }));
    }
    const judged = qrels.get(String(query._id));
    runs.push({ query, lists, judged });
    if (dump) {
      await writeLine({
        query: { _id: String(query._id), text: String(query.text), ...(query.metadata?.difficulty ? { difficulty: query.metadata.difficulty } : {}) },
        qrels: Object.fromEntries(judged),
        lists: Object.fromEntries(Object.entries(lists).map(([mode, items]) => [mode, items.map((item, i) => ({ chunk: item.id, doc: documentOf.get(item.id), score: item.score, rank: i + 1 }))])),
      });
    }
    if ((index + 1) % 100 === 0) log(`queried ${index + 1} of ${queries.length}`);
  }
  if (dump) {
    dump.end();
    await once(dump, 'finish');
    log(`wrote ${values.dump}`);
  }

  const evaluate = (rank) => {
    let ndcg = 0;
    let recall = 0;
    let mrr = 0;
    const byGroup = new Map();
    for (const run of runs) {
      const s = scoreRanking(rank(run).map((id) => documentOf.get(id)), run.judged, K);
      ndcg += s.ndcg;
      recall += s.recall;
      mrr += s.rr;
      const group = run.query.metadata?.difficulty;
      if (group) byGroup.set(group, [...(byGroup.get(group) ?? []), s.ndcg]);
    }
    const n = runs.length || 1;
    return {
      ndcg10: round(ndcg / n),
      recall10: round(recall / n),
      mrr10: round(mrr / n),
      ...(byGroup.size ? { ndcg10ByDifficulty: Object.fromEntries([...byGroup].map(([g, v]) => [g, round(v.reduce((a, b) => a + b, 0) / v.length)])) } : {}),
    };
  };

  const single = Object.fromEntries(['fulltext', 'vector', 'graph'].map((mode) => [mode, evaluate((run) => run.lists[mode].slice(0, HITS).map((i) => i.id))]));
  log(`single lists: ${JSON.stringify(single)}`);
  const fused = [];
  for (const k of ks) {
    for (const weights of weightSets) {
      const result = evaluate((run) =>
        fuseByRank(
          ['vector', 'fulltext', 'graph'].filter((r) => weights[r] > 0 && run.lists[r].length > 0).map((r) => ({ retriever: r, weight: weights[r], items: run.lists[r] })),
          k,
        )
          .slice(0, HITS)
          .map((f) => f.id),
      );
      fused.push({ k, weights, ...result });
      log(`k ${k} weights ${weights.vector}:${weights.fulltext}:${weights.graph} → nDCG@10 ${result.ndcg10}`);
    }
  }
  process.stdout.write(`${JSON.stringify({ docs, queries: queries.length, backend: databaseUrl ? 'postgres' : 'pglite', embedder, single, fused })}\n`);
} finally {
  await app.close();
  if (schema) {
    const client = new pg.Client({ connectionString: databaseUrl });
    await client.connect();
    await client.query(`drop schema if exists ${schema} cascade`);
    await client.end();
  }
}
