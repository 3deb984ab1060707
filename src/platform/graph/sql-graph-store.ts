/*
 * Graph store on SQL tables (default)
 * ===================================
 * rag_entities (collection, key) → name, type and how many chunks mention it (kept as
 * mentions are added and removed: counting an entity's mentions on every query was a large
 * share of a graph query's time); rag_mentions entity → chunk with a count;
 * rag_relations source → target with a label, per document (weight = times extracted), and
 * rag_edges their sums per (source, target, label), kept as documents are added and removed,
 * which the queries read.
 * Writes run in the caller's transaction, so a document's graph commits with its chunks.
 * On PGlite mentions and relations load through binary COPY, like postings.
 */
import { encodeCopyBinary } from '../sql/binary-copy.js';
import type { SqlExecutor, SqlPort } from '../sql/sql-port.js';
import type { DocumentGraph, GraphEdge, GraphEntity, GraphMention, GraphStore } from './graph-store.js';

/**
 * Adds (sign 1) or subtracts (-1) relations' weights to their edges; an edge whose weight
 * reaches 0 has no relation left and goes. Edges are written in key order, so two
 * transactions touching the same edges lock them in the same order.
 */
async function addEdgeWeights(tx: SqlExecutor, collection: string, relations: readonly GraphEdge[], sign: 1 | -1): Promise<void> {
  const sums = new Map<string, number>();
  for (const r of relations) {
    const key = `${r.source}\u0000${r.target}\u0000${r.label}`;
    sums.set(key, (sums.get(key) ?? 0) + r.weight);
  }
  if (sums.size === 0) return;
  const keys = [...sums.keys()].sort();
  const parts = keys.map((key) => key.split('\u0000'));
  const values = [collection, parts.map((p) => p[0]), parts.map((p) => p[1]), parts.map((p) => p[2]), keys.map((key) => sign * sums.get(key)!)];
  if (sign > 0) {
    await tx.query(
      `insert into rag_edges (collection, source, target, label, weight)
       select $1, u.source, u.target, u.label, u.weight from unnest($2::text[], $3::text[], $4::text[], $5::int[]) as u(source, target, label, weight)
       on conflict (collection, source, target, label) do update set weight = rag_edges.weight + excluded.weight`,
      values,
    );
    return;
  }
  await tx.query(
    `update rag_edges e set weight = e.weight + u.weight from unnest($2::text[], $3::text[], $4::text[], $5::int[]) as u(source, target, label, weight)
     where e.collection = $1 and e.source = u.source and e.target = u.target and e.label = u.label`,
    values,
  );
  await tx.query('delete from rag_edges where collection = $1 and source = any($2::text[]) and weight <= 0', [collection, [...new Set(parts.map((p) => p[0]))]]);
}

export function createSqlGraphStore(sql: SqlPort): GraphStore {
  const entityRows = async (text: string, values: unknown[]): Promise<GraphEntity[]> => {
    const { rows } = await sql.query<{ key: string; name: string; type: string; chunks: number }>(text, values);
    return rows.map((r) => ({ key: r.key, name: r.name, type: r.type, chunks: r.chunks }));
  };
  /**
   * Edges matching `where`, heaviest first, at most `limit`, read back as one JSON array in one
   * row: a second hop returns up to 2,000 edges, and on PGlite returning and decoding a row
   * per edge was about half of the call.
   */
  const edgesWhere = async (where: string, values: unknown[], limit: number): Promise<GraphEdge[]> => {
    const { rows } = await sql.query<{ edges: [string, string, string, number][] | null }>(
      `select json_agg(json_build_array(source, target, label, weight) order by weight desc, source, target, label) as edges
       from (select source, target, label, weight from rag_edges where ${where}
             order by weight desc, source, target, label limit $${values.length + 1}) e`,
      [...values, limit],
    );
    return (rows[0]?.edges ?? []).map(([source, target, label, weight]) => ({ source, target, label, weight }));
  };

  return {
    kind: 'postgres',

    async addDocuments(collection: string, documents: readonly DocumentGraph[], tx: SqlExecutor) {
      const entities = new Map<string, { name: string; type: string; chunks: number }>();
      const mentions: [string, string, number, string, number][] = [];
      const relations = new Map<string, [string, string, string, string, number, number]>();
      for (const doc of documents) {
        for (const chunk of doc.chunks) {
          for (const e of chunk.entities) {
            const known = entities.get(e.key);
            if (known) known.chunks++;
            else entities.set(e.key, { name: e.name, type: e.type, chunks: 1 });
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
      // In the primary key's order, as the postings: index pages filled in one visit. (Mentions
      // stay in document order, which their second index, by document, is read in.)
      const keys = [...entities.keys()].sort();
      const ordered = keys.map((key) => entities.get(key)!);
      await tx.query(
        `insert into rag_entities (collection, key, name, type, chunks)
         select $1, u.key, u.name, u.type, u.chunks from unnest($2::text[], $3::text[], $4::text[], $5::int[]) as u(key, name, type, chunks)
         on conflict (collection, key) do update set chunks = rag_entities.chunks + excluded.chunks`,
        [collection, keys, ...(['name', 'type', 'chunks'] as const).map((field) => ordered.map((e) => e[field]))],
      );
      await addEdgeWeights(tx, collection, [...relations.values()].map(([source, target, label, , , weight]) => ({ source, target, label, weight })), 1);
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
      const { rows: relations } = await tx.query<{ source: string; target: string; label: string; weight: number }>(
        'delete from rag_relations where collection = $1 and document_id = any($2::text[]) returning source, target, label, weight',
        [collection, documentIds],
      );
      await addEdgeWeights(tx, collection, relations, -1);
      const { rows } = await tx.query<{ entity: string }>('delete from rag_mentions where collection = $1 and document_id = any($2::text[]) returning entity', [collection, documentIds]);
      if (rows.length === 0) return;
      const removed = new Map<string, number>();
      for (const { entity } of rows) removed.set(entity, (removed.get(entity) ?? 0) + 1);
      await tx.query(
        `update rag_entities e set chunks = e.chunks - r.chunks from unnest($2::text[], $3::int[]) as r(key, chunks)
         where e.collection = $1 and e.key = r.key`,
        [collection, [...removed.keys()], [...removed.values()]],
      );
      // An entity stays while another document still mentions it: its count of chunks is kept exact.
      await tx.query('delete from rag_entities where collection = $1 and key = any($2::text[]) and chunks <= 0', [collection, [...removed.keys()]]);
    },

    async counts(collection: string) {
      const { rows } = await sql.query<{ entities: number; relations: number }>(
        'select (select count(*) from rag_entities where collection = $1)::int as entities, (select count(*) from rag_relations where collection = $1)::int as relations',
        [collection],
      );
      return rows[0]!;
    },

    async hasEntities(collection: string) {
      const { rows } = await sql.query('select 1 from rag_entities where collection = $1 limit 1', [collection]);
      return rows.length > 0;
    },

    entitiesWithin(collection: string, terms: readonly string[], limit: number) {
      if (terms.length === 0) return Promise.resolve([]);
      return entityRows(
        `select e.key, e.name, e.type, e.chunks
         from rag_entities e where e.collection = $1 and string_to_array(e.key, ' ') <@ $2::text[]
         order by array_length(string_to_array(e.key, ' '), 1) desc, e.key limit $3`,
        [collection, terms, limit],
      );
    },

    entities(collection: string, keys: readonly string[]) {
      if (keys.length === 0) return Promise.resolve([]);
      return entityRows(
        'select e.key, e.name, e.type, e.chunks from rag_entities e where e.collection = $1 and e.key = any($2::text[])',
        [collection, keys],
      );
    },

    async edgesAround(collection: string, keys: readonly string[], limit: number) {
      if (keys.length === 0) return [];
      return edgesWhere('collection = $1 and (source = any($2::text[]) or target = any($2::text[]))', [collection, keys], limit);
    },

    async mentions(collection: string, keys: readonly string[], perEntity: number): Promise<GraphMention[]> {
      if (keys.length === 0) return [];
      const { rows } = await sql.query<{ entity: string; chunk_id: number; count: number }>(
        // Top perEntity of each entity on its own (a window over all of them sorted every
        // mention by entity name first); the final sort keeps the order rows came in before.
        `select m.entity, m.chunk_id, m.count
         from (select distinct unnest($2::text[]) as key) k
         cross join lateral (
           select entity, chunk_id, count from rag_mentions
           where collection = $1 and entity = k.key order by count desc, chunk_id limit $3) m
         order by m.entity, m.count desc, m.chunk_id`,
        [collection, keys, perEntity],
      );
      return rows.map((r) => ({ entity: r.entity, chunkId: r.chunk_id, count: r.count }));
    },

    edges(collection: string, limit: number) {
      return edgesWhere('collection = $1', [collection], limit);
    },

    async close() {},
  };
}
