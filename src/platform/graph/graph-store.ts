/*
 * Graph store port
 * ================
 * Where GraphRAG keeps, per collection, the entities extracted from chunks, the chunks that
 * mention them and the relations between them. Two adapters pass one contract suite
 * (test/contract/graph-store.contract.test.ts): tables through the SQL port (default, on
 * PGlite or PostgreSQL) and Neo4j. Entities are identified by key within a collection, so
 * both stores agree on ids and an entity shared by documents is one node.
 *
 * Writes take the SQL transaction the chunks are written in. The SQL store writes in it, so
 * a document's chunks and graph commit or roll back together; Neo4j commits its own
 * transaction inside that window (see neo4j-graph-store.ts).
 */
import type { SqlExecutor } from '../sql/sql-port.js';

export interface GraphEntityInput {
  key: string;
  name: string;
  type: string;
  count: number;
}

export interface GraphRelationInput {
  source: string;
  target: string;
  label: string;
}

export interface DocumentGraph {
  documentId: string;
  chunks: { chunkId: number; entities: readonly GraphEntityInput[]; relations: readonly GraphRelationInput[] }[];
}

export interface GraphEntity {
  key: string;
  name: string;
  type: string;
  /** Chunks of the collection that mention it. */
  chunks: number;
}

export interface GraphEdge {
  source: string;
  target: string;
  label: string;
  /** How many times the relation was extracted. */
  weight: number;
}

export interface GraphMention {
  entity: string;
  chunkId: number;
  count: number;
}

export interface GraphStore {
  readonly kind: 'postgres' | 'neo4j';
  /** Adds documents' entities, mentions and relations; a document re-ingested is removed first. */
  addDocuments(collection: string, documents: readonly DocumentGraph[], tx: SqlExecutor): Promise<void>;
  /** Removes documents' mentions and relations, and entities no other document mentions. */
  removeDocuments(collection: string, documentIds: readonly string[], tx: SqlExecutor): Promise<void>;
  counts(collection: string): Promise<{ entities: number; relations: number }>;
  /** Whether the collection has any entity: what every graph query asks first, so cheaper than counts. */
  hasEntities(collection: string): Promise<boolean>;
  /** Entities whose key terms are all among the given terms. */
  entitiesWithin(collection: string, terms: readonly string[], limit: number): Promise<GraphEntity[]>;
  entities(collection: string, keys: readonly string[]): Promise<GraphEntity[]>;
  /** Relations touching any of the entities, aggregated by (source, target, label), heaviest first. */
  edgesAround(collection: string, keys: readonly string[], limit: number): Promise<GraphEdge[]>;
  /** Up to perEntity chunks mentioning each entity, most mentions first. */
  mentions(collection: string, keys: readonly string[], perEntity: number): Promise<GraphMention[]>;
  /** The heaviest relations of the collection (for communities). */
  edges(collection: string, limit: number): Promise<GraphEdge[]>;
  close(): Promise<void>;
}
