#!/usr/bin/env node
/*
 * Postings written in key order or as they come
 * =============================================
 *   npm run build && node bench/postings-order.mjs
 * The license set's text cut into ~700-character chunks, a posting per (term, chunk) as the
 * RAG engine writes them, 12 documents per COPY (the ingest's group); each group is copied
 * into two tables with rag_postings' primary key (collection_id, term, chunk_id), one in the
 * order the chunks give (term by term within each chunk) and one sorted by (term, chunk),
 * alternating which goes first, three times over (a collection each). PGlite in a temp dir.
 * Prints the wall and CPU ms spent in COPY for each order.
 */
import { readFileSync } from 'node:fs';
import { openPglite } from '../dist/src/platform/sql/pglite-adapter.js';
import { encodeCopyBinary } from '../dist/src/platform/sql/binary-copy.js';
import { removeDir, tempDir } from './lib.mjs';
const texts = readFileSync('test/fixtures/licenses/corpus.jsonl', 'utf8').trim().split('\n').map((l) => JSON.parse(l).text);
const batches = []; let chunkId = 0;
for (let d = 0; d < texts.length; d += 12) {
  const rows = [];
  for (const text of texts.slice(d, d + 12)) for (let at = 0; at < text.length; at += 700) {
    const tf = new Map(); const words = text.slice(at, at + 800).toLowerCase().match(/[a-z0-9]+/g) ?? [];
    for (const w of words) tf.set(w, (tf.get(w) ?? 0) + 1);
    chunkId++; for (const [term, n] of tf) rows.push({ term, chunkId, tf: n, dl: words.length });
  }
  batches.push(rows);
}
console.log('postings', batches.reduce((a, b) => a + b.length, 0), 'batches', batches.length);
const dir = tempDir('post'); const sql = await openPglite(dir, { sharedBuffersMb: 64 });
for (const t of ['pa', 'pb']) await sql.exec(`create table ${t} (collection_id int, term text, chunk_id int, tf int, dl int, primary key (collection_id, term, chunk_id))`);
const cmp = (a, b) => (a.term < b.term ? -1 : a.term > b.term ? 1 : a.chunkId - b.chunkId);
const ms = { pa: 0, pb: 0 }; const cpu = { pa: 0, pb: 0 };
for (let rep = 0; rep < 3; rep++) for (const [i, rows] of batches.entries()) for (const t of (i % 2 ? ['pa', 'pb'] : ['pb', 'pa'])) {
  const ordered = t === 'pb' ? [...rows].sort(cmp) : rows;
  const data = encodeCopyBinary(['int4', 'text', 'int4', 'int4', 'int4'], ordered.map((p) => [rep + 1, p.term, p.chunkId, p.tf, p.dl]));
  const c = process.cpuUsage(); const t0 = performance.now();
  await sql.copyBinary(t, ['collection_id', 'term', 'chunk_id', 'tf', 'dl'], data);
  ms[t] += performance.now() - t0; const d = process.cpuUsage(c); cpu[t] += (d.user + d.system) / 1000;
}
console.log('unsorted ms', Math.round(ms.pa), 'cpu', Math.round(cpu.pa), '| sorted ms', Math.round(ms.pb), 'cpu', Math.round(cpu.pb));
await sql.close(); removeDir(dir);
