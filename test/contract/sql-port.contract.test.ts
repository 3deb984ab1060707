/*
 * One contract for the SQL port, run against every reachable backend.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { encodeCopyBinary } from '../../src/platform/sql/binary-copy.js';
import { AuditLog, chainHash } from '../../src/engines/governance/audit-log.js';
import { migrate, MIGRATIONS } from '../../src/platform/sql/migrations.js';
import type { SqlPort } from '../../src/platform/sql/sql-port.js';
import { openPostgres } from '../../src/platform/sql/postgres-adapter.js';
import { DATABASE_URL, dropSchema, SQL_POOL, sqlBackends, title, uniqueId } from '../helpers/backends.js';

for (const backend of sqlBackends()) {
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

    it('answers a prepared statement as it answers any other, across connections, in transactions and after its table changes', async () => {
      await sql.query('insert into items (id, label) values ($1, $2)', [10, 'ten']);
      const label = async (db: Pick<SqlPort, 'query'>, id: number) =>
        (await db.query<{ label: string }>('select label from items where id = $1', [id], { prepare: 'contract_item_label' })).rows[0]?.label;
      // More calls at once than one connection serves, so a pool prepares it on several.
      expect(await Promise.all([10, 10, 10, 10, 999].map((id) => label(sql, id)))).toEqual(['ten', 'ten', 'ten', 'ten', undefined]);
      expect(await sql.transaction((tx) => label(tx, 10))).toBe('ten');
      // Kept in the session (PGlite's one, or the connection's).
      const kept = await sql.transaction(async (tx) => {
        await label(tx, 10);
        return (await tx.query<{ name: string }>('select name from pg_prepared_statements')).rows.map((r) => r.name);
      });
      expect(kept).toContain('contract_item_label');
      // A failing run leaves the statement, and the port, working.
      const insert = (id: number) => sql.query('insert into items (id, label) values ($1, $2)', [id, 'prepared'], { prepare: 'contract_item_insert' });
      await insert(11);
      await expect(insert(11)).rejects.toThrow();
      await insert(12);
      expect(await Promise.all([label(sql, 11), label(sql, 12)])).toEqual(['prepared', 'prepared']);
      await sql.exec('alter table items add column note text');
      expect(await label(sql, 10)).toBe('ten');
      await sql.exec('alter table items drop column note');
      await sql.query('delete from items where id = any($1::int[])', [[10, 11, 12]]);
      expect(await label(sql, 10)).toBeUndefined();
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

    it('keeps audit records written before migration 12 verifiable, and chains new records naming their surface after them', async () => {
      await atVersion(11, async (older) => {
        const old = { seq: 1, at: new Date().toISOString(), principal: 'local', principalName: null, operation: 'registry_get', surface: 'tool', resource: null, outcome: 'ok', errorCode: null, durationMs: 3, traceId: null, arguments: '{"name":"acme/a"}', prevHash: '0'.repeat(64) };
        const hash = chainHash(old);
        await older.query(
          `insert into governance_audit (seq, at, principal, operation, outcome, error_code, duration_ms, trace_id, arguments, prev_hash, hash) values (1, $1, 'local', 'registry_get', 'ok', null, 3, null, $2, $3, $4)`,
          [old.at, old.arguments, old.prevHash, hash],
        );
        await older.query('update governance_audit_head set seq = 1, hash = $1 where id = 1', [hash]);
        expect((await migrate(older, MIGRATIONS.filter((m) => m.version <= 12))).applied).toEqual([12]);
        const audit = new AuditLog(older, 'full');
        expect(await audit.verify()).toEqual({ ok: true, records: 1 });
        await audit.append({ principal: 'apikey:k1', principalName: 'release-reader', operation: 'registry-artifact', surface: 'resource', resource: 'registry://artifacts/acme%2Fa/1.0.0', outcome: 'ok', durationMs: 1, arguments: {} });
        expect(await audit.verify()).toEqual({ ok: true, records: 2 });
        await older.exec("alter table governance_audit disable trigger governance_audit_no_change; update governance_audit set resource = 'registry://artifacts/acme%2Fb/1.0.0' where seq = 2");
        expect(await audit.verify()).toMatchObject({ ok: false, firstBroken: { seq: 2 } });
      });
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
        const ports = await Promise.all([1, 2, 3].map(() => openPostgres(DATABASE_URL!, SQL_POOL, schema)));
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
