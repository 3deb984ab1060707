/*
 * Graph store on Neo4j (scale-out)
 * ================================
 * (:RagEntity {collection, key, name, type}) -[:MENTIONED_IN {collection, document, count}]->
 * (:RagChunk {collection, id, document}), and (:RagEntity)-[:RAG_RELATION {collection,
 * document, chunk, label, weight}]->(:RagEntity), through neo4j-driver (Bolt).
 *
 * Neo4j cannot join the SQL transaction that writes the chunks: a group's graph is written
 * in one Neo4j transaction that commits just before the SQL one. If the SQL commit then
 * fails, Neo4j holds a graph for chunks that do not exist; graph retrieval drops chunk ids
 * it cannot find, and the document's next ingest (its stored hash is unchanged, so it is
 * not skipped) removes and rewrites that graph.
 */
import neo4j, { type Driver } from 'neo4j-driver';
import type { SqlExecutor } from '../sql/sql-port.js';
import type { DocumentGraph, GraphEdge, GraphEntity, GraphMention, GraphStore } from './graph-store.js';

export interface Neo4jOptions {
  uri: string;
  user: string;
  password: string;
  database?: string;
}

const SCHEMA = [
  'CREATE CONSTRAINT rag_entity_key IF NOT EXISTS FOR (e:RagEntity) REQUIRE (e.collection, e.key) IS UNIQUE',
  'CREATE CONSTRAINT rag_chunk_id IF NOT EXISTS FOR (c:RagChunk) REQUIRE (c.collection, c.id) IS UNIQUE',
  'CREATE INDEX rag_chunk_document IF NOT EXISTS FOR (c:RagChunk) ON (c.collection, c.document)',
  'CREATE INDEX rag_relation_document IF NOT EXISTS FOR ()-[r:RAG_RELATION]-() ON (r.collection, r.document)',
];

export async function openNeo4jGraphStore(options: Neo4jOptions): Promise<GraphStore> {
  const driver: Driver = neo4j.driver(options.uri, neo4j.auth.basic(options.user, options.password), { disableLosslessIntegers: true });
  try {
    await driver.verifyConnectivity();
    for (const statement of SCHEMA) await driver.executeQuery(statement, {}, { database: options.database });
  } catch (error) {
    await driver.close();
    throw new Error(`neo4j at ${options.uri}: ${(error as Error).message} (check NEO4J_URI, NEO4J_USER, NEO4J_PASSWORD)`, { cause: error });
  }
  return createNeo4jGraphStore(driver, options.database);
}

type Row = Record<string, unknown>;

export function createNeo4jGraphStore(driver: Driver, database?: string): GraphStore {
  const read = async (query: string, parameters: Row): Promise<Row[]> => {
    const { records } = await driver.executeQuery(query, parameters, { database, routing: neo4j.routing.READ });
    return records.map((r) => r.toObject() as Row);
  };
  const toEntities = (rows: Row[]): GraphEntity[] => rows.map((r) => ({ key: r.key as string, name: r.name as string, type: r.type as string, chunks: Number(r.chunks) }));
  const toEdges = (rows: Row[]): GraphEdge[] => rows.map((r) => ({ source: r.source as string, target: r.target as string, label: r.label as string, weight: Number(r.weight) }));
  const ENTITY_FIELDS = 'e.key AS key, e.name AS name, e.type AS type, COUNT { (e)-[:MENTIONED_IN]->() } AS chunks';

  return {
    kind: 'neo4j',

    async addDocuments(collection: string, documents: readonly DocumentGraph[], _tx: SqlExecutor) {
      const entities = new Map<string, { key: string; name: string; type: string }>();
      const chunks: Row[] = [];
      const mentions: Row[] = [];
      const relations = new Map<string, Row & { weight: number }>();
      for (const doc of documents) {
        for (const chunk of doc.chunks) {
          chunks.push({ id: chunk.chunkId, document: doc.documentId });
          for (const e of chunk.entities) {
            if (!entities.has(e.key)) entities.set(e.key, { key: e.key, name: e.name, type: e.type });
            mentions.push({ entity: e.key, chunk: chunk.chunkId, document: doc.documentId, count: e.count });
          }
          for (const r of chunk.relations) {
            const id = `${doc.documentId}\u0000${r.source}\u0000${r.target}\u0000${r.label}`;
            const row = relations.get(id);
            if (row) row.weight++;
            else relations.set(id, { source: r.source, target: r.target, label: r.label, document: doc.documentId, chunk: chunk.chunkId, weight: 1 });
          }
        }
      }
      if (entities.size === 0) return;
      const session = driver.session({ database, defaultAccessMode: neo4j.session.WRITE });
      try {
        await session.executeWrite(async (tx) => {
          await tx.run('UNWIND $entities AS e MERGE (n:RagEntity {collection: $c, key: e.key}) ON CREATE SET n.name = e.name, n.type = e.type', { c: collection, entities: [...entities.values()] });
          await tx.run('UNWIND $chunks AS k MERGE (c:RagChunk {collection: $c, id: k.id}) SET c.document = k.document', { c: collection, chunks });
          await tx.run(
            `UNWIND $mentions AS m
             MATCH (n:RagEntity {collection: $c, key: m.entity}), (k:RagChunk {collection: $c, id: m.chunk})
             CREATE (n)-[:MENTIONED_IN {collection: $c, document: m.document, count: m.count}]->(k)`,
            { c: collection, mentions },
          );
          await tx.run(
            `UNWIND $relations AS r
             MATCH (a:RagEntity {collection: $c, key: r.source}), (b:RagEntity {collection: $c, key: r.target})
             CREATE (a)-[:RAG_RELATION {collection: $c, document: r.document, chunk: r.chunk, label: r.label, weight: r.weight}]->(b)`,
            { c: collection, relations: [...relations.values()] },
          );
        });
      } finally {
        await session.close();
      }
    },

    async removeDocuments(collection: string, documentIds: readonly string[], _tx: SqlExecutor) {
      if (documentIds.length === 0) return;
      const session = driver.session({ database, defaultAccessMode: neo4j.session.WRITE });
      try {
        await session.executeWrite(async (tx) => {
          await tx.run('MATCH ()-[r:RAG_RELATION {collection: $c}]->() WHERE r.document IN $ids DELETE r', { c: collection, ids: documentIds });
          // An entity stays while another document's chunk still mentions it.
          await tx.run(
            `MATCH (k:RagChunk {collection: $c}) WHERE k.document IN $ids
             OPTIONAL MATCH (e:RagEntity)-[:MENTIONED_IN]->(k)
             WITH collect(DISTINCT k) AS chunks, collect(DISTINCT e) AS entities
             FOREACH (k IN chunks | DETACH DELETE k)
             WITH entities UNWIND entities AS e
             WITH e WHERE NOT (e)-[:MENTIONED_IN]->()
             DETACH DELETE e`,
            { c: collection, ids: documentIds },
          );
        });
      } finally {
        await session.close();
      }
    },

    async counts(collection: string) {
      const [row] = await read(
        'MATCH (e:RagEntity {collection: $c}) WITH count(e) AS entities RETURN entities, COUNT { ()-[r:RAG_RELATION {collection: $c}]->() } AS relations',
        { c: collection },
      );
      return { entities: Number(row?.entities ?? 0), relations: Number(row?.relations ?? 0) };
    },

    async hasEntities(collection: string) {
      return (await read('MATCH (e:RagEntity {collection: $c}) RETURN 1 AS found LIMIT 1', { c: collection })).length > 0;
    },

    async entitiesWithin(collection: string, terms: readonly string[], limit: number) {
      if (terms.length === 0) return [];
      return toEntities(
        await read(
          `MATCH (e:RagEntity {collection: $c}) WHERE all(t IN split(e.key, ' ') WHERE t IN $terms)
           RETURN ${ENTITY_FIELDS} ORDER BY size(split(e.key, ' ')) DESC, e.key LIMIT $limit`,
          { c: collection, terms, limit: neo4j.int(limit) },
        ),
      );
    },

    async entities(collection: string, keys: readonly string[]) {
      if (keys.length === 0) return [];
      return toEntities(await read(`MATCH (e:RagEntity {collection: $c}) WHERE e.key IN $keys RETURN ${ENTITY_FIELDS}`, { c: collection, keys }));
    },

    async edgesAround(collection: string, keys: readonly string[], limit: number) {
      if (keys.length === 0) return [];
      return toEdges(
        await read(
          `CALL () {
             MATCH (a:RagEntity {collection: $c})-[r:RAG_RELATION]->(b) WHERE a.key IN $keys
             RETURN a.key AS source, b.key AS target, r.label AS label, r.weight AS w
             UNION ALL
             MATCH (a:RagEntity {collection: $c})-[r:RAG_RELATION]->(b) WHERE b.key IN $keys AND NOT a.key IN $keys
             RETURN a.key AS source, b.key AS target, r.label AS label, r.weight AS w
           }
           RETURN source, target, label, sum(w) AS weight ORDER BY weight DESC, source, target, label LIMIT $limit`,
          { c: collection, keys, limit: neo4j.int(limit) },
        ),
      );
    },

    async mentions(collection: string, keys: readonly string[], perEntity: number): Promise<GraphMention[]> {
      if (keys.length === 0) return [];
      const rows = await read(
        `MATCH (e:RagEntity {collection: $c})-[m:MENTIONED_IN]->(k:RagChunk) WHERE e.key IN $keys
         WITH e, m, k ORDER BY m.count DESC, k.id
         WITH e, collect({chunk: k.id, count: m.count})[..$per] AS top
         UNWIND top AS t RETURN e.key AS entity, t.chunk AS chunk, t.count AS count`,
        { c: collection, keys, per: neo4j.int(perEntity) },
      );
      return rows.map((r) => ({ entity: r.entity as string, chunkId: Number(r.chunk), count: Number(r.count) }));
    },

    async edges(collection: string, limit: number) {
      return toEdges(
        await read(
          `MATCH (a:RagEntity {collection: $c})-[r:RAG_RELATION]->(b)
           RETURN a.key AS source, b.key AS target, r.label AS label, sum(r.weight) AS weight ORDER BY weight DESC, source, target, label LIMIT $limit`,
          { c: collection, limit: neo4j.int(limit) },
        ),
      );
    },

    async close() {
      await driver.close();
    },
  };
}
