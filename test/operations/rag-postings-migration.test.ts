/*
 * A database written by a build before migration 8 (one postings row per term and chunk)
 * keeps its rankings once postings move into blocks, and its documents can still be
 * replaced and deleted.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { App, type AppOptions } from '../../src/app.js';
import type { AnyOperation } from '../../src/operations/operation.js';
import { ragDelete, ragIngest, ragQuery } from '../../src/operations/rag.js';
import { migrate, MIGRATIONS } from '../../src/platform/sql/migrations.js';
import { createPglite } from '../../src/platform/sql/pglite-adapter.js';
import { openPostgres } from '../../src/platform/sql/postgres-adapter.js';
import type { SqlPort } from '../../src/platform/sql/sql-port.js';
import { ADMIN, DATABASE_URL, dropSchema, silentLogger, uniqueId } from '../helpers/backends.js';

/** Three chunks as the old engine stored them: analyzer terms, term frequencies, lengths. */
const CHUNKS = [
  { document: 'a', text: 'alpha beta beta', tf: { alpha: 1, beta: 2 } },
  { document: 'a', text: 'gamma alpha', tf: { gamma: 1, alpha: 1 } },
  { document: 'b', text: 'beta gamma gamma delta', tf: { beta: 1, gamma: 2, delta: 1 } },
];

async function writeVersion7Data(sql: SqlPort): Promise<void> {
  await migrate(sql, MIGRATIONS.filter((m) => m.version <= 7));
  const tokens = (tf: Record<string, number | undefined>) => Object.values(tf).reduce<number>((a, b) => a + (b ?? 0), 0);
  await sql.query("insert into rag_collections (name, embedder, dimensions, document_count, chunk_count, token_total) values ('old', 'offline-hash-768@2', 768, 2, 3, $1)", [
    CHUNKS.reduce((sum, c) => sum + tokens(c.tf), 0),
  ]);
  for (const id of ['a', 'b']) {
    const text = CHUNKS.filter((c) => c.document === id).map((c) => c.text).join('\n');
    await sql.query("insert into rag_documents (collection, id, mime_type, content_hash, text, chunk_count) values ('old', $1, 'text/plain', $2, $3, $4)", [
      id,
      `hash-${id}`,
      text,
      CHUNKS.filter((c) => c.document === id).length,
    ]);
  }
  const vector = `[${Array.from({ length: 768 }, (_, i) => (i === 0 ? 1 : 0)).join(',')}]`;
  const df = new Map<string, number>();
  for (const [ordinal, chunk] of CHUNKS.entries()) {
    const { rows } = await sql.query<{ id: number }>(
      "insert into rag_chunks (collection, document_id, ordinal, text, start_offset, end_offset, token_count, terms, embedding) values ('old', $1, $2, $3, 0, $4, $5, $6, $7::vector) returning id",
      [chunk.document, ordinal, chunk.text, chunk.text.length, tokens(chunk.tf), Object.keys(chunk.tf), vector],
    );
    for (const [term, tf] of Object.entries(chunk.tf) as [string, number][]) {
      await sql.query("insert into rag_postings (collection, term, chunk_id, tf, dl) values ('old', $1, $2, $3, $4)", [term, rows[0]!.id, tf, tokens(chunk.tf)]);
      df.set(term, (df.get(term) ?? 0) + 1);
    }
  }
  for (const [term, count] of df) await sql.query("insert into rag_term_stats (collection, term, df) values ('old', $1, $2)", [term, count]);
}

interface OldDatabase {
  name: string;
  skip?: string;
  /** Writes version-7 data and returns the App options that open it. */
  prepare(): Promise<{ options: AppOptions; cleanup: () => Promise<void> }>;
}

const databases: OldDatabase[] = [
  {
    name: 'pglite',
    async prepare() {
      const dataDir = mkdtempSync(join(tmpdir(), 'mcp-migrate-'));
      const sql = await createPglite(join(dataDir, 'pgdata'));
      await writeVersion7Data(sql);
      await sql.close();
      return { options: { dataDir }, cleanup: async () => rmSync(dataDir, { recursive: true, force: true }) };
    },
  },
  {
    name: 'postgres',
    skip: DATABASE_URL ? undefined : 'set DATABASE_URL to a PostgreSQL with pgvector',
    async prepare() {
      const schema = uniqueId('migrate');
      const sql = await openPostgres(DATABASE_URL!, { min: 0, max: 2, acquireTimeoutMillis: 5000, idleTimeoutMillis: 1000 }, schema);
      await writeVersion7Data(sql);
      await sql.close();
      return { options: { databaseUrl: DATABASE_URL, databaseSchema: schema, dataDir: 'memory://' }, cleanup: () => dropSchema(DATABASE_URL!, schema) };
    },
  },
];

for (const database of databases) {
  describe.skipIf(database.skip)(`postings written before blocks, on ${database.name}${database.skip ? ` (skipped: ${database.skip})` : ''}`, () => {
    const cleanups: (() => Promise<void>)[] = [];
    afterAll(async () => {
      for (const cleanup of cleanups.reverse()) await cleanup();
    });

    it('rank the same after the upgrade, and their documents can be replaced and deleted', async () => {
      const { options, cleanup } = await database.prepare();
      cleanups.push(cleanup);
      const app = new App({ logger: silentLogger, env: {}, cacheKeyPrefix: `${uniqueId('m')}:`, ...options });
      cleanups.push(() => app.close());
      const call = <O extends AnyOperation>(op: O, args: unknown) => app.invoke(op, args, ADMIN);
      const ranking = async (query: string) =>
        (await call(ragQuery, { collection: 'old', query, mode: 'fulltext', topK: 10 })).hits.map((h) => [h.chunkId, Number(h.score.toFixed(6))]);

      // BM25 by hand over the three chunks (n 3, avgdl 3, k1 1.2, b 0.75).
      const idf = (df: number) => Math.log(1 + (3 - df + 0.5) / (df + 0.5));
      const part = (tf: number, dl: number, df: number) => (idf(df) * tf * 2.2) / (tf + 1.2 * (0.25 + (0.75 * dl) / 3));
      const gamma = await ranking('gamma');
      expect(gamma.map(([, score]) => score)).toEqual([part(2, 4, 2), part(1, 2, 2)].map((s) => Number(s.toFixed(6))));

      // New blocks take ids after the migrated ones: a new document and an edit of an old one.
      await call(ragIngest, { collection: 'old', documents: [{ id: 'c', text: 'delta epsilon' }, { id: 'a', text: 'alpha zeta' }] });
      expect((await call(ragQuery, { collection: 'old', query: 'beta', mode: 'fulltext', topK: 10 })).hits.map((h) => h.documentId)).toEqual(['b']);
      expect((await call(ragQuery, { collection: 'old', query: 'zeta', mode: 'fulltext', topK: 10 })).hits.map((h) => h.documentId)).toEqual(['a']);
      await call(ragDelete, { collection: 'old', documentIds: ['b'] });
      expect((await call(ragQuery, { collection: 'old', query: 'delta', mode: 'fulltext', topK: 10 })).hits.map((h) => h.documentId)).toEqual(['c']);
    });
  });
}
