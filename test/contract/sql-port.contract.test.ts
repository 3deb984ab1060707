/*
 * One contract for the SQL port, run against every reachable backend.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { encodeCopyBinary } from '../../src/platform/sql/binary-copy.js';
import { migrate, MIGRATIONS } from '../../src/platform/sql/migrations.js';
import { openPglite } from '../../src/platform/sql/pglite-adapter.js';
import { openPostgres } from '../../src/platform/sql/postgres-adapter.js';
import type { SqlPort } from '../../src/platform/sql/sql-port.js';
import { DATABASE_URL, dropSchema, title, uniqueId } from '../helpers/backends.js';

const POOL = { min: 0, max: 5, acquireTimeoutMillis: 5000, idleTimeoutMillis: 1000 };

interface SqlBackend {
  name: string;
  skip?: string;
  open(): Promise<{ sql: SqlPort; cleanup: () => Promise<void> }>;
}

const backends: SqlBackend[] = [
  {
    name: 'pglite',
    async open() {
      const sql = await openPglite(undefined);
      return { sql, cleanup: async () => undefined };
    },
  },
  {
    name: 'postgres',
    skip: DATABASE_URL ? undefined : 'set DATABASE_URL to a PostgreSQL with pgvector',
    async open() {
      const schema = uniqueId('sql');
      const sql = await openPostgres(DATABASE_URL!, POOL, schema);
      return { sql, cleanup: () => dropSchema(DATABASE_URL!, schema) };
    },
  },
];

for (const backend of backends) {
  describe.skipIf(backend.skip)(`SQL port contract on ${title(backend)}`, () => {
    let sql: SqlPort;
    let cleanup: () => Promise<void>;

    beforeAll(async () => {
      ({ sql, cleanup } = await backend.open());
      await sql.exec('create table items (id integer primary key, label text not null, tags jsonb, data bytea)');
    });
    afterAll(async () => {
      await sql?.close();
      await cleanup?.();
    });

    /** Runs fn on a database of its own, migrated up to and including `version`, then drops it. */
    const atVersion = async (version: number, fn: (older: SqlPort) => Promise<void>) => {
      const { sql: older, cleanup: drop } = await backend.open();
      try {
        await migrate(older, MIGRATIONS.filter((m) => m.version <= version));
        await fn(older);
      } finally {
        await older.close();
        await drop();
      }
    };

    it('runs parameterized queries and round-trips text, jsonb, bytea and timestamps', async () => {
      await sql.query('insert into items (id, label, tags, data) values ($1, $2, $3, $4)', [1, "it's; drop table items", JSON.stringify({ a: [1] }), Buffer.from([0, 255])]);
      const { rows } = await sql.query<{ label: string; tags: unknown; data: Uint8Array; now: Date }>('select label, tags, data, now() as now from items where id = $1', [1]);
      expect(rows[0]!.label).toBe("it's; drop table items");
      expect(rows[0]!.tags).toEqual({ a: [1] });
      expect([...rows[0]!.data]).toEqual([0, 255]);
      expect(rows[0]!.now).toBeInstanceOf(Date);
    });

    it('reports affected rows', async () => {
      const result = await sql.query('update items set label = $1 where id = $2', ['x', 1]);
      expect(result.rowCount).toBe(1);
    });

    it('commits a transaction that resolves', async () => {
      await sql.transaction(async (tx) => {
        await tx.query('insert into items (id, label) values ($1, $2)', [2, 'two']);
        await tx.query('insert into items (id, label) values ($1, $2)', [3, 'three']);
      });
      expect((await sql.query('select id from items where id in (2, 3)')).rows).toHaveLength(2);
    });

    it('rolls back everything when a transaction throws: no partial writes', async () => {
      await expect(
        sql.transaction(async (tx) => {
          await tx.query('insert into items (id, label) values ($1, $2)', [4, 'four']);
          await tx.query('insert into items (id, label) values ($1, $2)', [2, 'duplicate key']);
        }),
      ).rejects.toThrow();
      expect((await sql.query('select id from items where id = 4')).rows).toHaveLength(0);
      // and the port keeps working afterwards
      expect((await sql.query<{ n: number }>('select count(*)::int as n from items')).rows[0]!.n).toBe(3);
    });

    it('has pgvector with HNSW cosine indexes', async () => {
      await sql.exec(`
        create extension if not exists vector;
        create table vecs (id integer primary key, embedding vector(3));
        create index on vecs using hnsw (embedding vector_cosine_ops);`);
      await sql.query("insert into vecs values (1, '[1,0,0]'), (2, '[0,1,0]'), (3, '[0.9,0.1,0]')");
      const { rows } = await sql.query<{ id: number }>('select id from vecs order by embedding <=> $1 limit 2', ['[1,0,0]']);
      expect(rows.map((r) => r.id)).toEqual([1, 3]);
    });

    // Only PGlite offers copyBinary; over pg the engines use parameterized inserts.
    if (backend.name === 'pglite') {
      it('loads binary COPY rows of every encoded type', async () => {
        await sql.exec('create table copied (t text, i integer, j jsonb, a text[], e vector)');
        const vector = Float32Array.from([0.5, -0.25, 1]);
        await sql.copyBinary!('copied', ['t', 'i', 'j', 'a', 'e'], encodeCopyBinary(['text', 'int4', 'jsonb', 'text[]', 'vector'], [
          ['héllo', -7, '{"k": [1, "x"]}', ['a', 'b c'], vector],
          ['', 0, {}, [], Float32Array.from([0, 0, 0])],
        ]));
        const { rows } = await sql.query<{ t: string; i: number; j: unknown; a: string[]; e: string }>('select t, i, j, a, e::text as e from copied order by i');
        expect(rows).toEqual([
          { t: 'héllo', i: -7, j: { k: [1, 'x'] }, a: ['a', 'b c'], e: '[0.5,-0.25,1]' },
          { t: '', i: 0, j: {}, a: [], e: '[0,0,0]' },
        ]);
      });
    }

    it('applies migrations once, and again is a no-op', async () => {
      const first = await migrate(sql);
      expect(first.applied).toEqual(MIGRATIONS.map((m) => m.version));
      const second = await migrate(sql);
      expect(second).toEqual({ applied: [], current: MIGRATIONS.at(-1)!.version });
    });

    it('keeps tf and dl in the postings key on PostgreSQL only, and records that migration on both', async () => {
      const { rows } = await sql.query<{ indexdef: string }>("select indexdef from pg_indexes where schemaname = current_schema() and tablename = 'rag_postings' and indexname = 'rag_postings_pkey'");
      expect(rows).toHaveLength(1);
      if (backend.name === 'postgres') expect(rows[0]!.indexdef).toMatch(/INCLUDE \(tf, dl\)/);
      else expect(rows[0]!.indexdef).not.toMatch(/INCLUDE/);
      const { rows: recorded } = await sql.query('select 1 from schema_migrations where version = 8');
      expect(recorded).toHaveLength(1);
    });

    it('carries postings and term statistics over when they move from the collection name to its id (migration 10)', async () => {
      await atVersion(9, async (older) => {
        await older.exec(`
          insert into rag_collections (name, embedder, dimensions, chunk_count) values ('alpha', 'offline', 3, 2), ('beta', 'offline', 3, 1);
          insert into rag_postings (collection, term, chunk_id, tf, dl) values ('alpha', 'gpl', 1, 2, 5), ('alpha', 'mit', 2, 1, 4), ('beta', 'gpl', 3, 3, 6);
          insert into rag_term_stats (collection, term, df) values ('alpha', 'gpl', 1), ('alpha', 'mit', 1), ('beta', 'gpl', 1)`);
        expect((await migrate(older, MIGRATIONS.filter((m) => m.version <= 10))).applied).toEqual([10]);
        const { rows: postings } = await older.query(
          'select c.name, p.term, p.chunk_id, p.tf, p.dl from rag_postings p join rag_collections c on c.id = p.collection_id order by p.chunk_id',
        );
        expect(postings).toEqual([
          { name: 'alpha', term: 'gpl', chunk_id: 1, tf: 2, dl: 5 },
          { name: 'alpha', term: 'mit', chunk_id: 2, tf: 1, dl: 4 },
          { name: 'beta', term: 'gpl', chunk_id: 3, tf: 3, dl: 6 },
        ]);
        const { rows: stats } = await older.query('select c.name, s.term, s.df from rag_term_stats s join rag_collections c on c.id = s.collection_id order by c.name, s.term');
        expect(stats).toEqual([
          { name: 'alpha', term: 'gpl', df: 1 },
          { name: 'alpha', term: 'mit', df: 1 },
          { name: 'beta', term: 'gpl', df: 1 },
        ]);
        // A collection created after the upgrade gets the next id.
        const { rows: created } = await older.query<{ id: number }>("insert into rag_collections (name, embedder, dimensions) values ('gamma', 'offline', 3) returning id");
        expect(created[0]!.id).toBe(3);
      });
    });

    it("keeps graph mentions and reads an entity's most-mentioning chunks first once they are indexed by count (migration 11)", async () => {
      await atVersion(10, async (older) => {
        await older.exec(`
          insert into rag_mentions (collection, entity, chunk_id, document_id, count) values
            ('alpha', 'gpl', 1, 'd1', 1), ('alpha', 'gpl', 2, 'd1', 3), ('alpha', 'gpl', 3, 'd2', 2), ('alpha', 'mit', 1, 'd1', 1), ('beta', 'gpl', 4, 'd3', 5)`);
        expect((await migrate(older, MIGRATIONS.filter((m) => m.version <= 11))).applied).toEqual([11]);
        const { rows } = await older.query("select chunk_id, count from rag_mentions where collection = 'alpha' and entity = 'gpl' order by count desc, chunk_id limit 2");
        expect(rows).toEqual([
          { chunk_id: 2, count: 3 },
          { chunk_id: 3, count: 2 },
        ]);
        expect((await older.query<{ n: number }>('select count(*)::int as n from rag_mentions')).rows[0]!.n).toBe(5);
        const { rows: indexes } = await older.query<{ indexname: string }>("select indexname from pg_indexes where schemaname = current_schema() and tablename = 'rag_mentions' order by indexname");
        expect(indexes.map((i) => i.indexname)).toEqual(['rag_mentions_document', 'rag_mentions_top']);
      });
    });

    it('refuses a database migrated by a newer build', async () => {
      await sql.query('insert into schema_migrations (version, name) values ($1, $2)', [999, 'from the future']);
      await expect(migrate(sql)).rejects.toThrow(/schema version 999, newer than this build knows/);
      await sql.query('delete from schema_migrations where version = 999');
    });

    // PGlite is one process's database; only a server is shared by replicas.
    if (backend.name === 'postgres') {
      it('serializes migrations started by several replicas at once', async () => {
        const schema = uniqueId('replicas');
        const ports = await Promise.all([1, 2, 3].map(() => openPostgres(DATABASE_URL!, POOL, schema)));
        try {
          const results = await Promise.all(ports.map((p) => migrate(p)));
          expect(results.flatMap((r) => r.applied).sort((a, b) => a - b)).toEqual(MIGRATIONS.map((m) => m.version));
        } finally {
          await Promise.all(ports.map((p) => p.close()));
          await dropSchema(DATABASE_URL!, schema);
        }
      });
    }
  });
}
