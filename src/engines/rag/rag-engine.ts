/*
 * rag engine
 * ==========
 * Collections of documents, chunked and indexed twice: as vectors (pgvector HNSW, cosine,
 * one partial index per collection) and as BM25 postings (term statistics in tables, so
 * ranking is real BM25 and identical on PGlite and PostgreSQL). Queries run either
 * retriever or all fused (fusion.ts). Documents are written in groups, one
 * transaction per group and one savepoint per document, so a failure leaves none of its
 * chunks behind; an unchanged document is skipped by hash. With GraphRAG on, each chunk's
 * entities and relations are extracted and written to the graph store in the same
 * transaction, and a third retriever ranks chunks through the graph (graph/).
 */
import { randomUUID } from 'node:crypto';
import { sha256Hex, sha256Key } from '../../platform/digest.js';
import { EventEmitter } from 'node:events';
import { EngineError, invalidInput, notFound } from '../../errors.js';
import type { CachePort } from '../../platform/cache/cache-port.js';
import type { EmbeddingsPort } from '../../platform/embeddings/embeddings-port.js';
import type { Embedders } from '../../platform/embeddings/embedder-set.js';
import { isWeightedQueryEmbedder, OFFLINE_DIMENSIONS, offlineEmbedderDimensions } from '../../platform/embeddings/offline-embedder.js';
import { encodeCopyBinary } from '../../platform/sql/binary-copy.js';
import type { Logger } from '../../platform/log.js';
import type { SqlExecutor, SqlPort } from '../../platform/sql/sql-port.js';
import { isoTimestamp } from '../../platform/sql/sql-port.js';
import type { Chunk, ChunkSettings, SupportedMimeType } from './chunk.js';
import { createInProcessPreparer, type DocumentPreparer, type Preparation, type PrepareOptions } from './document-preparer.js';
import { createWorkerPreparer } from './worker-preparer.js';
import { DEFAULT_VECTOR_WEIGHT, fuse, fuseByRank, type FusedItem, type FusionMethod, type RankedList } from './fusion.js';
import { rerankByMmr } from './mmr.js';
import type { CandidateReranker, RerankReport } from './rerank.js';
import { terms } from '../../platform/text/tokenize.js';
import type { DocumentGraph, GraphStore } from '../../platform/graph/graph-store.js';
import type { ChunkExtraction, EntityExtractor } from './graph/extraction.js';
import { HEURISTIC_EXTRACTOR } from './graph/heuristic-extractor.js';
import { createModelExtractor, type Complete } from './graph/model-extractor.js';
import { retrieveByGraph } from './graph/graph-retriever.js';
import { detectCommunities, type Community } from './graph/communities.js';
import { DeferredIndexBuilds } from './deferred-index-builds.js';
import { EmbeddingBackfill, type EmbeddingStatus } from './embedding-backfill.js';
import { vectorIndexName, vectorLiteral } from './vector-sql.js';
import { pageAt } from './sources/extract.js';
import type { SourceSettings } from './sources/source-policy.js';
import { ingestSources, type IngestSource, type SourceIngestOptions } from './sources/ingest-sources.js';

import { CANCELLED, COLLECTION_NAME, type RetrievalMode } from './constants.js';
type Retriever = 'vector' | 'fulltext' | 'graph';

/** GraphRAG's parts: where the graph is kept, and the extractor configured on the server. */
export interface RagGraph {
  store: GraphStore;
  /** A chat endpoint's extractor (GRAPH_EXTRACTION_URL); absent: sampling, else heuristic. */
  extractor?: EntityExtractor;
}

export interface RagSettings extends ChunkSettings {
  /**
   * Weight of each retriever in hybrid fusion (graph: only when the collection has a graph;
   * vector unset: by the embedder, DEFAULT_VECTOR_WEIGHT).
   */
  weights: { vector?: number; fulltext: number; graph: number };
  /** How hybrid merges the retrievers' lists (fusion.ts). */
  fusion: FusionMethod;
  /** The k of reciprocal-rank fusion (fusion "rrf"). */
  rrfK: number;
  /** HNSW candidate list size per query (higher: better recall, slower). */
  efSearch: number;
  /** Collections up to this many chunks are searched exactly; unset picks per backend (see below). */
  exactScanMaxChunks?: number;
  /** PGlite: how long ingestion into a collection must be quiet before its index is built (default 5 s). */
  vectorIndexQuietMs?: number;
  cacheTtlSeconds: number;
  maxDocumentBytes: number;
  /** Where `sources` may read from (the raw settings; sources/ parses them and names them in errors). */
  sources?: SourceSettings;
}

/** Where a document was read from; kept with it (rag_documents.source) for incremental re-ingest and page citations. */
export interface DocumentSource {
  /** Absolute path of the file. */
  file?: string;
  url?: string;
  /** Bytes of the file as read. */
  size: number;
  mtimeMs?: number;
  /** SHA-256 of the bytes read. */
  sha256: string;
  /** PDF: where each page starts in the document text. */
  pages?: number[];
}

/** A stored document's source, as incremental ingestion compares it. */
export interface StoredSource {
  file?: string;
  size?: number;
  mtimeMs?: number;
  sha256?: string;
}

export interface IngestDocument {
  id: string;
  text: string;
  title?: string;
  uri?: string;
  mimeType: SupportedMimeType;
  metadata?: Record<string, unknown>;
  source?: DocumentSource;
}

export interface IngestResult {
  ingested: number;
  skipped: number;
  chunks: number;
  errors: { id: string; message: string }[];
}

export interface Hit {
  documentId: string;
  chunkId: number;
  text: string;
  score: number;
  retrievers: Partial<Record<Retriever, number>>;
  citation: { documentId: string; title: string | null; uri: string | null; start: number; end: number; page?: number };
}

export interface CollectionSummary {
  name: string;
  documents: number;
  chunks: number;
  embedder: string;
  dimensions: number;
  /** Chunks whose vector is still being computed (full text finds them already). */
  vectorsPending: number;
  /** The embedder a reembed is moving the collection to. */
  movingTo?: string;
  createdAt: string;
}

export interface QueryResult {
  hits: Hit[];
  /** Graph and hybrid modes on a collection with a graph: the entities reached and why. */
  graph?: { entities: { name: string; score: number }[]; paths: string[] };
  /** Hybrid with a reranker configured (rerank.ts): which one, and why it did not order the hits if so. */
  rerank?: RerankReport;
}

interface CollectionRow {
  /** Keys postings and term statistics: an integer is smaller and faster to compare than the name. */
  id: number;
  name: string;
  embedder: string;
  dimensions: number;
  document_count: number;
  chunk_count: number;
  token_total: string | number;
  generation: number;
  created_at: Date | string;
  /** The embedder the collection is moving to (reembed), until its vectors are swapped in. */
  target_embedder: string | null;
  target_dimensions: number | null;
}

type CollectionKey = Pick<CollectionRow, 'id' | 'name'>;

const BM25_K1 = 1.2;
const BM25_B = 0.75;
/**
 * Terms in more than this share of chunks, or in more than FREQUENT_TERM_CHUNKS, are scored
 * last, on the best candidates only: every posting read costs an index probe (and, without an
 * index-only scan, a heap visit for tf and dl), so on large collections the queries whose words
 * sit in thousands of chunks each were the slow ones, even below the 5% share.
 */
const FREQUENT_TERM_SHARE = 0.05;
const FREQUENT_TERM_CHUNKS = 2_000;
const FREQUENT_TERM_CANDIDATES = 1000;
/**
 * Hybrid's BM25 list is proven exact only up to this many frequent-term postings (see
 * fulltext): the budget bounds hybrid's query time on large collections, and at this size its
 * quality is level with an always-exact list, where a smaller budget lost some (the
 * measurements: bench/results/2026-11-rag-measurements.md, "Hybrid's BM25 budget").
 */
const FUSED_EXACT_MAX_POSTINGS = 25_000;
/**
 * Default exactScanMaxChunks. PGlite runs pgvector without SIMD: keeping an HNSW index
 * current there makes every insert slow, while an exact scan of a collection this size is
 * still quick; so PGlite scans exactly up to 20,000 chunks and builds the index only then,
 * once ingestion has paused (deferred-index-builds.ts). PostgreSQL keeps the index from the
 * start, and its exact scan is already many times slower than the index at this size, so it
 * scans exactly only tiny collections (figures: bench/results/2026-11-rag-measurements.md).
 */
const EXACT_SCAN_MAX_CHUNKS = { pglite: 20_000, postgres: 1_000 } as const;
const VECTOR_INDEX_QUIET_MS = 5_000;
/** Room for an HNSW build on PGlite: about 140,000 768-d vectors' graph fits in memory. */
const PGLITE_INDEX_BUILD_MEMORY = '512MB';

function movedDuringIngest(collection: string, embedder: string): EngineError {
  return new EngineError('CONFLICT', `collection "${collection}" moved to the embedder ${embedder} during this ingest; nothing of this batch was written, send it again`);
}

/** Most documents written per transaction. */
const WRITE_GROUP_SIZE = 32;

interface PreparedDocument {
  doc: IngestDocument;
  hash: string;
  replaces: boolean;
  chunks: Chunk[];
  embeddings: Float32Array[];
  frequencies: Map<string, number>[];
  /** Per chunk, when GraphRAG is on. */
  extractions?: ChunkExtraction[];
}

/** A group's documents after preparation: ready to write, unchanged, or failed. */
interface PreparedGroup {
  prepared: PreparedDocument[];
  skipped: number;
  failed: { id: string; error: Error }[];
}

/**
 * Groups prepared ahead of the one being written. One keeps the worker ahead (it prepares a
 * group in about half the time PGlite takes to write one) and bounds what prepared groups hold
 * (vectors: 3 KB per chunk).
 */
const PREPARE_AHEAD_GROUPS = 1;

/** A chunk ready to store. */
interface ChunkRow {
  documentId: string;
  chunk: Chunk;
  /** The chunk's length in terms. */
  tokens: number;
  frequencies: Map<string, number>;
  metadata: string;
  /** null: computed after the write (embedding-backfill.ts). */
  embedding: Float32Array | null;
}

interface TermStats {
  /** Document frequency of each query term present in the collection. */
  df: Map<string, number>;
  /** Its BM25 IDF. */
  idf: Map<string, number>;
}

interface Posting {
  term: string;
  chunkId: number;
  tf: number;
  /** The chunk's length in terms. */
  dl: number;
}

export class RagEngine {
  /** Emits 'collection' with its name when this process creates a collection. */
  readonly events = new EventEmitter();
  private workerPreparer?: DocumentPreparer;
  private readonly inProcessPreparers = new Map<string, DocumentPreparer>();
  private readonly backfill: EmbeddingBackfill;
  /** PGlite: collections whose vector index is known to exist. */
  private readonly vectorIndexed = new Set<string>();
  private readonly indexBuilds: DeferredIndexBuilds;

  constructor(
    private readonly sql: SqlPort,
    private readonly cache: CachePort,
    private readonly embedders: Embedders,
    private readonly settings: RagSettings,
    private readonly log: Logger,
    private readonly graph?: RagGraph,
    private readonly reranker?: CandidateReranker,
  ) {
    this.indexBuilds = new DeferredIndexBuilds({
      build: async (name) => {
        const collection = await this.collection(name);
        if (collection) await this.createVectorIndex(collection);
      },
      quietMs: settings.vectorIndexQuietMs ?? VECTOR_INDEX_QUIET_MS,
      log,
    });
    this.backfill = new EmbeddingBackfill({
      sql,
      embedderFor: (id) => embedders.forId(id),
      moved: async (name) => {
        this.vectorIndexed.delete(name);
        const collection = await this.collection(name);
        if (!collection) return;
        if (this.sql.kind === 'postgres') await this.createVectorIndex(collection);
        else if (collection.chunk_count >= this.exactScanMaxChunks) this.indexBuilds.request(name);
      },
      log,
    });
    // Chunks a stopped process left without a vector.
    this.backfill.wake();
  }

  /** Stops the preparation worker, waits for a running vector index build and cancels waiting ones. */
  async close(): Promise<void> {
    await Promise.all([this.workerPreparer?.close(), this.indexBuilds.close(), this.backfill.close()]);
    await this.embedders.close();
  }

  /** Resolves once the collection (else every collection) has a vector for each chunk this process can embed, and no move is under way. */
  async whenEmbedded(collection?: string): Promise<void> {
    for (;;) {
      await this.backfill.idle();
      const names = collection ? [collection] : (await this.collections()).map((c) => c.name);
      const statuses = await Promise.all(names.map((name) => this.backfill.status(name)));
      // A collection moving to an embedder this process does not run is not waited for.
      const waiting = statuses.some((s) => (s.pending > 0 || s.moving) && (!s.moving || this.embedders.forId(s.moving.to) !== undefined));
      if (!waiting) return;
      this.backfill.wake();
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  }

  /** Chunks still without a vector, and a move under way. */
  embeddingStatus(collection: string): Promise<EmbeddingStatus> {
    return this.backfill.status(collection);
  }

  /**
   * Moves a collection to this server's default embedder: new vectors are computed in the
   * background into next_embedding while queries keep the old ones, then swapped in at once.
   * Returns false when the collection already uses it.
   */
  async reembed(name: string): Promise<boolean> {
    const collection = await this.requireCollection(name);
    const target = this.embedders.default;
    if (collection.embedder === target.id && !collection.target_embedder) return false;
    await this.sql.transaction(async (tx) => {
      // Vectors of an earlier move to another embedder are thrown away.
      if (collection.target_embedder && collection.target_embedder !== target.id) await tx.query('update rag_chunks set next_embedding = null where collection = $1 and next_embedding is not null', [name]);
      await tx.query('update rag_collections set target_embedder = $2, target_dimensions = $3 where name = $1', [name, target.id, await target.dimensions()]);
    });
    this.backfill.wake();
    return true;
  }

  /** Resolves once the vector index builds asked for so far have run (PGlite). */
  whenVectorIndexesBuilt(): Promise<void> {
    return this.indexBuilds.idle();
  }

  /** The configured endpoint first, then the client's model, else the offline heuristic. */
  private extractorFor(sample?: Complete): EntityExtractor {
    if (this.graph?.extractor) return this.graph.extractor;
    if (sample) return createModelExtractor({ id: 'sampling', complete: sample, log: this.log });
    return HEURISTIC_EXTRACTOR;
  }

  private vectorWeight(embedder: EmbeddingsPort): number {
    return this.settings.weights.vector ?? DEFAULT_VECTOR_WEIGHT[isWeightedQueryEmbedder(embedder) ? 'lexical' : 'semantic'];
  }

  private get exactScanMaxChunks(): number {
    return this.settings.exactScanMaxChunks ?? EXACT_SCAN_MAX_CHUNKS[this.sql.kind];
  }

  private async collection(name: string): Promise<CollectionRow | undefined> {
    const { rows } = await this.sql.query<CollectionRow>('select * from rag_collections where name = $1', [name]);
    return rows[0];
  }

  /** The embedder that filled the collection (its vectors compare only with that model's). */
  private embedderOf(collection: CollectionRow): EmbeddingsPort {
    const embedder = this.embedders.forId(collection.embedder);
    if (!embedder) {
      throw new EngineError(
        'CONFLICT',
        `collection "${collection.name}" was embedded with ${collection.embedder}, which this server does not run (it embeds with ${this.embedders.default.id}); configure that embedder (EMBEDDINGS_PROVIDER, EMBEDDINGS_URL / EMBEDDINGS_MODEL, EMBEDDINGS_MODEL_DIR), or move the collection with \`mcp-level3 rag reembed ${collection.name}\``,
      );
    }
    return embedder;
  }

  /** The local model embeds after the write (embedding-backfill.ts); see EmbeddingsPort.background. */
  private embedsLater(embedder: EmbeddingsPort): boolean {
    return embedder.background === true;
  }

  /**
   * The collection's row, inserted in the transaction that writes its first documents: a
   * batch whose documents all fail leaves no empty collection behind. `inserted` is false
   * when it already existed (or another ingest created it first).
   */
  private async insertCollection(tx: SqlExecutor, name: string, embedder: EmbeddingsPort): Promise<{ row: CollectionRow; inserted: boolean }> {
    const inserted = await tx.query<CollectionRow>('insert into rag_collections (name, embedder, dimensions) values ($1, $2, $3) on conflict (name) do nothing returning *', [
      name,
      embedder.id,
      await embedder.dimensions(),
    ]);
    const row = inserted.rows[0] ?? (await tx.query<CollectionRow>('select * from rag_collections where name = $1', [name])).rows[0]!;
    if (row.embedder !== embedder.id) throw movedDuringIngest(name, row.embedder);
    return { row, inserted: inserted.rows.length > 0 };
  }

  /**
   * What a caller reads about a document that failed: an engine error's own message; the
   * NUL character PostgreSQL refuses in text; else a reference to the log line holding the
   * details (internal error text is not the caller's to read).
   */
  private documentFailure(collection: string, id: string, error: unknown): string {
    if (error instanceof EngineError) return error.message;
    const code = (error as { code?: unknown }).code;
    if (code === '22P05' || code === '22021') return 'not stored: the text or metadata holds a character the database cannot store (the NUL character, \\u0000); remove it';
    if (code === '23505') return 'not stored: another document of the same batch has this id; send each id once';
    const reference = randomUUID();
    this.log.error({ collection, document: id, reference, err: error }, 'document ingest failed');
    return `not stored: the server failed unexpectedly (reference ${reference}); the server log has the details`;
  }

  /** After the transaction that created a collection committed: its index (PostgreSQL) and the change event. */
  private async collectionCreated(created: CollectionRow): Promise<void> {
    this.log.info({ collection: created.name, embedder: created.embedder }, 'collection created');
    this.events.emit('collection', created.name);
    if (this.sql.kind === 'postgres') await this.createVectorIndex(created);
  }

  private async createVectorIndex(collection: CollectionRow): Promise<void> {
    const started = performance.now();
    // The name passed COLLECTION_NAME, so it is safe as a literal; the dimension is a number.
    const create = `create index if not exists ${vectorIndexName(collection.name)} on rag_chunks using hnsw ((embedding::vector(${collection.dimensions})) vector_cosine_ops) where collection = '${collection.name}'`;
    if (this.sql.kind === 'postgres') await this.sql.exec(create);
    else {
      // A graph that does not fit in maintenance_work_mem (64 MB by default) is built on disk,
      // insert by insert, at over twice the CPU of a build with room for it.
      await this.sql.transaction(async (tx) => {
        await tx.query(`set local maintenance_work_mem = '${PGLITE_INDEX_BUILD_MEMORY}'`);
        await tx.exec(create);
      });
      this.vectorIndexed.add(collection.name);
    }
    this.log.info({ collection: collection.name, ms: Math.round(performance.now() - started) }, 'vector index ready');
  }

  /**
   * PGlite: whether queries may use the collection's HNSW index. When it is missing and no
   * build is waiting (e.g. the process stopped before it ran), one is asked for.
   */
  private async vectorIndexReady(name: string): Promise<boolean> {
    if (this.vectorIndexed.has(name)) return true;
    if (this.indexBuilds.pending(name)) return false;
    const { rows } = await this.sql.query('select 1 from pg_indexes where indexname = $1', [vectorIndexName(name)]);
    if (rows.length > 0) {
      this.vectorIndexed.add(name);
      return true;
    }
    this.indexBuilds.request(name);
    return false;
  }

  /**
   * PGlite-only upkeep after an ingest: PGlite has no autovacuum, so the RAG tables are
   * analyzed once they have doubled since their last analyze (stale estimates of one row led
   * the planner into nested loops); and a large collection gets its HNSW index, built in the
   * background once ingestion into it has been quiet for vectorIndexQuietMs.
   */
  private async afterIngest(name: string): Promise<void> {
    if (this.sql.kind !== 'pglite') return;
    // Statistics only (a vacuum's visibility map would buy no index-only scans: PGlite's
    // postings key does not cover tf and dl). Statistics are the tables', not a collection's:
    // rag_chunks' reltuples is its row count at the last analyze (-1 before the first), kept
    // in the database, so a restart does not analyze again, and a small collection growing
    // beside a large one does not make every ingest pay for analyzing all of them (on the
    // embedded mixed load that was one ingest in ten taking 300 ms). Estimates off by up to 2×
    // keep the planner's choices.
    const { rows } = await this.sql.query<{ analyzed: number; chunks: number }>(
      `select c.reltuples::float8 as analyzed, (select coalesce(sum(chunk_count), 0) from rag_collections)::float8 as chunks
       from pg_class c where c.oid = 'rag_chunks'::regclass`,
    );
    const { analyzed, chunks } = rows[0] ?? { analyzed: 0, chunks: 0 };
    if (chunks > 0 && chunks >= 2 * Math.max(analyzed, 0)) {
      await this.sql.exec('analyze rag_postings; analyze rag_term_stats; analyze rag_chunks (id, collection, document_id, metadata)');
      // Without statistics a graph table looked like a few hundred rows, and the planner
      // filtered every edge instead of using the source and target indexes.
      if (this.graph?.store.kind === 'postgres') await this.sql.exec('analyze rag_entities; analyze rag_mentions; analyze rag_relations; analyze rag_edges');
    }
    const collection = await this.collection(name);
    if (!collection) return;
    if (collection.chunk_count >= this.exactScanMaxChunks) await this.vectorIndexReady(name);
  }

  async ingest(
    collectionName: string,
    documents: readonly IngestDocument[],
    options: { signal?: AbortSignal; progress?: (done: number, total: number, chunks: number) => Promise<void>; sample?: Complete } = {},
  ): Promise<IngestResult> {
    // A waiting index build, and background embedding, start only once ingestion is quiet.
    const ended = [this.indexBuilds.ingestStarted(collectionName), this.backfill.ingestStarted()];
    try {
      return await this.ingestDocuments(collectionName, documents, options);
    } finally {
      for (const end of ended) end();
    }
  }

  private async ingestDocuments(
    collectionName: string,
    documents: readonly IngestDocument[],
    options: { signal?: AbortSignal; progress?: (done: number, total: number, chunks: number) => Promise<void>; sample?: Complete },
  ): Promise<IngestResult> {
    if (!COLLECTION_NAME.test(collectionName)) throw invalidInput('collection: expected lower-case letters, digits, "_" or "-" (at most 63), e.g. "licenses"');
    // Created with the first documents written (insertCollection), not before.
    let collection = await this.collection(collectionName);
    const embedder = collection ? this.embedderOf(collection) : this.embedders.default;
    const embedLater = this.embedsLater(embedder);
    const extractor = this.graph ? this.extractorFor(options.sample) : undefined;
    const result: IngestResult = { ingested: 0, skipped: 0, chunks: 0, errors: [] };
    const { rows } = await this.sql.query<{ id: string; content_hash: string }>('select id, content_hash from rag_documents where collection = $1 and id = any($2::text[])', [
      collectionName,
      documents.map((d) => d.id),
    ]);
    const storedHashes = new Map(rows.map((r) => [r.id, r.content_hash]));
    const fail = (id: string, error: unknown) => result.errors.push({ id, message: this.documentFailure(collectionName, id, error) });

    // Groups small enough that a batch reports progress at least ten times.
    const groupSize = Math.max(1, Math.min(WRITE_GROUP_SIZE, Math.ceil(documents.length / 10)));
    const groups: IngestDocument[][] = [];
    for (let groupStart = 0; groupStart < documents.length; groupStart += groupSize) groups.push(documents.slice(groupStart, groupStart + groupSize));
    // Preparation runs ahead of the writes: while group N is written, group N + 1 is chunked
    // and embedded (on the worker's core with the offline embedder; overlapping the network
    // waits of remote embedders and extractors). prepare() never rejects.
    const preparer = this.preparerFor(embedder, extractor);
    const preparing: Promise<PreparedGroup>[] = [];
    const prepareAhead = (index: number) => {
      for (let i = index; i < Math.min(groups.length, index + 1 + PREPARE_AHEAD_GROUPS); i++) {
        preparing[i] ??= this.prepare(groups[i]!, storedHashes, preparer, { extractor, signal: options.signal, embed: !embedLater });
      }
    };
    for (const [groupIndex, group] of groups.entries()) {
      const groupStart = groupIndex * groupSize;
      if (options.signal?.aborted) {
        for (const doc of group) result.errors.push({ id: doc.id, message: CANCELLED });
        continue;
      }
      prepareAhead(groupIndex);
      const ready = await preparing[groupIndex]!;
      // An endpoint that is down (embeddings, extraction) is not the documents' fault: before
      // anything is written the call fails as UNAVAILABLE, so the caller retries the batch.
      const outage = ready.failed.find((f) => f.error instanceof EngineError && f.error.code === 'UNAVAILABLE');
      if (outage && ready.prepared.length === 0 && result.ingested === 0 && result.chunks === 0) throw outage.error;
      const prepared: PreparedDocument[] = [];
      for (const doc of ready.prepared) {
        // A document that came earlier in this batch (a repeated id) may have been written since.
        const stored = storedHashes.get(doc.doc.id);
        if (stored === doc.hash) result.skipped++;
        else prepared.push({ ...doc, replaces: stored !== undefined });
      }
      result.skipped += ready.skipped;
      for (const { id, error } of ready.failed) {
        if (options.signal?.aborted) result.errors.push({ id, message: CANCELLED });
        else fail(id, error);
      }
      // One transaction per group. The group is written at once (one statement per table:
      // per-document statements were a third of PGlite's ingest time); if that fails, each
      // document is written under its own savepoint, so the one that fails leaves nothing
      // behind and the others still commit.
      const written: PreparedDocument[] = [];
      // Set when this group's transaction inserts the collection.
      let created: CollectionRow | undefined;
      try {
        await this.sql.transaction(async (tx) => {
          const postings: Posting[] = [];
          const graphs: DocumentGraph[] = [];
          const attempt = async (docs: PreparedDocument[]): Promise<unknown> => {
            await tx.query('savepoint rag_write');
            try {
              // Inside the savepoint: if no document of the group is written, neither is the collection.
              let target = collection;
              let inserted = false;
              if (!target) ({ row: target, inserted } = await this.insertCollection(tx, collectionName, embedder));
              const stored = await this.write(tx, target, docs, embedder.id);
              collection = target;
              if (inserted) created = target;
              // Appended one by one: a spread passes every element as an argument, and a
              // document of a few MB has more postings than the call stack holds.
              for (const posting of stored.postings) postings.push(posting);
              for (const graph of stored.graphs) graphs.push(graph);
              await tx.query('release savepoint rag_write');
              for (const doc of docs) written.push(doc);
              return undefined;
            } catch (error) {
              await tx.query('rollback to savepoint rag_write');
              return error;
            }
          };
          if (prepared.length === 1 || (prepared.length > 1 && (await attempt(prepared)) !== undefined)) {
            for (const doc of prepared) {
              const error = await attempt([doc]);
              if (error !== undefined) fail(doc.doc.id, error);
            }
          }
          // Postings and document frequencies of the whole group in one statement each:
          // written per document they were most of the ingest time.
          if (!collection) return; // nothing was written
          await this.writePostings(tx, collection.id, postings);
          if (this.graph && graphs.length > 0) await this.graph.store.addDocuments(collectionName, graphs, tx);
          const df = new Map<string, number>();
          for (const doc of written) for (const f of doc.frequencies) for (const term of f.keys()) df.set(term, (df.get(term) ?? 0) + 1);
          if (df.size > 0) {
            const terms = [...df.keys()].sort(); // the key's order, as for the postings
            await tx.query(
              `insert into rag_term_stats (collection_id, term, df) select $1, u.term, u.df from unnest($2::text[], $3::int[]) as u(term, df)
               on conflict (collection_id, term) do update set df = rag_term_stats.df + excluded.df`,
              [collection.id, terms, terms.map((term) => df.get(term)!)],
            );
          }
        });
      } catch (error) {
        for (const doc of written) fail(doc.doc.id, error);
        written.length = 0;
        // Its insert was rolled back with the group.
        if (created) collection = created = undefined;
      }
      if (created) await this.collectionCreated(created);
      for (const doc of written) {
        storedHashes.set(doc.doc.id, doc.hash);
        result.ingested++;
        result.chunks += doc.chunks.length;
      }
      if (options.progress && documents.length > 1) await options.progress(Math.min(groupStart + group.length, documents.length), documents.length, result.chunks);
    }
    if (result.ingested > 0) await this.afterIngest(collectionName);
    if (result.chunks > 0 && embedLater) this.backfill.wake();
    return result;
  }

  /**
   * Checks a group's documents (size; unchanged ones are skipped by hash) and has the
   * preparer chunk, embed and analyze the others. Never rejects: failures are per document.
   */
  private async prepare(group: readonly IngestDocument[], storedHashes: Map<string, string>, preparer: DocumentPreparer, options: PrepareOptions): Promise<PreparedGroup> {
    const out: PreparedGroup = { prepared: [], skipped: 0, failed: [] };
    const todo: { doc: IngestDocument; hash: string }[] = [];
    for (const doc of group) {
      const bytes = Buffer.byteLength(doc.text, 'utf8');
      if (bytes > this.settings.maxDocumentBytes) {
        const mib = (n: number) => (n / 1024 / 1024).toFixed(1);
        out.failed.push({
          id: doc.id,
          error: invalidInput(`text is ${mib(bytes)} MiB, over the ${mib(this.settings.maxDocumentBytes)} MiB limit (RAG_engine.settings.maxDocumentBytes); split it into several documents`),
        });
        continue;
      }
      // With GraphRAG on the hash differs, so documents ingested without a graph get one.
      const hash = sha256Hex(JSON.stringify([doc.title ?? null, doc.uri ?? null, doc.mimeType, doc.metadata ?? {}, doc.text, ...(this.graph ? ['graph'] : [])]));
      if (storedHashes.get(doc.id) === hash) out.skipped++;
      else todo.push({ doc, hash });
    }
    let preparations: Preparation[];
    try {
      preparations = await preparer.prepare(
        todo.map((t) => t.doc),
        options,
      );
    } catch (error) {
      preparations = todo.map(() => ({ error: error as Error }));
    }
    todo.forEach(({ doc, hash }, i) => {
      const { content, error } = preparations[i]!;
      if (content) out.prepared.push({ doc, hash, replaces: storedHashes.has(doc.id), ...content });
      else out.failed.push({ id: doc.id, error });
    });
    // Errors in the order the documents came in.
    const position = new Map(group.map((doc, i) => [doc.id, i]));
    out.failed.sort((a, b) => position.get(a.id)! - position.get(b.id)!);
    return out;
  }

  /**
   * With the heuristic extractor (or none), documents are prepared on a worker thread, beside
   * PGlite's writes on this one: with the offline embedder's vectors, or with none when the
   * embedder runs after the write. Model extractors prepare in process: they wait on the
   * network, and sampling must call back to the client from here.
   */
  private preparerFor(embedder: EmbeddingsPort, extractor?: EntityExtractor): DocumentPreparer {
    const dimensions = offlineEmbedderDimensions(embedder);
    if ((dimensions !== undefined || this.embedsLater(embedder)) && (extractor === undefined || extractor === HEURISTIC_EXTRACTOR)) {
      return (this.workerPreparer ??= createWorkerPreparer({ dimensions: dimensions ?? OFFLINE_DIMENSIONS, chunking: { chunkSize: this.settings.chunkSize, chunkOverlap: this.settings.chunkOverlap } }));
    }
    let preparer = this.inProcessPreparers.get(embedder.id);
    if (!preparer) this.inProcessPreparers.set(embedder.id, (preparer = createInProcessPreparer(embedder, this.settings)));
    return preparer;
  }

  private async writePostings(tx: SqlExecutor, collectionId: number, unordered: Posting[]): Promise<void> {
    if (unordered.length === 0) return;
    // In the primary key's order (collection, term, chunk): each index page is then filled in
    // one visit rather than revisited for every chunk that has one of its terms: 11-17% less
    // time in the COPY (node bench/postings-order.mjs).
    const postings = [...unordered].sort((a, b) => (a.term < b.term ? -1 : a.term > b.term ? 1 : a.chunkId - b.chunkId));
    if (tx.copyBinary) {
      const rows = postings.map((p) => [collectionId, p.term, p.chunkId, p.tf, p.dl]);
      await tx.copyBinary('rag_postings', ['collection_id', 'term', 'chunk_id', 'tf', 'dl'], encodeCopyBinary(['int4', 'text', 'int4', 'int4', 'int4'], rows));
    } else {
      await tx.query(
        `insert into rag_postings (collection_id, term, chunk_id, tf, dl)
         select $1, u.term, u.chunk_id, u.tf, u.dl from unnest($2::text[], $3::int[], $4::int[], $5::int[]) as u(term, chunk_id, tf, dl)`,
        [collectionId, postings.map((p) => p.term), postings.map((p) => p.chunkId), postings.map((p) => p.tf), postings.map((p) => p.dl)],
      );
    }
  }

  /**
   * Writes documents and their chunks and returns their postings (chunk ids exist only now);
   * the caller writes the group's postings and document frequencies.
   */
  private async write(tx: SqlExecutor, key: CollectionKey, docs: readonly PreparedDocument[], embedderId: string): Promise<{ postings: Posting[]; graphs: DocumentGraph[] }> {
    const collection = key.name;
    const replaced = docs.filter((d) => d.replaces).map((d) => d.doc.id);
    if (replaced.length > 0) await this.removeDocuments(tx, key, replaced);
    await tx.query(
      `insert into rag_documents (collection, id, title, uri, mime_type, content_hash, metadata, text, chunk_count, source)
       select $1, u.id, u.title, u.uri, u.mime_type, u.content_hash, u.metadata::jsonb, u.text, u.chunk_count, u.source::jsonb
       from unnest($2::text[], $3::text[], $4::text[], $5::text[], $6::text[], $7::text[], $8::text[], $9::int[], $10::text[]) as u(id, title, uri, mime_type, content_hash, metadata, text, chunk_count, source)`,
      [
        collection,
        docs.map((d) => d.doc.id),
        docs.map((d) => d.doc.title ?? null),
        docs.map((d) => d.doc.uri ?? null),
        docs.map((d) => d.doc.mimeType),
        docs.map((d) => d.hash),
        docs.map((d) => JSON.stringify(d.doc.metadata ?? {})),
        docs.map((d) => d.doc.text),
        docs.map((d) => d.chunks.length),
        // graph: whether it was indexed with GraphRAG, so turning GraphRAG on re-indexes files as it does inline documents.
        docs.map((d) => (d.doc.source ? JSON.stringify({ ...d.doc.source, ...(this.graph ? { graph: true } : {}) }) : null)),
      ],
    );
    const rows: ChunkRow[] = docs.flatMap((d) => {
      const metadata = JSON.stringify(d.doc.metadata ?? {});
      return d.chunks.map((chunk, i) => {
        const frequencies = d.frequencies[i]!;
        let tokens = 0;
        for (const tf of frequencies.values()) tokens += tf;
        return { documentId: d.doc.id, chunk, tokens, frequencies, metadata, embedding: d.embeddings[i] ?? null };
      });
    });
    const ids = tx.copyBinary ? await this.copyChunks(tx, collection, rows) : await this.insertChunks(tx, collection, rows);
    const postings: Posting[] = [];
    rows.forEach((row, i) => {
      for (const [term, tf] of row.frequencies) postings.push({ term, chunkId: ids[i]!, tf, dl: row.tokens });
    });
    // The collection may have moved to another embedder since this ingest read it (reembed's
    // swap holds this row while it runs): then these vectors, or the ones to come, would not
    // compare with its others.
    const { rows: counted } = await tx.query<{ embedder: string }>(
      `update rag_collections set document_count = document_count + $2, chunk_count = chunk_count + $3, token_total = token_total + $4, generation = generation + 1 where name = $1 returning embedder`,
      [collection, docs.length, rows.length, rows.reduce((sum, row) => sum + row.tokens, 0)],
    );
    if (counted[0] && counted[0].embedder !== embedderId) throw movedDuringIngest(collection, counted[0].embedder);
    const graphs: DocumentGraph[] = [];
    let offset = 0;
    for (const d of docs) {
      if (d.extractions) graphs.push({ documentId: d.doc.id, chunks: d.chunks.map((_, i) => ({ chunkId: ids[offset + i]!, ...d.extractions![i]! })) });
      offset += d.chunks.length;
    }
    return { postings, graphs };
  }

  /**
   * Chunk rows through binary COPY (PGlite: no vector text to parse), with ids taken from the
   * identity's sequence first (COPY writes given identity values); returns ids in row order.
   */
  private async copyChunks(tx: SqlExecutor, collection: string, rows: readonly ChunkRow[]): Promise<number[]> {
    // One range at once: PGlite has a single connection, so nothing draws from the sequence
    // between nextval and setval (a nextval per row is a statement per chunk).
    const { rows: reserved } = await tx.query<{ last: number }>("select setval(pg_get_serial_sequence('rag_chunks', 'id'), nextval(pg_get_serial_sequence('rag_chunks', 'id')) + $1 - 1)::int as last", [
      rows.length,
    ]);
    const first = reserved[0]!.last - rows.length + 1;
    const ids = rows.map((_, i) => first + i);
    await tx.copyBinary!(
      'rag_chunks',
      ['id', 'collection', 'document_id', 'ordinal', 'text', 'start_offset', 'end_offset', 'token_count', 'terms', 'metadata', 'embedding'],
      encodeCopyBinary(
        ['int4', 'text', 'text', 'int4', 'text', 'int4', 'int4', 'int4', 'text[]', 'jsonb', 'vector'],
        rows.map((r, i) => [ids[i], collection, r.documentId, r.chunk.ordinal, r.chunk.text, r.chunk.start, r.chunk.end, r.tokens, [...r.frequencies.keys()], r.metadata, r.embedding]),
      ),
    );
    return ids;
  }

  /** Chunk rows through one parameterized insert (PostgreSQL parses the vectors natively); ids in row order. */
  private async insertChunks(tx: SqlExecutor, collection: string, rows: readonly ChunkRow[]): Promise<number[]> {
    const { rows: inserted } = await tx.query<{ id: number; document_id: string; ordinal: number }>(
      `insert into rag_chunks (collection, document_id, ordinal, text, start_offset, end_offset, token_count, terms, metadata, embedding)
       select $1, u.document_id, u.ordinal, u.text, u.start_offset, u.end_offset, u.token_count, string_to_array(u.terms, ' '), u.metadata::jsonb, u.embedding::vector
       from unnest($2::text[], $3::int[], $4::text[], $5::int[], $6::int[], $7::int[], $8::text[], $9::text[], $10::text[]) as u(document_id, ordinal, text, start_offset, end_offset, token_count, embedding, terms, metadata)
       returning id, document_id, ordinal`,
      [
        collection,
        rows.map((r) => r.documentId),
        rows.map((r) => r.chunk.ordinal),
        rows.map((r) => r.chunk.text),
        rows.map((r) => r.chunk.start),
        rows.map((r) => r.chunk.end),
        rows.map((r) => r.tokens),
        rows.map((r) => (r.embedding ? vectorLiteral(r.embedding) : null)),
        // terms never contain spaces (the analyzer splits on them), so a space-joined
        // string is an unambiguous, cheap way to pass a text[] per row through unnest
        rows.map((r) => [...r.frequencies.keys()].join(' ')),
        rows.map((r) => r.metadata),
      ],
    );
    const idOf = new Map(inserted.map((r) => [`${r.document_id}\u0000${r.ordinal}`, r.id]));
    return rows.map((r) => idOf.get(`${r.documentId}\u0000${r.chunk.ordinal}`)!);
  }

  /** Removes documents with their chunks, postings and term statistics, inside tx. */
  private async removeDocuments(tx: SqlExecutor, { id: collectionId, name: collection }: CollectionKey, ids: readonly string[]): Promise<number> {
    await tx.exec('create temporary table if not exists rag_removed (chunk_id integer, term text) on commit drop; delete from rag_removed');
    await tx.query(
      `insert into rag_removed select c.id, unnest(c.terms) from rag_chunks c where c.collection = $1 and c.document_id = any($2::text[])`,
      [collection, ids],
    );
    await tx.query(
      `update rag_term_stats s set df = s.df - x.n
       from (select term, count(*) as n from rag_removed group by term) x
       where s.collection_id = $1 and s.term = x.term`,
      [collectionId],
    );
    await tx.query('delete from rag_term_stats where collection_id = $1 and df <= 0', [collectionId]);
    await tx.query('delete from rag_postings p using rag_removed r where p.collection_id = $1 and p.term = r.term and p.chunk_id = r.chunk_id', [collectionId]);
    const totals = await tx.query<{ chunks: number; tokens: number }>(
      'select count(*)::int as chunks, coalesce(sum(token_count), 0)::int as tokens from rag_chunks where collection = $1 and document_id = any($2::text[])',
      [collection, ids],
    );
    await this.graph?.store.removeDocuments(collection, ids, tx);
    const deleted = await tx.query('delete from rag_documents where collection = $1 and id = any($2::text[])', [collection, ids]);
    await tx.query(
      `update rag_collections set document_count = document_count - $2, chunk_count = chunk_count - $3, token_total = token_total - $4, generation = generation + 1 where name = $1`,
      [collection, deleted.rowCount, totals.rows[0]!.chunks, totals.rows[0]!.tokens],
    );
    return deleted.rowCount;
  }

  async delete(collectionName: string, selector: { documentIds?: readonly string[]; filter?: Record<string, unknown> }): Promise<number> {
    const collection = await this.requireCollection(collectionName);
    if (selector.filter) await this.assertFilterFields(collection.name, selector.filter);
    return this.sql.transaction(async (tx) => {
      const ids = selector.documentIds
        ? [...selector.documentIds]
        : (await tx.query<{ id: string }>('select id from rag_documents where collection = $1 and metadata @> $2::jsonb', [collection.name, JSON.stringify(selector.filter)])).rows.map(
            (r) => r.id,
          );
      if (ids.length === 0) return 0;
      return this.removeDocuments(tx, collection, ids);
    });
  }

  private async requireCollection(name: string): Promise<CollectionRow> {
    const collection = await this.collection(name);
    if (!collection) {
      const { rows } = await this.sql.query<{ name: string }>('select name from rag_collections order by name limit 20');
      const known = rows.map((r) => `"${r.name}"`).join(', ');
      throw notFound(`collection: no collection "${name}" (${known ? `existing: ${known}` : 'none exist yet'}; rag_ingest creates one)`);
    }
    return collection;
  }

  private async assertFilterFields(collection: string, filter: Record<string, unknown>): Promise<void> {
    const { rows } = await this.sql.query<{ key: string }>('select distinct jsonb_object_keys(metadata) as key from rag_documents where collection = $1', [collection]);
    const known = new Set(rows.map((r) => r.key));
    const unknown = Object.keys(filter).filter((key) => !known.has(key));
    if (unknown.length > 0) {
      const fields = [...known].sort().map((k) => `"${k}"`).join(', ');
      throw invalidInput(`filter: no document in "${collection}" has the metadata field ${unknown.map((k) => `"${k}"`).join(', ')} (${fields ? `fields present: ${fields}` : 'its documents have no metadata'})`);
    }
  }

  async collections(): Promise<CollectionSummary[]> {
    const [{ rows }, pending] = await Promise.all([this.sql.query<CollectionRow>('select * from rag_collections order by name'), this.backfill.pendingCounts()]);
    return rows.map((r) => ({
      name: r.name,
      documents: r.document_count,
      chunks: r.chunk_count,
      embedder: r.embedder,
      dimensions: r.dimensions,
      vectorsPending: pending.get(r.name) ?? 0,
      ...(r.target_embedder ? { movingTo: r.target_embedder } : {}),
      createdAt: isoTimestamp(r.created_at),
    }));
  }

  /** What new collections are embedded with, whether it is a semantic model, and why not when the local model is missing. */
  embedderInfo(): { id: string; semantic: boolean; fallback?: string } {
    const embedder = this.embedders.default;
    return { id: embedder.id, semantic: !isWeightedQueryEmbedder(embedder), ...(this.embedders.fallback ? { fallback: this.embedders.fallback } : {}) };
  }

  async document(collection: string, id: string) {
    const { rows } = await this.sql.query<{ id: string; title: string | null; uri: string | null; mime_type: string; metadata: Record<string, unknown>; text: string; chunk_count: number; updated_at: Date }>(
      'select id, title, uri, mime_type, metadata, text, chunk_count, updated_at from rag_documents where collection = $1 and id = $2',
      [collection, id],
    );
    const row = rows[0];
    if (!row) throw notFound(`no document "${id}" in collection "${collection}"`);
    return { id: row.id, title: row.title, uri: row.uri, mimeType: row.mime_type, metadata: row.metadata, text: row.text, chunks: row.chunk_count, updatedAt: isoTimestamp(row.updated_at) };
  }

  async documentIds(collection: string, prefix: string, limit = 50): Promise<string[]> {
    const { rows } = await this.sql.query<{ id: string }>(`select id from rag_documents where collection = $1 and id like $2 escape '\\' order by id limit $3`, [
      collection,
      `${prefix.replace(/[\\%_]/g, (c) => `\\${c}`)}%`,
      limit,
    ]);
    return rows.map((r) => r.id);
  }

  /** Ingests files and folders (under RAG_INGEST_ROOTS) and URLs (on RAG_INGEST_URL_HOSTS): sources/. */
  ingestSources(collection: string, sources: readonly IngestSource[], options: SourceIngestOptions = {}): Promise<IngestResult> {
    return ingestSources(this, this.settings, collection, sources, options);
  }

  /**
   * The file sources of a collection's documents (id → file, size, mtime, hash): what an
   * incremental ingest compares a folder with, in one query. Empty for a collection that does
   * not exist yet. With GraphRAG on, documents indexed without it are left out, so they are
   * read and indexed again.
   */
  async storedSources(collection: string): Promise<Map<string, StoredSource>> {
    const { rows } = await this.sql.query<{ id: string; file: string | null; size: number | null; mtime_ms: number | null; sha256: string | null }>(
      `select id, source->>'file' as file, (source->>'size')::float8 as size, (source->>'mtimeMs')::float8 as mtime_ms, source->>'sha256' as sha256
       from rag_documents where collection = $1 and source is not null and ($2::boolean is false or source ? 'graph')`,
      [collection, this.graph !== undefined],
    );
    return new Map(rows.map((r) => [r.id, { file: r.file ?? undefined, size: r.size ?? undefined, mtimeMs: r.mtime_ms ?? undefined, sha256: r.sha256 ?? undefined }]));
  }

  /**
   * Records that files were touched but their bytes are unchanged: their stored size, mtime
   * and path (source and the `mtime` metadata of the document and its chunks), without
   * re-indexing them, so the next run skips them on size and mtime alone.
   */
  async touchSources(collectionName: string, touched: readonly { id: string; file: string; size: number; mtimeMs: number; mtime: string }[]): Promise<void> {
    if (touched.length === 0) return;
    const ids = touched.map((t) => t.id);
    const mtimes = touched.map((t) => t.mtime);
    await this.sql.transaction(async (tx) => {
      await tx.query(
        `update rag_documents d set source = d.source || jsonb_build_object('file', u.file, 'size', u.size, 'mtimeMs', u.mtime_ms),
           metadata = case when d.metadata ? 'mtime' then d.metadata || jsonb_build_object('mtime', u.mtime) else d.metadata end
         from unnest($2::text[], $3::text[], $4::float8[], $5::float8[], $6::text[]) as u(id, file, size, mtime_ms, mtime)
         where d.collection = $1 and d.id = u.id`,
        [collectionName, ids, touched.map((t) => t.file), touched.map((t) => t.size), touched.map((t) => t.mtimeMs), mtimes],
      );
      await tx.query(
        `update rag_chunks c set metadata = c.metadata || jsonb_build_object('mtime', u.mtime)
         from unnest($2::text[], $3::text[]) as u(id, mtime)
         where c.collection = $1 and c.document_id = u.id and c.metadata ? 'mtime'`,
        [collectionName, ids, mtimes],
      );
      await tx.query('update rag_collections set generation = generation + 1 where name = $1', [collectionName]);
    });
  }

  /**
   * diversity (0..1, default 0) re-ranks the candidates by maximal marginal relevance with
   * λ = 1 − diversity, using the chunks' stored vectors; 0 leaves the ranking as it is.
   * With a reranker configured, hybrid's best fused candidates are ordered by it first
   * (rerank.ts); rerank: false skips it.
   */
  async query(input: { collection: string; query: string; mode: RetrievalMode; topK: number; filter?: Record<string, unknown>; diversity?: number; rerank?: boolean }): Promise<QueryResult> {
    const collection = await this.requireCollection(input.collection);
    const embedder = this.embedderOf(collection);
    if (!input.query.trim()) throw invalidInput('query: is empty; ask in words, e.g. "which licenses require source disclosure"');
    if (input.filter) await this.assertFilterFields(collection.name, input.filter);

    const diversity = input.diversity ?? 0;
    if (!(diversity >= 0 && diversity <= 1)) throw invalidInput(`diversity: expected a number from 0 (off) to 1, e.g. 0.3; got ${input.diversity}`);
    const reranker = input.mode === 'hybrid' && input.rerank !== false ? this.reranker : undefined;
    const cacheKey = `rag:query:${collection.name}:${new Date(collection.created_at).getTime()}.${collection.generation}:${sha256Key(JSON.stringify([input.query, input.mode, input.topK, input.filter ?? null, diversity, ...(reranker ? [reranker.id] : [])]))}`;
    const cached = await this.cache.get(cacheKey);
    if (cached) return JSON.parse(cached) as QueryResult;

    const { mode } = input;
    // Vectors still being computed make the vector list partial: such a result is not cached.
    // Only an embedder that embeds after the write leaves chunks without one.
    const partial = this.embedsLater(embedder) && mode !== 'fulltext' && mode !== 'graph' && (await this.backfill.hasPending(collection.name));
    const hybrid = mode === 'hybrid';
    const useGraph = mode === 'graph' || (hybrid && this.graph !== undefined && this.settings.weights.graph > 0);
    if (mode === 'graph') await this.assertGraph(collection);
    // Fusion and MMR choose among more candidates than they return.
    const pool = Math.max(50, input.topK * 5, reranker?.candidates ?? 0);
    const depth = hybrid || diversity > 0 ? pool : input.topK;
    const queryTerms = terms(input.query);
    // One look-up of the query terms' statistics serves BM25 and the query embedding.
    const stats = mode === 'graph' ? undefined : await this.termStats(collection, [...new Set(queryTerms)]);
    // The retrievers at once: on PostgreSQL they run on pooled connections of their own.
    const [fulltext, vector, graph, graphExists] = await Promise.all([
      mode === 'fulltext' || hybrid ? this.fulltext(collection, stats!, depth, input.filter, hybrid ? input.topK : undefined) : undefined,
      mode === 'vector' || hybrid ? this.vector(collection, embedder, input.query, stats!.idf, depth, input.filter) : undefined,
      useGraph ? this.graphRetrieval(collection, queryTerms, depth, input.filter, { anchoredOnly: hybrid }) : undefined,
      // whether hybrid reports a graph when the query reached no entity
      hybrid && useGraph ? this.hasGraph(collection.name) : mode === 'graph',
    ]);
    const lists: RankedList[] = [];
    if (fulltext) lists.push({ retriever: 'fulltext', weight: this.settings.weights.fulltext, items: fulltext });
    if (vector) lists.push({ retriever: 'vector', weight: this.vectorWeight(embedder), items: vector });
    // In hybrid the graph speaks only for queries that name one of its entities outright:
    // for any other, graphRetrieval returns no chunks (anchoredOnly).
    if (graph) lists.push({ retriever: 'graph', weight: this.settings.weights.graph, items: graph.chunks });
    let ranked = hybrid ? fuse(lists, { method: this.settings.fusion, rrfK: this.settings.rrfK }) : fuseByRank(lists, this.settings.rrfK, { keepScores: true });
    const reranked = reranker && (await reranker.rerank(this.sql, input.query, ranked, input.topK));
    if (reranked) ranked = reranked.items;
    const fused = diversity > 0 ? await this.diversify(ranked.slice(0, pool), 1 - diversity, input.topK) : ranked.slice(0, input.topK);
    // A collection without a graph contributes nothing to hybrid and says nothing about it.
    const withGraph = graph && (graphExists || graph.entities.length > 0);
    const result: QueryResult = { hits: await this.hydrate(fused), ...(withGraph ? { graph: { entities: graph.entities, paths: graph.paths } } : {}), ...(reranked ? { rerank: reranked.report } : {}) };
    // Not kept: a result from a partial vector list, or a fallback to the fused order (the next query asks the reranker again).
    if (!partial && !reranked?.report.warning) await this.cache.set(cacheKey, JSON.stringify(result), this.settings.cacheTtlSeconds);
    return result;
  }

  /** MMR over the candidates, with similarities from the chunks' stored vectors. */
  private async diversify(candidates: FusedItem[], lambda: number, k: number): Promise<FusedItem[]> {
    if (candidates.length <= 1) return candidates.slice(0, k);
    // pgvector's text form is a JSON array, the cheapest way to read a vector back.
    const { rows } = await this.sql.query<{ id: number; embedding: string }>('select id, embedding::text as embedding from rag_chunks where id = any($1::int[]) and embedding is not null', [
      candidates.map((c) => c.id),
    ]);
    const vectors = new Map(rows.map((r) => [r.id, JSON.parse(r.embedding) as number[]]));
    return rerankByMmr(candidates, vectors, lambda, k);
  }

  private async hasGraph(collection: string): Promise<boolean> {
    return this.graph !== undefined && (await this.graph.store.hasEntities(collection));
  }

  private async assertGraph(collection: CollectionRow): Promise<void> {
    if (!this.graph) {
      throw invalidInput('mode: "graph" needs GraphRAG, which this server has turned off; add GraphRAG to RAG_engine.modules in config/engine_map.yaml, restart, and ingest the documents again');
    }
    if (!(await this.hasGraph(collection.name))) {
      throw invalidInput(
        `mode: collection "${collection.name}" has no graph yet (its documents were ingested without entity extraction, or none had any entities); ingest its documents again with rag_ingest to build one, or use mode "hybrid", "fulltext" or "vector"`,
      );
    }
  }

  private async graphRetrieval(collection: CollectionRow, queryTerms: string[], depth: number, filter: Record<string, unknown> | undefined, options: { anchoredOnly: boolean }) {
    // Filtered queries look deeper, since the filter drops some of the graph's chunks.
    const found = await retrieveByGraph(this.graph!.store, collection.name, queryTerms, collection.chunk_count, filter ? depth * 4 : depth, options);
    if (!filter || found.chunks.length === 0) return found;
    const { rows } = await this.sql.query<{ id: number }>('select id from rag_chunks where id = any($1::int[]) and metadata @> $2::jsonb', [
      found.chunks.map((c) => c.id),
      JSON.stringify(filter),
    ]);
    const kept = new Set(rows.map((r) => r.id));
    return { ...found, chunks: found.chunks.filter((c) => kept.has(c.id)).slice(0, depth) };
  }

  /** Communities of the collection's graph with extractive summaries (cached per generation). */
  async communities(collectionName: string): Promise<Community[]> {
    const collection = await this.requireCollection(collectionName);
    await this.assertGraph(collection);
    const cacheKey = `rag:communities:${collection.name}:${new Date(collection.created_at).getTime()}.${collection.generation}`;
    const cached = await this.cache.get(cacheKey);
    if (cached) return JSON.parse(cached) as Community[];
    const communities = await detectCommunities(this.graph!.store, collection.name, async (ids) => {
      const { rows } = await this.sql.query<{ id: number; document_id: string; text: string }>('select id, document_id, text from rag_chunks where id = any($1::int[])', [ids]);
      return rows.map((r) => ({ id: r.id, documentId: r.document_id, text: r.text }));
    });
    await this.cache.set(cacheKey, JSON.stringify(communities), this.settings.cacheTtlSeconds);
    return communities;
  }

  /**
   * BM25's best `limit` chunks. With `fusedFor` (hybrid's topK) the list is a fusion input,
   * and when proving its order would read more than FUSED_EXACT_MAX_POSTINGS postings of
   * frequent terms, it ranks exactly the chunks holding at least one rarer query term and
   * leaves out chunks with frequent terms only (unless that leaves fewer than topK): proving
   * the order down to the 50th place made most hybrid queries on large collections read
   * every posting of their frequent terms. Small collections stay exact: their frequent
   * terms have too few postings to reach the budget.
   */
  private async fulltext(collection: CollectionRow, { df, idf }: TermStats, limit: number, filter?: Record<string, unknown>, fusedFor?: number) {
    if (df.size === 0) return [];
    const n = collection.chunk_count;
    const threshold = Math.min(n * FREQUENT_TERM_SHARE, FREQUENT_TERM_CHUNKS);
    const frequent = [...df].filter(([, count]) => count > threshold).map(([term]) => term);
    const rare = [...df].filter(([, count]) => count <= threshold).map(([term]) => term);
    if (frequent.length === 0 || rare.length === 0) return this.bm25(collection, [...idf.keys()], idf, limit, filter);

    // MaxScore-style: rank by the rare terms, then add the frequent terms' contribution to the
    // best candidates only. A chunk left out scores less than its rare score (at most the last
    // candidate's, or none when every chunk with a rare term is a candidate) plus the frequent
    // terms' upper bound (idf × (k1 + 1) each); when the k-th result reaches that, the result
    // is exact. Otherwise, fall back to scoring every posting.
    const cut = Math.max(FREQUENT_TERM_CANDIDATES, limit);
    const candidates = await this.bm25(collection, rare, idf, cut, filter);
    if (candidates.length === 0) return this.bm25(collection, [...idf.keys()], idf, limit, filter);
    const extra = await this.bm25(collection, frequent, idf, candidates.length, undefined, candidates.map((c) => c.id));
    const extraById = new Map(extra.map((e) => [e.id, e.score]));
    const combined = candidates.map((c) => ({ id: c.id, score: c.score + (extraById.get(c.id) ?? 0) })).sort((a, b) => b.score - a.score || a.id - b.id);
    const leftOutRare = candidates.length < cut ? 0 : candidates.at(-1)!.score;
    const bound = leftOutRare + frequent.reduce((sum, term) => sum + (idf.get(term) ?? 0) * (BM25_K1 + 1), 0);
    const top = combined.slice(0, limit);
    if (top.length === limit && top.at(-1)!.score >= bound) return top;
    const frequentPostings = frequent.reduce((sum, term) => sum + df.get(term)!, 0);
    if (fusedFor !== undefined && top.length >= fusedFor && frequentPostings > FUSED_EXACT_MAX_POSTINGS) return top;
    return this.bm25(collection, [...idf.keys()], idf, limit, filter);
  }

  /** BM25 over the given terms, optionally only among some chunks. */
  private async bm25(
    collection: CollectionRow,
    queryTerms: string[],
    idf: Map<string, number>,
    limit: number,
    filter?: Record<string, unknown>,
    onlyChunks?: number[],
  ): Promise<{ id: number; score: number }[]> {
    if (queryTerms.length === 0) return [];
    const n = collection.chunk_count;
    const avgdl = n > 0 ? Number(collection.token_total) / n : 1;
    // Without a filter BM25 reads postings alone; a filter joins the chunks' metadata.
    const { rows } = await this.sql.query<{ chunk_id: number; score: number }>(
      `select p.chunk_id, sum(q.idf * p.tf * ($4::float8 + 1) / (p.tf + $4::float8 * (1 - $5::float8 + $5::float8 * p.dl / $3::float8)))::float8 as score
       from unnest($2::text[], $6::float8[]) as q(term, idf)
       join rag_postings p on p.collection_id = $1 and p.term = q.term
       ${filter ? 'join rag_chunks c on c.id = p.chunk_id and c.metadata @> $9::jsonb' : ''}
       where ($8::int[] is null or p.chunk_id = any($8::int[]))
       group by p.chunk_id
       order by score desc, p.chunk_id
       limit $7`,
      [
        collection.id,
        queryTerms,
        avgdl,
        BM25_K1,
        BM25_B,
        queryTerms.map((t) => idf.get(t) ?? 0),
        limit,
        onlyChunks ?? null,
        ...(filter ? [JSON.stringify(filter)] : []),
      ],
    );
    return rows.map((r) => ({ id: r.chunk_id, score: r.score }));
  }

  /** Document frequency and BM25 IDF of each query term present in the collection. */
  private async termStats(collection: CollectionRow, queryTerms: string[]): Promise<TermStats> {
    if (queryTerms.length === 0) return { df: new Map(), idf: new Map() };
    const { rows } = await this.sql.query<{ term: string; df: number }>('select term, df from rag_term_stats where collection_id = $1 and term = any($2::text[])', [
      collection.id,
      queryTerms,
    ]);
    const n = collection.chunk_count;
    return {
      df: new Map(rows.map((r) => [r.term, r.df])),
      idf: new Map(rows.map((r) => [r.term, Math.log(1 + (n - r.df + 0.5) / (r.df + 0.5))])),
    };
  }

  private async embedQuery(embedder: EmbeddingsPort, text: string, idf: Map<string, number>): Promise<Float32Array> {
    if (isWeightedQueryEmbedder(embedder)) return embedder.embedQuery(text, (term) => idf.get(term) ?? 0);
    const [embedding] = embedder.embedQueries ? await embedder.embedQueries([text]) : await embedder.embed([text]);
    return embedding!;
  }

  private async vector(collection: CollectionRow, embedder: EmbeddingsPort, text: string, idf: Map<string, number>, limit: number, filter?: Record<string, unknown>) {
    const literal = vectorLiteral(await this.embedQuery(embedder, text, idf));
    const exact = collection.chunk_count <= this.exactScanMaxChunks || (this.sql.kind === 'pglite' && !(await this.vectorIndexReady(collection.name)));
    if (exact) {
      // Without the typed cast the HNSW index cannot serve the ordering: this scan is exact.
      const { rows } = await this.sql.query<{ id: number; distance: number }>(
        `select id, (embedding <=> $2::vector)::float8 as distance from rag_chunks
         where collection = $1 and embedding is not null and ($3::jsonb is null or metadata @> $3::jsonb)
         order by embedding <=> $2::vector limit $4`,
        [collection.name, literal, filter ? JSON.stringify(filter) : null, limit],
      );
      return rows.map((r) => ({ id: r.id, score: 1 - r.distance }));
    }
    // Iterative index scans keep filtered queries from silently returning fewer than topK
    // hits (pgvector ≥ 0.8); both settings are local to this transaction.
    return this.sql.transaction(async (tx) => {
      await tx.query("select set_config('hnsw.ef_search', $1, true), set_config('hnsw.iterative_scan', 'strict_order', true)", [String(Math.max(this.settings.efSearch, limit))]);
      const { rows } = await tx.query<{ id: number; distance: number }>(
        `select id, distance::float8 from (
           select id, embedding::vector(${collection.dimensions}) <=> $2::vector as distance
           from rag_chunks
           where collection = $1 and ($3::jsonb is null or metadata @> $3::jsonb)
           order by embedding::vector(${collection.dimensions}) <=> $2::vector
           limit $4) candidates`,
        [collection.name, literal, filter ? JSON.stringify(filter) : null, limit],
      );
      return rows.map((r) => ({ id: r.id, score: 1 - r.distance }));
    });
  }

  private async hydrate(fused: FusedItem[]): Promise<Hit[]> {
    if (fused.length === 0) return [];
    const { rows } = await this.sql.query<{ id: number; document_id: string; text: string; start_offset: number; end_offset: number; title: string | null; uri: string | null; pages: number[] | null }>(
      `select c.id, c.document_id, c.text, c.start_offset, c.end_offset, d.title, d.uri, d.source->'pages' as pages
       from rag_chunks c join rag_documents d on d.collection = c.collection and d.id = c.document_id
       where c.id = any($1::int[])`,
      [fused.map((f) => f.id)],
    );
    const byId = new Map(rows.map((r) => [r.id, r]));
    return fused.flatMap((f) => {
      const row = byId.get(f.id);
      if (!row) return [];
      return [
        {
          documentId: row.document_id,
          chunkId: row.id,
          text: row.text,
          score: f.score,
          retrievers: f.ranks,
          citation: {
            documentId: row.document_id,
            title: row.title,
            uri: row.uri,
            start: row.start_offset,
            end: row.end_offset,
            ...(Array.isArray(row.pages) && row.pages.length > 0 ? { page: pageAt(row.pages, row.start_offset) } : {}),
          },
        },
      ];
    });
  }
}
