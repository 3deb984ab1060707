import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RETRIEVAL_MODES } from '../../src/engines/rag/constants.js';
import { RagEngine, type IngestDocument } from '../../src/engines/rag/rag-engine.js';
import { createMemoryCache } from '../../src/platform/cache/memory-cache.js';
import { createEmbedders } from '../../src/platform/embeddings/embedder-set.js';
import { createOfflineEmbedder, type WeightedQueryEmbedder } from '../../src/platform/embeddings/offline-embedder.js';
import { createSqlGraphStore } from '../../src/platform/graph/sql-graph-store.js';
import { migrate } from '../../src/platform/sql/migrations.js';
import { openPglite } from '../../src/platform/sql/pglite-adapter.js';
import type { SqlPort } from '../../src/platform/sql/sql-port.js';
import { silentLogger } from '../helpers/backends.js';

const licenses: IngestDocument[] = readFileSync(new URL('../fixtures/licenses/corpus.jsonl', import.meta.url), 'utf8')
  .trim()
  .split('\n')
  .slice(0, 40)
  .map((line) => JSON.parse(line) as { _id: string; title: string; text: string; metadata?: Record<string, unknown> })
  .map((doc) => ({ id: doc._id, title: doc.title, text: doc.text, mimeType: 'text/plain', ...(doc.metadata ? { metadata: doc.metadata } : {}) }));

const QUERIES = ['distribution of source code with modifications', 'patent license terminates on litigation', 'Free Software Foundation', 'no warranty, provided as is'];

async function openEngine(embedder: WeightedQueryEmbedder): Promise<{ engine: RagEngine; sql: SqlPort }> {
  const sql = await openPglite(undefined);
  await migrate(sql);
  const settings = {
    chunkSize: 1000,
    chunkOverlap: 150,
    weights: { fulltext: 1, graph: 0.1 },
    fusion: 'convex' as const,
    rrfK: 10,
    efSearch: 100,
    cacheTtlSeconds: 60,
    maxDocumentBytes: 5 * 1024 * 1024,
  };
  const engine = new RagEngine(sql, createMemoryCache({ maxSize: 1000, ttlSeconds: 60 }), createEmbedders(embedder), settings, silentLogger, { store: createSqlGraphStore(sql) });
  return { engine, sql };
}

describe('ingest with vectors computed while preparing and after the write', () => {
  // The offline embedder's vectors are computed with the rest of the preparation. The same
  // embedder behind a port of its own that asks for background embedding (as the local model
  // does) has its engine write chunks without vectors and compute them afterwards.
  const offline = createOfflineEmbedder();
  const delegating: WeightedQueryEmbedder = {
    id: offline.id,
    background: true,
    dimensions: () => offline.dimensions(),
    embed: (texts, signal) => offline.embed(texts, signal),
    embedQuery: (text, termWeight) => offline.embedQuery(text, termWeight),
  };
  let threaded: { engine: RagEngine; sql: SqlPort };
  let local: { engine: RagEngine; sql: SqlPort };

  beforeAll(async () => {
    [threaded, local] = await Promise.all([openEngine(offline), openEngine(delegating)]);
  });
  afterAll(async () => {
    for (const { engine, sql } of [threaded, local]) {
      await engine?.close();
      await sql?.close();
    }
  });

  it('ingests the same and answers every query the same in every mode', async () => {
    const [a, b] = [await threaded.engine.ingest('licenses', licenses), await local.engine.ingest('licenses', licenses)];
    expect(a).toEqual(b);
    expect(a).toMatchObject({ ingested: licenses.length, errors: [] });
    await local.engine.whenEmbedded('licenses');
    expect(await local.engine.embeddingStatus('licenses')).toEqual({ pending: 0 });
    for (const mode of RETRIEVAL_MODES) {
      for (const query of QUERIES) {
        const [x, y] = [await threaded.engine.query({ collection: 'licenses', query, mode, topK: 10 }), await local.engine.query({ collection: 'licenses', query, mode, topK: 10 })];
        expect(x.hits.length, `${mode}: ${query}`).toBeGreaterThan(0);
        expect(x, `${mode}: ${query}`).toEqual(y);
      }
    }
  });

  it('reports documents that cannot be ingested by id, in order, and ingests the rest', async () => {
    const documents: IngestDocument[] = [
      { id: 'empty', text: '<p> </p>', mimeType: 'text/html' },
      { id: 'fine', text: 'Quince marmalade clauses.', mimeType: 'text/plain' },
      { id: 'huge', text: 'x'.repeat(6 * 1024 * 1024), mimeType: 'text/plain' },
    ];
    const result = await threaded.engine.ingest('mixed', documents);
    expect(result).toMatchObject({ ingested: 1, chunks: 1 });
    expect(result.errors).toEqual([
      { id: 'empty', message: 'text: the document has no indexable text' },
      { id: 'huge', message: expect.stringContaining('over the 5.0 MiB limit') },
    ]);
    expect((await threaded.engine.query({ collection: 'mixed', query: 'marmalade', mode: 'fulltext', topK: 5 })).hits.map((h) => h.documentId)).toEqual(['fine']);
  });

  it('stops at cancellation after the group being written, with progress up to there', async () => {
    const controller = new AbortController();
    const reported: number[] = [];
    const documents = licenses.slice(0, 30).map((doc) => ({ ...doc, id: `cancel-${doc.id}` }));
    const result = await threaded.engine.ingest('cancelled', documents, {
      signal: controller.signal,
      progress: async (done) => {
        reported.push(done);
        controller.abort();
      },
    });
    // 30 documents go in groups of 3: the first is written, the other 27 are not.
    expect(reported).toEqual([3]);
    expect(result).toMatchObject({ ingested: 3, skipped: 0 });
    expect(result.errors).toHaveLength(27);
    expect(result.errors.every((e) => e.message === 'not ingested: the request was cancelled')).toBe(true);
    const stored = await threaded.sql.query<{ id: string }>("select id from rag_documents where collection = 'cancelled' order by id");
    expect(stored.rows.map((r) => r.id)).toEqual(
      documents
        .slice(0, 3)
        .map((d) => d.id)
        .sort(),
    );
  });
});
