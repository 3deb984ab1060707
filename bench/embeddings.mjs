#!/usr/bin/env node
/*
 * The ONNX embedder alone
 * =======================
 *   npm run build && node bench/embeddings.mjs [--threads 1,2] [--workers 1,2] [--chunks 96] [--model-dir DIR]
 * Embeds the license set's 99 queries one at a time (what a vector or hybrid query pays
 * before its SQL) and --chunks texts of 1,000 characters cut from its corpus (what ingest
 * pays per chunk): in process for each intra-op thread count (--threads), then as the server
 * runs the model, on worker threads of one ONNX Runtime thread each (--workers), the chunks
 * sent 16 at a time as the background embedding sends them. CPU time is the process's, all
 * threads: on a shared machine it says more than wall-clock time. Stdout: one JSON object.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { createOnnxEmbedder, DEFAULT_ONNX_MODEL_DIR } from '../dist/src/platform/embeddings/onnx-embedder.js';
import { createWorkerOnnxEmbedder } from '../dist/src/platform/embeddings/worker-onnx-embedder.js';
import { ROOT, percentile, round } from './lib.mjs';

const { values } = parseArgs({ options: { threads: { type: 'string', default: '1,2' }, workers: { type: 'string', default: '1,2' }, chunks: { type: 'string', default: '96' }, 'model-dir': { type: 'string' } } });
const modelDir = values['model-dir'] ?? process.env.EMBEDDINGS_MODEL_DIR ?? DEFAULT_ONNX_MODEL_DIR;
const set = join(ROOT, 'test', 'fixtures', 'licenses');
const lines = (file) => readFileSync(join(set, file), 'utf8').trim().split('\n').map((l) => JSON.parse(l));
const queries = lines('queries.jsonl').map((q) => q.text);
const chunks = [];
for (const doc of lines('corpus.jsonl')) {
  for (let at = 0; at + 1000 <= doc.text.length && chunks.length < Number(values.chunks); at += 5000) chunks.push(doc.text.slice(at, at + 1000));
}
const cpuMs = (since) => {
  const used = process.cpuUsage(since);
  return (used.user + used.system) / 1000;
};

/** The background embedding's batch (rag/embedding-backfill.ts). */
const BACKFILL_BATCH = 16;
const setups = [
  ...values.threads.split(',').map((threads) => ({ label: { threads: Number(threads) }, open: () => createOnnxEmbedder({ modelDir, threads: Number(threads) }) })),
  ...values.workers.split(',').map((workers) => ({ label: { workers: Number(workers) }, open: () => createWorkerOnnxEmbedder({ modelDir, workers: Number(workers) }) })),
];

const runs = [];
for (const { label, open } of setups) {
  const embedder = await open();
  // Every worker loads the model before the clock starts.
  await embedder.embed(Array.from({ length: label.workers ?? 1 }, () => 'warm up'));
  const latencies = [];
  let cpu = process.cpuUsage();
  for (const query of queries) {
    const started = performance.now();
    await embedder.embed([query]);
    latencies.push(performance.now() - started);
  }
  const queryCpu = cpuMs(cpu) / queries.length;
  cpu = process.cpuUsage();
  const started = performance.now();
  for (let at = 0; at < chunks.length; at += BACKFILL_BATCH) await embedder.embed(chunks.slice(at, at + BACKFILL_BATCH));
  const seconds = (performance.now() - started) / 1000;
  await embedder.close?.();
  runs.push({
    ...label,
    query: { count: queries.length, p50_ms: round(percentile(latencies, 50), 1), p95_ms: round(percentile(latencies, 95), 1), cpu_ms: round(queryCpu, 1) },
    chunks: { count: chunks.length, perSecond: round(chunks.length / seconds, 1), cpu_ms_each: round(cpuMs(cpu) / chunks.length, 1) },
  });
  process.stderr.write(`[embeddings] ${JSON.stringify(runs.at(-1))}\n`);
}
process.stdout.write(`${JSON.stringify({ embedder: (await createOnnxEmbedder({ modelDir })).id, runs })}\n`);
