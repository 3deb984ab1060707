#!/usr/bin/env node
/*
 * File ingestion benchmarks (after `npm run build`), printing one JSON document on stdout.
 *
 *   node bench/ingest-files.mjs [throughput] [incremental]     (both by default)
 *
 * throughput: 1,000 markdown files (about 2 KB each) ingested from a folder, against the
 *   baseline of the same texts sent inline to the engine's ingest in one batch (what
 *   rag_ingest does with 1,000 documents), on the embedded database (memory://). Rounds
 *   alternate inline, files, files, inline, each on a new database, so drift lands on both sides.
 *   Target: files ≥ 80% of inline throughput.
 * incremental: a folder of 10,000 small markdown files, ingested once into a PGlite data
 *   directory on disk, then re-run unchanged: in process (ingestFiles) and as the command a
 *   user runs (`mcp-level3 ingest`, process start and database open included), against the
 *   baseline of a plain walk + stat of the same tree. Target: the command ≤ 5 s.
 */
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { App } from '../dist/src/app.js';
import { createLogger } from '../dist/src/platform/log.js';
import { ingestFiles } from '../dist/src/engines/rag/sources/file-ingest.js';
import { CLI, log, median, round } from './lib.mjs';

const MAX_FILE_BYTES = 5 * 1024 * 1024;
const env = { ...process.env, DATABASE_URL: '', REDIS_URL: '', NEO4J_URI: '', EMBEDDINGS_PROVIDER: process.env.EMBEDDINGS_PROVIDER || 'offline' };

/** Deterministic pseudo-words, so every run indexes the same text. */
function makeText(seed, words) {
  let x = seed * 2654435761 % 4294967296 || 1;
  const next = () => (x = (x * 1664525 + 1013904223) % 4294967296) / 4294967296;
  const syllables = ['ka', 'lo', 'mi', 'ren', 'tas', 'vo', 'qui', 'dor', 'sel', 'um', 'pra', 'ne', 'zu', 'bel', 'fin', 'gar'];
  const word = () => Array.from({ length: 2 + Math.floor(next() * 3) }, () => syllables[Math.floor(next() * syllables.length)]).join('');
  const lines = [`# Note ${seed}`, ''];
  let line = [];
  for (let i = 0; i < words; i++) {
    line.push(word());
    if (line.length === 12) {
      lines.push(`${line.join(' ')}.`);
      line = [];
      if (next() < 0.2) lines.push('');
    }
  }
  if (line.length) lines.push(`${line.join(' ')}.`);
  return `${lines.join('\n')}\n`;
}

function writeTree(dir, count, words) {
  const texts = [];
  for (let i = 0; i < count; i++) {
    const folder = join(dir, `d${String(Math.floor(i / 100)).padStart(3, '0')}`);
    if (i % 100 === 0) mkdirSync(folder, { recursive: true });
    const text = makeText(i + 1, words);
    writeFileSync(join(folder, `n${String(i).padStart(5, '0')}.md`), text);
    texts.push({ id: `d${String(Math.floor(i / 100)).padStart(3, '0')}/n${String(i).padStart(5, '0')}.md`, text });
  }
  return texts;
}

function walkAndStat(dir) {
  let files = 0;
  const pending = [dir];
  while (pending.length) {
    const current = pending.pop();
    for (const entry of readdirSync(current, { withFileTypes: true })) {
      const path = join(current, entry.name);
      if (entry.isDirectory()) pending.push(path);
      else if (entry.isFile()) {
        statSync(path);
        files++;
      }
    }
  }
  return files;
}

async function openApp(dataDir) {
  const app = new App({ dataDir, env, logger: createLogger('silent') });
  const { engines } = await app.services();
  return { app, rag: engines.rag };
}

async function throughput() {
  const base = mkdtempSync(join(tmpdir(), 'bench-ingest-tp-'));
  try {
    const dir = join(base, 'docs');
    const texts = writeTree(dir, 1000, 300);
    const bytes = texts.reduce((sum, t) => sum + Buffer.byteLength(t.text), 0);
    const inlineDocs = texts.map(({ id, text }) => ({ id, text, title: text.slice(2, text.indexOf('\n')), mimeType: 'text/markdown' }));
    const rounds = [];
    // Each round on a new embedded database, so that neither side pays for the other's rows.
    for (const [index, kind] of ['inline', 'files', 'files', 'inline'].entries()) {
      const { app, rag } = await openApp('memory://');
      try {
        // Warm-up: the worker thread, the splitters and the SQL statements.
        await rag.ingest('warmup', inlineDocs.slice(0, 50));
        const collection = `${kind}-${index}`;
        const started = performance.now();
        const result = kind === 'inline' ? await rag.ingest(collection, inlineDocs) : await ingestFiles(rag, { collection, paths: [dir], maxFileBytes: MAX_FILE_BYTES });
        const seconds = (performance.now() - started) / 1000;
        const docs = result.ingested;
        rounds.push({ kind, seconds: round(seconds, 2), docs, chunks: result.chunks, docsPerSecond: round(docs / seconds, 1) });
        log(`throughput ${kind}: ${docs} docs in ${seconds.toFixed(2)} s`);
      } finally {
        await app.close();
      }
    }
    const total = (kind) => rounds.filter((r) => r.kind === kind).reduce((a, r) => ({ docs: a.docs + r.docs, seconds: a.seconds + r.seconds }), { docs: 0, seconds: 0 });
    const inline = total('inline');
    const files = total('files');
    const ratio = files.docs / files.seconds / (inline.docs / inline.seconds);
    return {
      files: texts.length,
      megabytes: round(bytes / 1024 / 1024, 2),
      rounds,
      inlineDocsPerSecond: round(inline.docs / inline.seconds, 1),
      filesDocsPerSecond: round(files.docs / files.seconds, 1),
      filesVsInline: round(ratio, 3),
      target: 'filesVsInline >= 0.8',
      pass: ratio >= 0.8,
    };
  } finally {
    rmSync(base, { recursive: true, force: true });
  }
}

async function incremental() {
  const base = mkdtempSync(join(tmpdir(), 'bench-ingest-inc-'));
  try {
    const dir = join(base, 'docs');
    const dataDir = join(base, 'data');
    writeTree(dir, 10_000, 25);
    log('incremental: first ingest of 10,000 files');
    const first = spawnSync(process.execPath, [CLI, 'ingest', dir, '--collection', 'notes', '--data-dir', dataDir], { env, encoding: 'utf8', maxBuffer: 64 * 1024 * 1024 });
    const firstSummary = JSON.parse(first.stdout);
    if (firstSummary.ingested !== 10_000) throw new Error(`first ingest: ${first.stdout}\n${first.stderr.slice(-2000)}`);

    const baseline = [];
    for (let i = 0; i < 3; i++) {
      const started = performance.now();
      walkAndStat(dir);
      baseline.push(performance.now() - started);
    }
    const cli = [];
    for (let i = 0; i < 3; i++) {
      const started = performance.now();
      const run = spawnSync(process.execPath, [CLI, 'ingest', dir, '--collection', 'notes', '--data-dir', dataDir], { env, encoding: 'utf8', maxBuffer: 64 * 1024 * 1024 });
      cli.push(performance.now() - started);
      const summary = JSON.parse(run.stdout);
      if (summary.unchanged !== 10_000) throw new Error(`re-run: ${run.stdout}`);
      log(`incremental: command re-run ${Math.round(cli.at(-1))} ms`);
    }
    const inProcess = [];
    const { app, rag } = await openApp(dataDir);
    try {
      for (let i = 0; i < 3; i++) {
        const started = performance.now();
        const summary = await ingestFiles(rag, { collection: 'notes', paths: [dir], maxFileBytes: MAX_FILE_BYTES });
        inProcess.push(performance.now() - started);
        if (summary.unchanged !== 10_000) throw new Error(`in-process re-run: ${JSON.stringify(summary)}`);
      }
    } finally {
      await app.close();
    }
    const commandMs = median(cli);
    return {
      files: 10_000,
      firstIngestSeconds: firstSummary.seconds,
      baselineWalkStatMs: round(median(baseline), 0),
      rerunInProcessMs: round(median(inProcess), 0),
      rerunCommandMs: round(commandMs, 0),
      rerunCommandRunsMs: cli.map((ms) => round(ms, 0)),
      inProcessVsBaseline: round(median(inProcess) / median(baseline), 1),
      target: 'rerunCommandMs <= 5000',
      pass: commandMs <= 5000,
    };
  } finally {
    rmSync(base, { recursive: true, force: true });
  }
}

const wanted = process.argv.slice(2);
const run = (name) => wanted.length === 0 || wanted.includes(name);
const report = { benchmark: 'ingest-files', at: new Date().toISOString(), loadAverageAtStart: loadavg().map((l) => round(l, 1)) };
if (run('throughput')) report.throughput = await throughput();
if (run('incremental')) report.incremental = await incremental();
report.loadAverageAtEnd = loadavg().map((l) => round(l, 1));
process.stdout.write(`${JSON.stringify(report, null, 2)}\n`);
process.exit(0);
