/*
 * BEIR-format sets for the retrieval benchmarks (eval-rag.mjs, rag-fusion.mjs): reading
 * corpus.jsonl, queries.jsonl and qrels.tsv, ingesting the corpus, and scoring a ranking.
 * Metrics are per document: a document's rank is that of its best chunk.
 */
import { createReadStream, existsSync } from 'node:fs';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { ragIngest } from '../dist/src/operations/rag.js';

async function readJsonl(path) {
  const out = [];
  const lines = createInterface({ input: createReadStream(path), crlfDelay: Infinity });
  for await (const line of lines) if (line.trim()) out.push(JSON.parse(line));
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

/** {corpus, queries (judged only, at most limit), qrels}; exits 2 naming a missing file. */
export async function readBeir(dir, limit) {
  for (const file of ['corpus.jsonl', 'queries.jsonl', 'qrels.tsv']) {
    if (!existsSync(join(dir, file))) {
      process.stderr.write(`${join(dir, file)} is missing (a BEIR folder has corpus.jsonl, queries.jsonl, qrels.tsv)\n`);
      process.exit(2);
    }
  }
  const corpus = await readJsonl(join(dir, 'corpus.jsonl'));
  const qrels = await readQrels(join(dir, 'qrels.tsv'));
  let queries = (await readJsonl(join(dir, 'queries.jsonl'))).filter((q) => qrels.has(String(q._id)));
  if (limit) queries = queries.slice(0, Number(limit));
  return { corpus, queries, qrels };
}

/** Ingests the corpus in batches; returns {chunks, seconds, cpuSeconds}. */
export async function ingestCorpus(app, principal, collection, corpus, batchSize, log) {
  let chunks = 0;
  const cpuStart = process.cpuUsage();
  const started = performance.now();
  for (let i = 0; i < corpus.length; i += batchSize) {
    const documents = corpus.slice(i, i + batchSize).map((doc) => ({
      id: String(doc._id),
      text: doc.text || doc.title || '(empty)',
      ...(doc.title ? { title: String(doc.title) } : {}),
      ...(doc.metadata ? { metadata: doc.metadata } : {}),
    }));
    const result = await app.invoke(ragIngest, { collection, documents }, principal);
    chunks += result.chunks;
    for (const error of result.errors) log(`document ${error.id} not ingested: ${error.message}`);
    if ((i / batchSize) % 10 === 0) log(`ingested ${Math.min(i + batchSize, corpus.length)} / ${corpus.length} documents (${chunks} chunks)`);
  }
  const cpu = process.cpuUsage(cpuStart);
  return { chunks, seconds: (performance.now() - started) / 1000, cpuSeconds: (cpu.user + cpu.system) / 1e6 };
}

/** nDCG@K, recall@K and reciprocal rank of a ranking of document ids (best chunk first). */
export function scoreRanking(documentIds, judged, K) {
  const ranked = [];
  for (const id of documentIds) if (!ranked.includes(id)) ranked.push(id);
  const top = ranked.slice(0, K);
  let dcg = 0;
  top.forEach((id, index) => {
    const gain = judged.get(id) ?? 0;
    if (gain > 0) dcg += (2 ** gain - 1) / Math.log2(index + 2);
  });
  const ideal = [...judged.values()].filter((g) => g > 0).sort((a, b) => b - a).slice(0, K);
  const idcg = ideal.reduce((sum, gain, index) => sum + (2 ** gain - 1) / Math.log2(index + 2), 0);
  const relevant = [...judged.entries()].filter(([, g]) => g > 0).map(([id]) => id);
  const first = top.findIndex((id) => (judged.get(id) ?? 0) > 0);
  return {
    ndcg: idcg > 0 ? dcg / idcg : 0,
    recall: relevant.length ? top.filter((id) => relevant.includes(id)).length / relevant.length : 0,
    rr: first === -1 ? 0 : 1 / (first + 1),
  };
}
