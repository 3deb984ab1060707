import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { AnyOperation } from '../../src/surface/operation.js';
import { createPglite } from '../../src/platform/sql/pglite-adapter.js';
import { ragCollections, ragDelete, ragIngest, ragQuery } from '../../tools/rag.js';
import { ADMIN, appBackends, startTestApp, title, type TestApp } from '../helpers/backends.js';
import { failure } from '../helpers/failures.js';

const DOCS = [
  {
    id: 'agpl',
    title: 'GNU Affero General Public License v3',
    text: 'Remote Network Interaction. If you modify the Program, your modified version must prominently offer all users interacting with it remotely through a computer network an opportunity to receive the Corresponding Source of your version.',
    metadata: { family: 'GPL' },
  },
  {
    id: 'apache',
    title: 'Apache License 2.0',
    mimeType: 'text/markdown',
    text: '# Apache License\n\n## 3. Grant of Patent License\n\nIf You institute patent litigation against any entity alleging that the Work constitutes direct or contributory patent infringement, then any patent licenses granted to You under this License for that Work shall terminate.',
    metadata: { family: 'Apache' },
  },
  {
    id: 'mit',
    title: 'MIT License',
    text: 'Permission is hereby granted, free of charge, to any person obtaining a copy of this software, to deal in the Software without restriction. THE SOFTWARE IS PROVIDED "AS IS", WITHOUT WARRANTY OF ANY KIND.',
    metadata: { family: 'MIT' },
  },
  {
    id: 'zlib',
    title: 'zlib License',
    mimeType: 'text/html',
    text: '<h1>zlib License</h1><p>Altered source versions must be plainly marked as such, and must not be misrepresented as being the original software.</p><p>This notice may not be removed &amp; altered.</p>',
    metadata: { family: 'other' },
  },
];

for (const backend of appBackends()) {
  describe.skipIf(backend.skip)(`rag operations on ${title(backend)}`, () => {
    let t: TestApp;
    const call = <O extends AnyOperation>(op: O, args: unknown) => t.app.invoke(op, args, ADMIN);

    beforeAll(async () => {
      t = await startTestApp(backend);
      await call(ragIngest, { collection: 'licenses', documents: DOCS });
    });
    afterAll(async () => t?.close());

    it('creates the collection on first ingest and reports counts and the embedder', async () => {
      const { collections } = await call(ragCollections, {});
      expect(collections).toEqual([expect.objectContaining({ name: 'licenses', documents: 4, embedder: 'offline-hash-768@2' })]);
      expect(collections[0]!.chunks).toBeGreaterThanOrEqual(4);
    });

    it('skips unchanged documents and replaces a changed one atomically', async () => {
      const again = await call(ragIngest, { collection: 'licenses', documents: DOCS });
      expect(again).toMatchObject({ ingested: 0, skipped: 4, chunks: 0, errors: [] });
      const changed = await call(ragIngest, { collection: 'licenses', documents: [{ ...DOCS[2]!, text: `${DOCS[2]!.text} The above copyright notice shall be included in all copies.` }] });
      expect(changed).toMatchObject({ ingested: 1, skipped: 0 });
      const hits = (await call(ragQuery, { collection: 'licenses', query: 'copyright notice included in all copies', mode: 'fulltext', topK: 10 })).hits;
      expect(hits.filter((h) => h.documentId === 'mit')).toHaveLength(1);
      expect((await call(ragCollections, {})).collections[0]!.documents).toBe(4);
    });

    it('ranks with BM25 in fulltext mode', async () => {
      const { hits } = await call(ragQuery, { collection: 'licenses', query: 'patent litigation terminates licenses', mode: 'fulltext', topK: 3 });
      expect(hits[0]!.documentId).toBe('apache');
      expect(hits[0]!.retrievers).toEqual({ fulltext: 1 });
      expect(hits.every((h, i) => i === 0 || h.score <= hits[i - 1]!.score)).toBe(true);
    });

    it('finds morphological variants in vector mode', async () => {
      const { hits } = await call(ragQuery, { collection: 'licenses', query: 'modifications offered to remote network users', mode: 'vector', topK: 2 });
      expect(hits[0]!.documentId).toBe('agpl');
      expect(hits[0]!.score).toBeGreaterThan(0);
    });

    it('fuses both retrievers in hybrid mode, with ranks and citations', async () => {
      const { hits } = await call(ragQuery, { collection: 'licenses', query: 'altered source versions plainly marked', topK: 4 });
      expect(hits[0]).toMatchObject({ documentId: 'zlib', retrievers: { fulltext: 1, vector: 1 } });
      const zlib = DOCS[3]!.text;
      const { start, end } = hits[0]!.citation;
      expect(zlib.slice(start, end)).toContain('Altered source versions');
      expect(hits[0]!.text).not.toContain('<p>');
      expect(hits[0]!.citation.title).toBe('zlib License');
    });

    it('weighs the offline embedder’s vector list at half of BM25’s in hybrid unless RAG_VECTOR_WEIGHT is set', async () => {
      const hybridHits = async (env: Record<string, string>) => {
        const app = await startTestApp(backend, { env });
        try {
          await app.app.invoke(ragIngest, { collection: 'weights', documents: DOCS }, ADMIN);
          const { hits } = await app.app.invoke(ragQuery, { collection: 'weights', query: 'software altered and marked as such', topK: 4 }, ADMIN);
          return hits.map((h) => ({ chunkId: h.chunkId, score: h.score }));
        } finally {
          await app.close();
        }
      };
      const byDefault = await hybridHits({});
      expect(byDefault.length).toBeGreaterThan(1);
      expect(byDefault).toEqual(await hybridHits({ RAG_VECTOR_WEIGHT: '0.5' }));
      expect(byDefault).not.toEqual(await hybridHits({ RAG_VECTOR_WEIGHT: '1' }));
    });

    it('filters by metadata without losing the matches', async () => {
      const { hits } = await call(ragQuery, { collection: 'licenses', query: 'software license', topK: 10, filter: { family: 'GPL' } });
      expect(hits.map((h) => h.documentId)).toEqual(['agpl']);
    });

    it('says what to change for bad queries', async () => {
      expect((await failure(call(ragQuery, { collection: 'licenses', query: '  ' }))).message).toContain('query: is empty');
      expect((await failure(call(ragQuery, { collection: 'licenses', query: 'x', topK: 0 }))).message).toContain('topK: expected 1-100');
      expect((await failure(call(ragQuery, { collection: 'nope', query: 'x' }))).message).toContain('no collection "nope"');
      expect((await failure(call(ragQuery, { collection: 'licenses', query: 'x', top_k: 1 }))).message).toBe('unknown argument `top_k`; did you mean `topK`?');
      expect((await failure(call(ragQuery, { collection: 'licenses', query: 'x', filter: { famly: 'GPL' } }))).message).toContain('fields present: "family"');
      expect((await failure(call(ragIngest, { collection: 'licenses', documents: [{ id: 'x', text: 'y', mimeType: 'application/pdf' }] }))).message).toContain('expected one of text/plain, text/markdown, text/html');
    });

    it('reports a failing document by id and ingests the rest of the batch', async () => {
      const small = await startTestApp(backend, { env: { RAG_MAX_DOCUMENT_BYTES: '64' } });
      try {
        const documents = [
          { id: 'big', text: 'x '.repeat(100) },
          { id: 'ok', text: 'fine and short' },
          { id: 'tags-only', text: '<p> </p>', mimeType: 'text/html' },
        ];
        const result = await small.app.invoke(ragIngest, { collection: 'mixed', documents }, ADMIN);
        expect(result).toMatchObject({
          ingested: 1,
          errors: [
            { id: 'big', message: expect.stringContaining('maxDocumentBytes') },
            { id: 'tags-only', message: 'text: the document has no indexable text' },
          ],
        });
        expect((await small.app.invoke(ragQuery, { collection: 'mixed', query: 'fine', mode: 'fulltext' }, ADMIN)).hits.map((h) => h.documentId)).toEqual(['ok']);
      } finally {
        await small.close();
      }
    });

    it('ingests a 3 MB document in one piece', async () => {
      const words = ['licence', 'patent', 'source', 'network', 'remote', 'grant', 'notice', 'warranty'];
      const parts: string[] = [];
      let length = 0;
      for (let i = 0; length < 3_000_000; i++) {
        const sentence = `${words[i % 8]}${i} ${words[(i * 3) % 8]} clause ${i % 997}. `;
        parts.push(sentence);
        length += sentence.length;
      }
      const result = await call(ragIngest, { collection: 'large', documents: [{ id: 'large', text: parts.join('') }] });
      expect(result).toMatchObject({ ingested: 1, errors: [] });
      expect(result.chunks).toBeGreaterThan(1000);
      const { hits } = await call(ragQuery, { collection: 'large', query: 'patent12345', mode: 'fulltext', topK: 1 });
      expect(hits[0]!.text).toContain('patent12345');
    });

    it('leaves no collection behind when every document of its first batch fails', async () => {
      // PostgreSQL refuses the NUL character in text when the document is written.
      const result = await call(ragIngest, { collection: 'never', documents: [{ id: 'nul', text: 'a text with a \u0000 in it' }] });
      expect(result).toMatchObject({ ingested: 0, errors: [{ id: 'nul', message: expect.stringContaining('NUL character') }] });
      expect((await call(ragCollections, {})).collections.map((c) => c.name)).not.toContain('never');
    });

    it('stores the rest of a group when one document fails on write, and leaves nothing of it', async () => {
      // 20 documents are written in groups of 2; the second "twice" breaks the documents' key
      // inside the first group, which is written at once.
      const documents = [
        { id: 'twice', text: 'marmalade clauses first' },
        { id: 'twice', text: 'quince clauses again' },
        ...Array.from({ length: 18 }, (_, i) => ({ id: `other-${i}`, text: `marmalade clauses number ${i}` })),
      ];
      const result = await call(ragIngest, { collection: 'groups', documents });
      expect(result).toMatchObject({ ingested: 19, chunks: 19, errors: [{ id: 'twice', message: expect.stringContaining('same batch has this id') }] });
      const { hits } = await call(ragQuery, { collection: 'groups', query: 'marmalade quince first', mode: 'fulltext', topK: 30 });
      expect(hits).toHaveLength(19);
      expect(hits[0]!.text).toBe('marmalade clauses first');
      expect(hits.some((h) => h.text.includes('quince'))).toBe(false);
      expect((await call(ragCollections, {})).collections.find((c) => c.name === 'groups')).toMatchObject({ documents: 19, chunks: 19 });
    });

    it('uses the HNSW index for collections over the exact-scan size, with filters', async () => {
      const indexed = await startTestApp(backend, { env: { RAG_EXACT_SCAN_MAX_CHUNKS: '0', RAG_VECTOR_INDEX_QUIET_MS: '0' } });
      try {
        await indexed.app.invoke(ragIngest, { collection: 'indexed', documents: DOCS }, ADMIN);
        const { sql, engines } = await indexed.app.services();
        await engines.rag.whenVectorIndexesBuilt(); // PGlite builds it in the background
        // On a table this small the planner prefers scanning and sorting; forbid both to see the index is usable.
        const plan = await sql.transaction(async (tx) => {
          await tx.query('set local enable_seqscan = off');
          await tx.query('set local enable_sort = off');
          const { rows } = await tx.query<Record<string, string>>(
            "explain select id from rag_chunks where collection = 'indexed' order by embedding::vector(768) <=> (select embedding from rag_chunks limit 1)::vector limit 3",
          );
          return rows.map((r) => Object.values(r)[0]).join('\n');
        });
        expect(plan).toMatch(/Index Scan using rag_hnsw_/);
        const { hits } = await indexed.app.invoke(ragQuery, { collection: 'indexed', query: 'modifications offered to remote network users', mode: 'vector', topK: 2 }, ADMIN);
        expect(hits[0]!.documentId).toBe('agpl');
        const filtered = await indexed.app.invoke(ragQuery, { collection: 'indexed', query: 'software', mode: 'vector', topK: 10, filter: { family: 'other' } }, ADMIN);
        expect(filtered.hits.map((h) => h.documentId)).toEqual(['zlib']);
      } finally {
        await indexed.close();
      }
    });

    // PGlite only: PostgreSQL keeps its index from the start.
    if (!backend.databaseUrl) {
      it('builds the vector index of a grown collection once ingestion pauses, ranking the same before and after', async () => {
        const dataDir = mkdtempSync(join(tmpdir(), 'rag-index-'));
        const queries = ['modifications offered to remote network users', 'patent litigation', 'software without warranty'];
        const ranking = async (app: TestApp['app']) =>
          Promise.all(queries.map(async (query) => (await app.invoke(ragQuery, { collection: 'grown', query, mode: 'vector', topK: 4 }, ADMIN)).hits.map((h) => [h.documentId, h.score.toFixed(4)])));
        const hasIndex = async (app: TestApp['app']) => {
          const { sql } = await app.services();
          return (await sql.query("select 1 from pg_indexes where tablename = 'rag_chunks' and indexname like 'rag_hnsw_%'")).rows.length > 0;
        };
        try {
          // Created here: the server would create it in a child process running the built module.
          await (await createPglite(join(dataDir, 'pgdata'))).close();
          // A quiet period longer than the test: the index waits, and close() cancels it.
          const first = await startTestApp(backend, { dataDir, env: { RAG_EXACT_SCAN_MAX_CHUNKS: '2', RAG_VECTOR_INDEX_QUIET_MS: '600000' } });
          let exact: string[][][];
          try {
            await first.app.invoke(ragIngest, { collection: 'grown', documents: DOCS }, ADMIN);
            expect(await hasIndex(first.app)).toBe(false);
            exact = await ranking(first.app);
            expect(exact[0]![0]![0]).toBe('agpl');
          } finally {
            await first.close();
          }
          // After a restart the first query finds the index missing and asks for it.
          const second = await startTestApp(backend, { dataDir, env: { RAG_EXACT_SCAN_MAX_CHUNKS: '2', RAG_VECTOR_INDEX_QUIET_MS: '0' } });
          try {
            expect(await ranking(second.app)).toEqual(exact);
            await (await second.app.services()).engines.rag.whenVectorIndexesBuilt();
            expect(await hasIndex(second.app)).toBe(true);
            expect(await ranking(second.app)).toEqual(exact);
          } finally {
            await second.close();
          }
        } finally {
          rmSync(dataDir, { recursive: true, force: true });
        }
      });
    }

    it('ranks exactly like plain BM25 when frequent terms are scored last', async () => {
      const words = ['alpha', 'beta'];
      const documents = Array.from({ length: 1500 }, (_, i) => ({
        id: `g${i}`,
        text: `${words[i % 2]} ${'filler '.repeat(i % 7)} rare${i % 30} tail${i % 11}`,
      }));
      for (let i = 0; i < documents.length; i += 500) await call(ragIngest, { collection: 'bm25', documents: documents.slice(i, i + 500) });
      const { sql } = await t.app.services();
      const query = `alpha ${Array.from({ length: 30 }, (_, i) => `rare${i}`).join(' ')}`;
      // Oracle: BM25 over every posting, straight from the tables.
      const { rows } = await sql.query<{ document_id: string }>(
        `with s as (select id, chunk_count::float8 as n, token_total::float8 / chunk_count as avgdl from rag_collections where name = 'bm25'),
              q as (select term, ln(1 + (s.n - df + 0.5) / (df + 0.5)) as idf from rag_term_stats, s where collection_id = s.id and term = any($1::text[]))
         select c.document_id from q join rag_postings p on p.term = q.term join rag_chunks c on c.id = p.chunk_id, s where p.collection_id = s.id
         group by c.document_id, p.chunk_id order by sum(q.idf * p.tf * 2.2 / (p.tf + 1.2 * (0.25 + 0.75 * p.dl / s.avgdl))) desc, p.chunk_id limit 10`,
        [['alpha', ...Array.from({ length: 30 }, (_, i) => `rare${i}`)]],
      );
      const { hits } = await call(ragQuery, { collection: 'bm25', query, mode: 'fulltext', topK: 10 });
      expect(hits.map((h) => h.documentId)).toEqual(rows.map((r) => r.document_id));
    });

    it('scores as a fresh ingest would after documents of one batch are replaced and deleted', async () => {
      const text = (i: number, v = 0) => `alpha ${'beta '.repeat(i % 3)} gamma${i % 5} delta${v} ${'filler '.repeat(i % 4)}`;
      const batch = Array.from({ length: 12 }, (_, i) => ({ id: `d${i}`, text: text(i) }));
      await call(ragIngest, { collection: 'edited', documents: batch });
      await call(ragIngest, { collection: 'edited', documents: [{ id: 'd3', text: text(3, 1) }, { id: 'd7', text: text(7, 1) }] });
      // Groups of two documents here: d4 and d5 are a whole group, d0 and d6 half of one.
      await call(ragDelete, { collection: 'edited', documentIds: ['d0', 'd4', 'd5', 'd6'] });
      const remaining = batch.filter((d) => !['d0', 'd4', 'd5', 'd6'].includes(d.id)).map((d) => (['d3', 'd7'].includes(d.id) ? { ...d, text: text(Number(d.id.slice(1)), 1) } : d));
      await call(ragIngest, { collection: 'fresh', documents: remaining });
      for (const query of ['alpha beta delta1', 'gamma2 filler', 'delta0 beta']) {
        for (const topK of [3, 20]) {
          const scores = async (collection: string) =>
            (await call(ragQuery, { collection, query, mode: 'fulltext', topK })).hits.map((h) => [h.documentId, h.score.toFixed(9)]);
          const edited = await scores('edited');
          expect(edited.length).toBeGreaterThan(0);
          expect(edited).toEqual(await scores('fresh'));
        }
      }
    });

    it('spreads near-duplicates out of the top k with diversity (MMR), and ranks as before without it', async () => {
      const clause = 'If You institute patent litigation against any entity, the patent licenses granted to You under this License terminate';
      const documents = [
        ...['2019', '2020', '2021', '2022'].map((year) => ({ id: `copy-${year}`, text: `${clause} as of ${year}.` })),
        { id: 'grant', text: 'Each Contributor grants You a patent license to make, use and sell the Work; litigation ends it.' },
        { id: 'notice', text: 'You must retain all copyright, patent and trademark notices in the Source form of the Work.' },
        { id: 'warranty', text: 'The Work is provided without warranty; no Contributor is liable for damages from litigation.' },
      ];
      await call(ragIngest, { collection: 'dupes', documents });
      const query = 'patent litigation terminates the license';
      for (const mode of ['hybrid', 'vector', 'fulltext'] as const) {
        const plain = (await call(ragQuery, { collection: 'dupes', query, mode, topK: 3 })).hits.map((h) => h.documentId);
        expect(plain.every((id) => id.startsWith('copy-'))).toBe(true);
        expect((await call(ragQuery, { collection: 'dupes', query, mode, topK: 3, diversity: 0 })).hits.map((h) => h.documentId)).toEqual(plain);
        // The best passage stays first; its copies give way to other passages.
        const spread = (await call(ragQuery, { collection: 'dupes', query, mode, topK: 3, diversity: 0.8 })).hits.map((h) => h.documentId);
        expect(spread[0]).toBe(plain[0]);
        expect(spread.filter((id) => id.startsWith('copy-'))).toEqual([plain[0]]);
        expect(new Set(spread).size).toBe(3);
      }
      for (const diversity of [1.5, -0.1]) {
        expect((await failure(call(ragQuery, { collection: 'dupes', query, diversity }))).message).toContain('diversity: expected 0-1 (0 off)');
      }
      expect((await failure(call(ragQuery, { collection: 'dupes', query, diversity: 'high' }))).message).toContain('diversity');
    });

    it('stops at a cancelled request and reports the documents it did not ingest', async () => {
      const controller = new AbortController();
      controller.abort();
      const result = await t.app.invoke(ragIngest, { collection: 'licenses', documents: [{ id: 'late', text: 'never stored' }] }, { ...ADMIN, signal: controller.signal });
      expect(result).toMatchObject({ ingested: 0, errors: [{ id: 'late', message: expect.stringContaining('cancelled') }] });
      expect((await call(ragQuery, { collection: 'licenses', query: 'never stored', mode: 'fulltext' })).hits.map((h) => h.documentId)).not.toContain('late');
    });

    it('deletes by id and by filter, and deleted text is no longer found', async () => {
      expect(await call(ragDelete, { collection: 'licenses', filter: { family: 'Apache' } })).toEqual({ deleted: 1 });
      expect((await call(ragQuery, { collection: 'licenses', query: 'patent litigation', mode: 'fulltext' })).hits.map((h) => h.documentId)).not.toContain('apache');
      expect(await call(ragDelete, { collection: 'licenses', documentIds: ['mit', 'missing'] })).toEqual({ deleted: 1 });
      expect((await call(ragCollections, {})).collections.find((c) => c.name === 'licenses')!.documents).toBe(2);
    });
  });
}
