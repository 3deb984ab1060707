/*
 * One contract for the graph store port: SQL tables (PGlite always, PostgreSQL with
 * DATABASE_URL) and Neo4j (NEO4J_URI). Each suite works in collections of its own.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { DocumentGraph, GraphStore } from '../../src/platform/graph/graph-store.js';
import { openNeo4jGraphStore } from '../../src/platform/graph/neo4j-graph-store.js';
import { createSqlGraphStore } from '../../src/platform/graph/sql-graph-store.js';
import { migrate } from '../../src/platform/sql/migrations.js';
import { openPglite } from '../../src/platform/sql/pglite-adapter.js';
import { openPostgres } from '../../src/platform/sql/postgres-adapter.js';
import type { SqlPort } from '../../src/platform/sql/sql-port.js';
import { DATABASE_URL, dropSchema, title, uniqueId } from '../helpers/backends.js';

const NEO4J_URI = process.env.NEO4J_URI;
const POOL = { min: 0, max: 5, acquireTimeoutMillis: 5000, idleTimeoutMillis: 1000 };

interface GraphBackend {
  name: string;
  skip?: string;
  open(): Promise<{ store: GraphStore; sql: SqlPort; cleanup: () => Promise<void> }>;
}

const backends: GraphBackend[] = [
  {
    name: 'sql tables on pglite',
    async open() {
      const sql = await openPglite(undefined);
      await migrate(sql);
      return { store: createSqlGraphStore(sql), sql, cleanup: () => sql.close() };
    },
  },
  {
    name: 'sql tables on postgres',
    skip: DATABASE_URL ? undefined : 'set DATABASE_URL to a PostgreSQL with pgvector',
    async open() {
      const schema = uniqueId('graph');
      const sql = await openPostgres(DATABASE_URL!, POOL, schema);
      await migrate(sql);
      return {
        store: createSqlGraphStore(sql),
        sql,
        cleanup: async () => {
          await sql.close();
          await dropSchema(DATABASE_URL!, schema);
        },
      };
    },
  },
  {
    name: 'neo4j',
    skip: NEO4J_URI ? undefined : 'set NEO4J_URI (and NEO4J_USER, NEO4J_PASSWORD) to a Neo4j 5 server',
    async open() {
      // Neo4j ignores the SQL transaction; an embedded database stands in for the caller's.
      const sql = await openPglite(undefined);
      const store = await openNeo4jGraphStore({ uri: NEO4J_URI!, user: process.env.NEO4J_USER || 'neo4j', password: process.env.NEO4J_PASSWORD || '' });
      return {
        store,
        sql,
        cleanup: async () => {
          await store.close();
          await sql.close();
        },
      };
    },
  },
];

const entity = (name: string, key: string, count = 1) => ({ key, name, type: 'name', count });

/** Two documents sharing "Free Software Foundation"; chunk ids as the rag engine would give. */
const GPL: DocumentGraph = {
  documentId: 'gpl',
  chunks: [
    {
      chunkId: 1,
      entities: [entity('Free Software Foundation', 'free softwar foundat', 2), entity('GNU General Public License', 'gnu gener public licens')],
      relations: [{ source: 'free softwar foundat', target: 'gnu gener public licens', label: 'publishes' }],
    },
    {
      chunkId: 2,
      entities: [entity('GNU General Public License', 'gnu gener public licens'), entity('Corresponding Source', 'correspond sourc', 3)],
      relations: [{ source: 'gnu gener public licens', target: 'correspond sourc', label: 'requires' }],
    },
  ],
};
const LGPL: DocumentGraph = {
  documentId: 'lgpl',
  chunks: [
    {
      chunkId: 3,
      entities: [entity('Free Software Foundation', 'free softwar foundat'), entity('Lesser General Public License', 'lesser gener public licens')],
      relations: [
        { source: 'free softwar foundat', target: 'lesser gener public licens', label: 'publishes' },
        { source: 'free softwar foundat', target: 'lesser gener public licens', label: 'publishes' },
      ],
    },
  ],
};

for (const backend of backends) {
  describe.skipIf(backend.skip)(`graph store contract on ${title(backend)}`, () => {
    let store: GraphStore;
    let sql: SqlPort;
    let cleanup: () => Promise<void>;
    const collection = uniqueId('c');
    const other = uniqueId('c');
    const add = (c: string, docs: DocumentGraph[]) => sql.transaction((tx) => store.addDocuments(c, docs, tx));
    const remove = (c: string, ids: string[]) => sql.transaction((tx) => store.removeDocuments(c, ids, tx));

    beforeAll(async () => {
      ({ store, sql, cleanup } = await backend.open());
      await add(collection, [GPL, LGPL]);
      await add(other, [{ documentId: 'gpl', chunks: [GPL.chunks[0]!] }]);
    });
    afterAll(async () => {
      await remove(collection, ['gpl', 'lgpl']).catch(() => undefined);
      await remove(other, ['gpl']).catch(() => undefined);
      await cleanup?.();
    });

    it('counts entities and relations per collection', async () => {
      expect(await store.counts(collection)).toEqual({ entities: 4, relations: 3 });
      expect(await store.counts(other)).toEqual({ entities: 2, relations: 1 });
      expect(await store.counts(uniqueId('none'))).toEqual({ entities: 0, relations: 0 });
      expect(await store.hasEntities(collection)).toBe(true);
      expect(await store.hasEntities(uniqueId('none'))).toBe(false);
    });

    it('links terms to the entities whose terms they all contain, longest first, with chunk counts', async () => {
      const found = await store.entitiesWithin(collection, ['gnu', 'gener', 'public', 'licens', 'foundat'], 10);
      expect(found).toEqual([{ key: 'gnu gener public licens', name: 'GNU General Public License', type: 'name', chunks: 2 }]);
      expect(await store.entitiesWithin(collection, ['softwar'], 10)).toEqual([]);
      expect((await store.entitiesWithin(collection, ['free', 'softwar', 'foundat'], 10)).map((e) => [e.key, e.chunks])).toEqual([['free softwar foundat', 2]]);
    });

    it('returns relations around entities, aggregated by label and heaviest first', async () => {
      const edges = await store.edgesAround(collection, ['free softwar foundat'], 10);
      expect(edges).toEqual([
        { source: 'free softwar foundat', target: 'lesser gener public licens', label: 'publishes', weight: 2 },
        { source: 'free softwar foundat', target: 'gnu gener public licens', label: 'publishes', weight: 1 },
      ]);
      const both = await store.edgesAround(collection, ['gnu gener public licens', 'correspond sourc'], 10);
      expect(both.map((e) => e.label).sort()).toEqual(['publishes', 'requires']);
      expect(await store.edgesAround(collection, ['free softwar foundat'], 1)).toHaveLength(1);
    });

    it('returns the chunks that mention entities, most mentions first, bounded per entity', async () => {
      const mentions = await store.mentions(collection, ['free softwar foundat', 'correspond sourc'], 10);
      expect(mentions.sort((a, b) => a.entity.localeCompare(b.entity) || b.count - a.count)).toEqual([
        { entity: 'correspond sourc', chunkId: 2, count: 3 },
        { entity: 'free softwar foundat', chunkId: 1, count: 2 },
        { entity: 'free softwar foundat', chunkId: 3, count: 1 },
      ]);
      expect(await store.mentions(collection, ['free softwar foundat'], 1)).toEqual([{ entity: 'free softwar foundat', chunkId: 1, count: 2 }]);
    });

    it('lists a collection’s heaviest edges and looks entities up by key', async () => {
      expect((await store.edges(collection, 10)).map((e) => e.weight)).toEqual([2, 1, 1]);
      expect((await store.entities(collection, ['correspond sourc', 'missing'])).map((e) => e.name)).toEqual(['Corresponding Source']);
    });

    it('removes a document’s graph, keeping entities another document still mentions', async () => {
      await remove(collection, ['gpl']);
      expect(await store.counts(collection)).toEqual({ entities: 2, relations: 1 });
      expect((await store.entities(collection, ['free softwar foundat', 'gnu gener public licens'])).map((e) => [e.key, e.chunks])).toEqual([['free softwar foundat', 1]]);
      // the other collection is untouched
      expect(await store.counts(other)).toEqual({ entities: 2, relations: 1 });
      expect(await store.edges(collection, 10)).toEqual([{ source: 'free softwar foundat', target: 'lesser gener public licens', label: 'publishes', weight: 2 }]);
      await add(collection, [GPL]);
      expect(await store.counts(collection)).toEqual({ entities: 4, relations: 3 });
      expect((await store.edges(collection, 10)).map((e) => e.weight)).toEqual([2, 1, 1]);
    });

    it('sums a relation over the documents that state it, and removing one takes its share off', async () => {
      const scratch = uniqueId('c');
      const stating = (documentId: string, chunkId: number): DocumentGraph => ({
        documentId,
        chunks: [{ chunkId, entities: LGPL.chunks[0]!.entities, relations: [{ source: 'free softwar foundat', target: 'lesser gener public licens', label: 'publishes' }] }],
      });
      const edge = (weight: number) => [{ source: 'free softwar foundat', target: 'lesser gener public licens', label: 'publishes', weight }];
      await add(scratch, [stating('a', 10)]);
      await add(scratch, [stating('b', 11), stating('c', 12)]);
      expect(await store.edgesAround(scratch, ['lesser gener public licens'], 10)).toEqual(edge(3));
      await remove(scratch, ['a', 'b']);
      expect(await store.edges(scratch, 10)).toEqual(edge(1));
      await remove(scratch, ['c']);
      expect(await store.edges(scratch, 10)).toEqual([]);
      expect(await store.edgesAround(scratch, ['free softwar foundat'], 10)).toEqual([]);
    });

    it('writes nothing when the caller’s transaction rolls back (SQL) and is idempotent to remove', async () => {
      const scratch = uniqueId('c');
      await sql
        .transaction(async (tx) => {
          await store.addDocuments(scratch, [LGPL], tx);
          throw new Error('rollback');
        })
        .catch(() => undefined);
      if (store.kind === 'postgres') expect(await store.counts(scratch)).toEqual({ entities: 0, relations: 0 });
      await remove(scratch, ['lgpl']);
      await remove(scratch, ['lgpl']);
      expect(await store.counts(scratch)).toEqual({ entities: 0, relations: 0 });
    });
  });
}
