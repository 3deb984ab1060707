#!/usr/bin/env node
/*
 * Hybrid fusion replayed from dumped retriever lists
 * ==================================================
 *   npm run build && node bench/fusion-replay.mjs DUMP... [--methods convex,rrf] [--k 10,60]
 *     [--weights 1:1:0.25,0.5:1:0.1,...] [--top-k 10]
 * DUMP is a file written by `bench/rag-fusion.mjs --dump` (each query's fulltext, vector and
 * graph lists at hybrid's depth, with the qrels), so trying a fusion takes seconds and no
 * database. Each (method, weights vector:fulltext:graph[, k for rrf]) fuses the lists with the
 * engine's own fuse() from dist/src/engines/rag/fusion.js and is scored like eval-rag.mjs
 * (per document: a document ranks at its best chunk; the top 3 × topK hits, at most 100).
 * The last stdout line is one JSON object:
 *   {sets: [{dump, embedder, docs, queries, single: {fulltext, vector, graph}, fused: [{method, k?, weights, ndcg10, recall10, mrr10, vsFulltext}]}]}
 */
import { createReadStream } from 'node:fs';
import { createInterface } from 'node:readline';
import { parseArgs } from 'node:util';
import { fuse } from '../dist/src/engines/rag/fusion.js';
import { scoreRanking } from './beir.mjs';

const { values, positionals } = parseArgs({
  allowPositionals: true,
  options: {
    methods: { type: 'string', default: 'convex,rrf' },
    k: { type: 'string', default: '10' },
    weights: { type: 'string', default: '1:1:0,1:1:0.25,0.5:1:0,0.5:1:0.1,0.7:1:0.1' },
    'top-k': { type: 'string', default: '10' },
  },
});
if (positionals.length === 0) {
  process.stderr.write('fusion-replay: name at least one dump file (written by bench/rag-fusion.mjs --dump FILE)\n');
  process.exit(2);
}
const K = Number(values['top-k']);
const HITS = Math.min(100, K * 3);
const RETRIEVERS = ['vector', 'fulltext', 'graph'];
const round = (x) => Number(x.toFixed(4));
const weightSets = values.weights.split(',').map((w) => Object.fromEntries(w.split(':').map((x, i) => [RETRIEVERS[i], Number(x)])));
const configs = values.methods
  .split(',')
  .flatMap((method) => (method === 'rrf' ? values.k.split(',').map((k) => ({ method, k: Number(k) })) : [{ method }]))
  .flatMap((c) => weightSets.map((weights) => ({ ...c, weights })));

async function readDump(path) {
  const lines = createInterface({ input: createReadStream(path), crlfDelay: Infinity });
  let header;
  const runs = [];
  for await (const line of lines) {
    if (!line.trim()) continue;
    const object = JSON.parse(line);
    if (object.dump) header = object;
    else runs.push({ lists: object.lists, judged: new Map(Object.entries(object.qrels)) });
  }
  if (!header) throw new Error(`${path}: no header line; write it with bench/rag-fusion.mjs --dump`);
  return { header, runs };
}

function evaluate(runs, rank) {
  const sum = { ndcg: 0, recall: 0, rr: 0 };
  for (const run of runs) {
    const s = scoreRanking(rank(run).slice(0, HITS), run.judged, K);
    sum.ndcg += s.ndcg;
    sum.recall += s.recall;
    sum.rr += s.rr;
  }
  const n = runs.length || 1;
  return { ndcg10: round(sum.ndcg / n), recall10: round(sum.recall / n), mrr10: round(sum.rr / n) };
}

const sets = [];
for (const path of positionals) {
  const { header, runs } = await readDump(path);
  for (const run of runs) run.docOf = new Map(Object.values(run.lists).flatMap((items) => items.map((i) => [i.chunk, i.doc])));
  const single = Object.fromEntries(RETRIEVERS.map((r) => [r, evaluate(runs, (run) => (run.lists[r] ?? []).map((i) => i.doc))]));
  const fused = configs.map(({ method, k, weights }) => {
    const result = evaluate(runs, (run) => {
      const lists = RETRIEVERS.filter((r) => weights[r] > 0 && run.lists[r]?.length).map((r) => ({
        retriever: r,
        weight: weights[r],
        items: run.lists[r].map((i) => ({ id: i.chunk, score: i.score })),
      }));
      return fuse(lists, { method, rrfK: k ?? 10 }).map((f) => run.docOf.get(f.id));
    });
    return { method, ...(k ? { k } : {}), weights, ...result, vsFulltext: round(result.ndcg10 - single.fulltext.ndcg10) };
  });
  for (const f of fused) process.stderr.write(`[fusion-replay] ${path}: ${f.method}${f.k ? ` k ${f.k}` : ''} ${RETRIEVERS.map((r) => f.weights[r]).join(':')} → nDCG@10 ${f.ndcg10} (${f.vsFulltext >= 0 ? '+' : ''}${f.vsFulltext})\n`);
  sets.push({ dump: path, embedder: header.embedder, docs: header.docs, queries: runs.length, single, fused });
}
process.stdout.write(`${JSON.stringify({ sets })}\n`);
