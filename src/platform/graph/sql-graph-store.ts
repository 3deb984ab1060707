/*
 * Graph store on SQL tables (default)
 * ===================================
 * rag_entities (collection, key) → name, type; rag_mentions entity → chunk with a count;
 * rag_relations source → target with a label, per document (weight = times extracted).
 * Writes run in the caller's transaction, so a document's graph commits with its chunks.
 * On PGlite mentions and relations load through binary COPY, like postings.
 */
import { encodeCopyBinary } from '../sql/binary-copy.js';
import type { SqlExecutor, SqlPort } from '../sql/sql-port.js';
import type { DocumentGraph, GraphEdge, GraphEntity, GraphMention, GraphStore } from './graph-store.js';

export function createSqlGraphStore(sql: SqlPort): GraphStore {
  const entityRows = async (text: string, values: unknown[]): Promise<GraphEntity[]> => {
    const { rows } = await sql.query<{ key: string; name: string; type: string; chunks: number }>(text, values);
    return rows.map((r) => ({ key: r.key, name: r.name, type: r.type, chunks: r.chunks }));
  };
  const edgeRows = (rows: { source: string; target: string; label: string; weight: number }[]): GraphEdge[] =>
    rows.map((r) => ({ source: r.source, target: r.target, label: r.label, weight: r.weight }));

  return {
    kind: 'postgres',

    async addDocuments(collection: string, documents: readonly DocumentGraph[], tx: SqlExecutor) {
      const entities = new Map<string, { name: string; type: string }>();
      const mentions: [string, string, number, string, number][] = [];
      const relations = new Map<string, [string, string, string, string, number, number]>();
      for (const doc of documents) {
        for (const chunk of doc.chunks) {
          for (const e of chunk.entities) {
            if (!entities.has(e.key)) entities.set(e.key, { name: e.name, type: e.type });
            mentions.push([collection, e.key, chunk.chunkId, doc.documentId, e.count]);
          }
          for (const r of chunk.relations) {
            const id = `${doc.documentId}\u0000${r.source}\u0000${r.target}\u0000${r.label}`;
            const row = relations.get(id);
            if (row) row[5]++;
            else relations.set(id, [r.source, r.target, r.label, doc.documentId, chunk.chunkId, 1]);
          }
        }
      }
      if (entities.size === 0) return;
      await tx.query(
        `insert into rag_entities (collection, key, name, type)
         select $1, u.key, u.name, u.type from unnest($2::text[], $3::text[], $4::text[]) as u(key, name, type)
         on conflict (collection, key) do nothing`,
        [collection, [...entities.keys()], [...entities.values()].map((e) => e.name), [...entities.values()].map((e) => e.type)],
      );
      const relationRows = [...relations.values()].map(([source, target, label, documentId, chunkId, weight]) => [collection, source, target, label, documentId, chunkId, weight]);
      if (tx.copyBinary) {
        await tx.copyBinary('rag_mentions', ['collection', 'entity', 'chunk_id', 'document_id', 'count'], encodeCopyBinary(['text', 'text', 'int4', 'text', 'int4'], mentions));
        if (relationRows.length > 0) {
          await tx.copyBinary(
            'rag_relations',
            ['collection', 'source', 'target', 'label', 'document_id', 'chunk_id', 'weight'],
            encodeCopyBinary(['text', 'text', 'text', 'text', 'text', 'int4', 'int4'], relationRows),
          );
        }
        return;
      }
      await tx.query(
        `insert into rag_mentions (collection, entity, chunk_id, document_id, count)
         select $1, u.entity, u.chunk_id, u.document_id, u.count from unnest($2::text[], $3::int[], $4::text[], $5::int[]) as u(entity, chunk_id, document_id, count)`,
        [collection, mentions.map((m) => m[1]), mentions.map((m) => m[2]), mentions.map((m) => m[3]), mentions.map((m) => m[4])],
      );
      if (relationRows.length > 0) {
        await tx.query(
          `insert into rag_relations (collection, source, target, label, document_id, chunk_id, weight)
           select $1, u.source, u.target, u.label, u.document_id, u.chunk_id, u.weight
           from unnest($2::text[], $3::text[], $4::text[], $5::text[], $6::int[], $7::int[]) as u(source, target, label, document_id, chunk_id, weight)`,
          [collection, ...[1, 2, 3, 4, 5, 6].map((i) => relationRows.map((r) => r[i]))],
        );
      }
    },

    async removeDocuments(collection: string, documentIds: readonly string[], tx: SqlExecutor) {
      if (documentIds.length === 0) return;
      await tx.query('delete from rag_relations where collection = $1 and document_id = any($2::text[])', [collection, documentIds]);
      const { rows } = await tx.query<{ entity: string }>('delete from rag_mentions where collection = $1 and document_id = any($2::text[]) returning entity', [collection, documentIds]);
      if (rows.length === 0) return;
      // An entity stays while another document still mentions it.
      await tx.query(
        `delete from rag_entities e where e.collection = $1 and e.key = any($2::text[])
         and not exists (select 1 from rag_mentions m where m.collection = $1 and m.entity = e.key)`,
        [collection, [...new Set(rows.map((r) => r.entity))]],
      );
    },

    async counts(collection: string) {
      const { rows } = await sql.query<{ entities: number; relations: number }>(
        'select (select count(*) from rag_entities where collection = $1)::int as entities, (select count(*) from rag_relations where collection = $1)::int as relations',
        [collection],
      );
      return rows[0]!;
    },

    entitiesWithin(collection: string, terms: readonly string[], limit: number) {
      if (terms.length === 0) return Promise.resolve([]);
      return entityRows(
        `select e.key, e.name, e.type, (select count(*) from rag_mentions m where m.collection = e.collection and m.entity = e.key)::int as chunks
         from rag_entities e where e.collection = $1 and string_to_array(e.key, ' ') <@ $2::text[]
         order by array_length(string_to_array(e.key, ' '), 1) desc, e.key limit $3`,
        [collection, terms, limit],
      );
    },

    entities(collection: string, keys: readonly string[]) {
      if (keys.length === 0) return Promise.resolve([]);
      return entityRows(
        `select e.key, e.name, e.type, (select count(*) from rag_mentions m where m.collection = e.collection and m.entity = e.key)::int as chunks
         from rag_entities e where e.collection = $1 and e.key = any($2::text[])`,
        [collection, keys],
      );
    },

    async edgesAround(collection: string, keys: readonly string[], limit: number) {
      if (keys.length === 0) return [];
      const { rows } = await sql.query<{ source: string; target: string; label: string; weight: number }>(
        `select source, target, label, sum(weight)::int as weight from rag_relations
         where collection = $1 and (source = any($2::text[]) or target = any($2::text[]))
         group by source, target, label order by weight desc, source, target, label limit $3`,
        [collection, keys, limit],
      );
      return edgeRows(rows);
    },

    async mentions(collection: string, keys: readonly string[], perEntity: number): Promise<GraphMention[]> {
      if (keys.length === 0) return [];
      const { rows } = await sql.query<{ entity: string; chunk_id: number; count: number }>(
        `select entity, chunk_id, count from (
           select entity, chunk_id, count, row_number() over (partition by entity order by count desc, chunk_id) as n
           from rag_mentions where collection = $1 and entity = any($2::text[])) ranked
         where n <= $3`,
        [collection, keys, perEntity],
      );
      return rows.map((r) => ({ entity: r.entity, chunkId: r.chunk_id, count: r.count }));
    },

    async edges(collection: string, limit: number) {
      const { rows } = await sql.query<{ source: string; target: string; label: string; weight: number }>(
        `select source, target, label, sum(weight)::int as weight from rag_relations where collection = $1
         group by source, target, label order by weight desc, source, target, label limit $2`,
        [collection, limit],
      );
      return edgeRows(rows);
    },

    async close() {},
  };
}
