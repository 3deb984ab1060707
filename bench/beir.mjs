/*
 * BEIR-format sets for the retrieval benchmarks (eval-rag.mjs, rag-fusion.mjs): reading
 * corpus.jsonl, queries.jsonl and qrels.tsv, ingesting the corpus, and scoring a ranking.
 * Metrics are per document: a document's rank is that of its best chunk.
 */
import { createHash } from 'node:crypto';
import { createReadStream, existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { ragIngest } from '../dist/tools/rag.js';

/** One parsed object per non-empty line, streamed; a line that is not JSON is an error naming it. */
export async function* jsonLines(path) {
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

/** The set's documents, streamed; each call reads the file afresh. */
export function readCorpus(dir) {
  return jsonLines(join(dir, 'corpus.jsonl'));
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

/**
 * {corpus (streamed: an async iterable of documents), queries, queriesJudged, qrels}; exits 2
 * naming a missing file. Queries are the judged ones; `sample` keeps the N with the smallest
 * sha256(seed:id), the same ones on every run and backend; then at most `limit`.
 */
export async function readBeir(dir, { limit, sample, seed = '1' } = {}) {
  for (const file of ['corpus.jsonl', 'queries.jsonl', 'qrels.tsv']) {
    if (!existsSync(join(dir, file))) {
      process.stderr.write(`${join(dir, file)} is missing (a BEIR folder has corpus.jsonl, queries.jsonl, qrels.tsv)\n`);
      process.exit(2);
    }
  }
  const qrels = await readQrels(join(dir, 'qrels.tsv'));
  let queries = (await readJsonl(join(dir, 'queries.jsonl'))).filter((q) => qrels.has(String(q._id)));
  const queriesJudged = queries.length;
  if (sample) {
    const rank = (q) => createHash('sha256').update(`${seed}:${q._id}`).digest('hex');
    queries = queries
      .map((q) => ({ q, rank: rank(q) }))
      .sort((a, b) => (a.rank < b.rank ? -1 : a.rank > b.rank ? 1 : 0))
      .slice(0, Number(sample))
      .map(({ q }) => q);
  }
  if (limit) queries = queries.slice(0, Number(limit));
  return { corpus: readCorpus(dir), queries, queriesJudged, qrels };
}

/**
 * CPU seconds of the main thread alone (Linux: /proc/self/task/<pid>/stat, 10 ms ticks),
 * null elsewhere. process.cpuUsage() adds every thread's, worker threads included.
 */
function mainThreadCpuSeconds() {
  try {
    const stat = readFileSync(`/proc/self/task/${process.pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return (Number(fields[11]) + Number(fields[12])) / 100; // utime, stime (fields 14, 15)
  } catch {
    return null;
  }
}

/** Ingests documents (any iterable, e.g. a streamed corpus) in batches; returns {docs, chunks, seconds, cpuSeconds, mainThreadCpuSeconds}. */
export async function ingestCorpus(app, principal, collection, corpus, batchSize, log) {
  let chunks = 0;
  let docs = 0;
  let batches = 0;
  const cpuStart = process.cpuUsage();
  const mainCpuStart = mainThreadCpuSeconds();
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
  for await (const doc of corpus) {
    batch.push(doc);
    if (batch.length >= batchSize) {
      await ingestBatch(batch);
      batch = [];
    }
  }
  if (batch.length) await ingestBatch(batch);
  // Searchable by full text (and graph) from here; the vectors may still be computed in the
  // background (rag/embedding-backfill.ts): the measurement waits for them.
  const searchableSeconds = (performance.now() - started) / 1000;
  await (await app.services()).engines.rag.whenEmbedded(collection);
  const cpu = process.cpuUsage(cpuStart);
  const mainCpu = mainThreadCpuSeconds();
  return {
    docs,
    chunks,
    searchableSeconds,
    seconds: (performance.now() - started) / 1000,
    cpuSeconds: (cpu.user + cpu.system) / 1e6,
    mainThreadCpuSeconds: mainCpu === null || mainCpuStart === null ? null : mainCpu - mainCpuStart,
  };
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
