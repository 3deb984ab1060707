/*
 * rag/embedding-backfill
 * ======================
 * Vectors computed after the write. With the local model an ingest writes the chunks,
 * postings and graph at once and leaves each chunk's vector null: the documents are
 * searchable by full text when the ingest answers, at the speed of the text analysis, not of
 * the model. This loop then embeds the chunks that have no vector yet, a batch at a time,
 * oldest first, and writes the vectors; a query's vector list holds the chunks embedded so
 * far. The model runs on worker threads (worker-onnx-embedder.ts), not on the event loop; a
 * batch's texts go to them one at a time, so a query's own embedding waits behind one text
 * at most.
 *
 * It also moves a collection to another embedder (`mcp-level3 rag reembed`): the new vectors
 * go to next_embedding while queries keep using the old ones with the old embedder; once
 * every chunk has one, a single transaction swaps them in and records the new embedder, and
 * the vector index is built again for the new dimensions.
 *
 * One loop per process, woken by this process's ingests and at start (work a stopped process
 * left). A batch starts only once this process has had no ingest for INGEST_QUIET_MS: a bulk
 * load arrives as a stream of rag_ingest calls, the model would take the cores their text
 * analysis and writes need, and full-text searchability comes first. Replicas woken for the
 * same collection may embed a batch twice; the second write changes nothing
 * (`where embedding is null`): wasted work, never a wrong vector.
 */
import type { EmbeddingsPort } from '../../platform/embeddings/embeddings-port.js';
import type { Logger } from '../../platform/log.js';
import type { SqlPort } from '../../platform/sql/sql-port.js';
import { vectorIndexName, vectorLiteral } from './vector-sql.js';

/** Chunks embedded per write: small enough that a query's embedding waits little behind a batch. */
const BATCH = 16;
/** After a failure (an endpoint down), the loop tries again this much later. */
const RETRY_MS = 30_000;
/** How long this process must have had no ingest before a batch starts. */
const INGEST_QUIET_MS = 1_000;

export interface BackfillDeps {
  sql: SqlPort;
  /** The embedder with this id, when this process can run it. */
  embedderFor(id: string): EmbeddingsPort | undefined;
  /** After a collection moved to another embedder (its vector index was dropped). */
  moved(collection: string): Promise<void>;
  log: Logger;
}

interface WorkRow {
  name: string;
  embedder: string;
  target_embedder: string | null;
}

/** Where a collection stands: chunks without a vector, and a move to another embedder. */
export interface EmbeddingStatus {
  pending: number;
  moving?: { to: string; done: number; total: number };
}

export class EmbeddingBackfill {
  private running?: Promise<void>;
  private again = false;
  private closed = false;
  private retry?: NodeJS.Timeout;
  /** Per collection being moved: the last chunk id given a next vector in this pass. */
  private readonly cursors = new Map<string, number>();
  /** Embedder ids this process cannot run, logged once each. */
  private readonly missing = new Set<string>();
  private readonly idleWaiters: (() => void)[] = [];
  /** Ingests running in this process, when the last one ended, and the batch waiting for quiet. */
  private ingests = 0;
  private lastIngestEnded = -Infinity;
  private quietWaiters: (() => void)[] = [];
  private quietTimer?: NodeJS.Timeout;

  constructor(private readonly deps: BackfillDeps) {}

  /** Looks for work now (or once the current pass ends). */
  wake(): void {
    if (this.closed) return;
    if (this.running) {
      this.again = true;
      return;
    }
    this.running = this.drain()
      .catch((error: unknown) => {
        this.deps.log.warn({ err: (error as Error).message, retryInMs: RETRY_MS }, 'background embedding failed; trying again later');
        clearTimeout(this.retry);
        this.retry = setTimeout(() => this.wake(), RETRY_MS);
        this.retry.unref();
      })
      .finally(() => {
        this.running = undefined;
        if (this.again && !this.closed) {
          this.again = false;
          this.wake();
        } else for (const resolve of this.idleWaiters.splice(0)) resolve();
      });
  }

  /** Marks an ingest in this process as running; call the returned function when it ends. */
  ingestStarted(): () => void {
    this.ingests++;
    clearTimeout(this.quietTimer);
    let ended = false;
    return () => {
      if (ended) return;
      ended = true;
      if (--this.ingests > 0) return;
      this.lastIngestEnded = performance.now();
      this.scheduleQuiet();
    };
  }

  /** Resolves once this process has had no ingest for INGEST_QUIET_MS. */
  private ingestsQuiet(): Promise<void> {
    if (this.ingests === 0 && performance.now() - this.lastIngestEnded >= INGEST_QUIET_MS) return Promise.resolve();
    const quiet = new Promise<void>((resolve) => this.quietWaiters.push(resolve));
    this.scheduleQuiet();
    return quiet;
  }

  private scheduleQuiet(): void {
    clearTimeout(this.quietTimer);
    if (this.ingests > 0 || this.quietWaiters.length === 0) return;
    const left = INGEST_QUIET_MS - (performance.now() - this.lastIngestEnded);
    this.quietTimer = setTimeout(() => {
      if (this.ingests === 0) for (const resolve of this.quietWaiters.splice(0)) resolve();
    }, Math.max(0, left));
  }

  /** Resolves when no pass is running (the work may still wait for an embedder this process lacks). */
  idle(): Promise<void> {
    if (!this.running) return Promise.resolve();
    return new Promise((resolve) => this.idleWaiters.push(resolve));
  }

  async close(): Promise<void> {
    this.closed = true;
    clearTimeout(this.retry);
    await this.running?.catch(() => undefined);
  }

  /** Chunks without a vector, per collection (the partial index holds only those). */
  async pendingCounts(): Promise<Map<string, number>> {
    const { rows } = await this.deps.sql.query<{ collection: string; pending: number }>('select collection, count(*)::int as pending from rag_chunks where embedding is null group by collection');
    return new Map(rows.map((r) => [r.collection, r.pending]));
  }

  async status(collection: string): Promise<EmbeddingStatus> {
    const { rows } = await this.deps.sql.query<{ pending: number; target_embedder: string | null; done: number; total: number }>(
      `select (select count(*)::int from rag_chunks where collection = $1 and embedding is null) as pending, c.target_embedder,
         case when c.target_embedder is null then 0 else (select count(*)::int from rag_chunks where collection = $1 and next_embedding is not null) end as done,
         c.chunk_count as total
       from rag_collections c where c.name = $1`,
      [collection],
    );
    const row = rows[0];
    if (!row) return { pending: 0 };
    return { pending: row.pending, ...(row.target_embedder ? { moving: { to: row.target_embedder, done: row.done, total: row.total } } : {}) };
  }

  /** Whether the collection has chunks without a vector (an index probe). */
  async hasPending(collection: string): Promise<boolean> {
    const { rows } = await this.deps.sql.query('select 1 from rag_chunks where collection = $1 and embedding is null limit 1', [collection]);
    return rows.length > 0;
  }

  private async drain(): Promise<void> {
    for (;;) {
      if (this.closed) return;
      const { rows } = await this.deps.sql.query<WorkRow>(
        `select c.name, c.embedder, c.target_embedder from rag_collections c
         where c.target_embedder is not null or exists (select 1 from rag_chunks k where k.collection = c.name and k.embedding is null)
         order by c.name`,
      );
      let progressed = false;
      // One batch per collection per round: a large backlog does not starve a small one.
      for (const row of rows) {
        await this.ingestsQuiet();
        if (this.closed) return;
        if (await this.step(row)) progressed = true;
      }
      if (!progressed) return;
    }
  }

  private embedder(id: string, collection: string): EmbeddingsPort | undefined {
    const embedder = this.deps.embedderFor(id);
    if (!embedder && !this.missing.has(id)) {
      this.missing.add(id);
      this.deps.log.warn({ collection, embedder: id }, 'chunks wait for an embedder this server does not run; configure it (EMBEDDINGS_PROVIDER, EMBEDDINGS_MODEL_DIR, EMBEDDINGS_URL) on a server, or move the collection with `mcp-level3 rag reembed`');
    }
    return embedder;
  }

  /** One batch of the collection's work; false when there was none it could do. */
  private async step(row: WorkRow): Promise<boolean> {
    const { sql } = this.deps;
    const pending = await sql.query<{ id: number; text: string }>(
      `select c.id, coalesce(nullif(d.title, '') || E'\\n', '') || c.text as text
       from rag_chunks c join rag_documents d on d.collection = c.collection and d.id = c.document_id
       where c.collection = $1 and c.embedding is null order by c.id limit $2`,
      [row.name, BATCH],
    );
    if (pending.rows.length > 0) {
      const embedder = this.embedder(row.embedder, row.name);
      if (embedder) {
        const vectors = await embedder.embed(pending.rows.map((r) => r.text));
        // The collection still has this embedder (a move swaps vectors in and these rows out).
        await sql.query(
          `update rag_chunks c set embedding = u.embedding::vector
           from unnest($2::int[], $3::text[]) as u(id, embedding)
           where c.id = u.id and c.collection = $1 and c.embedding is null
             and exists (select 1 from rag_collections where name = $1 and embedder = $4)`,
          [row.name, pending.rows.map((r) => r.id), vectors.map((v) => vectorLiteral(v, { exact: true })), row.embedder],
        );
        return true;
      }
    }
    if (!row.target_embedder) return false;
    const target = this.embedder(row.target_embedder, row.name);
    if (!target) return false;
    const after = this.cursors.get(row.name) ?? 0;
    const next = await sql.query<{ id: number; text: string }>(
      `select c.id, coalesce(nullif(d.title, '') || E'\\n', '') || c.text as text
       from rag_chunks c join rag_documents d on d.collection = c.collection and d.id = c.document_id
       where c.collection = $1 and c.id > $2 and c.next_embedding is null order by c.id limit $3`,
      [row.name, after, BATCH],
    );
    if (next.rows.length > 0) {
      const vectors = await target.embed(next.rows.map((r) => r.text));
      await sql.query(
        `update rag_chunks c set next_embedding = u.embedding::vector
         from unnest($2::int[], $3::text[]) as u(id, embedding)
         where c.id = u.id and c.collection = $1
           and exists (select 1 from rag_collections where name = $1 and target_embedder = $4)`,
        [row.name, next.rows.map((r) => r.id), vectors.map((v) => vectorLiteral(v, { exact: true })), row.target_embedder],
      );
      this.cursors.set(row.name, next.rows.at(-1)!.id);
      return true;
    }
    return this.swap(row.name, row.target_embedder);
  }

  /**
   * Every chunk has its next vector: swap them in and record the new embedder, in one
   * transaction that holds the collection's row (an ingest's write of the same collection
   * waits for it, and then finds the new embedder). Chunks written since the pass began send
   * the loop round again instead.
   */
  private async swap(collection: string, target: string): Promise<boolean> {
    const swapped = await this.deps.sql.transaction(async (tx) => {
      const { rows } = await tx.query<{ target_embedder: string | null }>('select target_embedder from rag_collections where name = $1 for update', [collection]);
      if (rows[0]?.target_embedder !== target) return false;
      const { rows: left } = await tx.query('select 1 from rag_chunks where collection = $1 and next_embedding is null limit 1', [collection]);
      if (left.length > 0) return undefined;
      // The index casts to the old dimensions: it goes first, and is built again after.
      await tx.exec(`drop index if exists ${vectorIndexName(collection)}`);
      await tx.query('update rag_chunks set embedding = next_embedding, next_embedding = null where collection = $1', [collection]);
      await tx.query(
        `update rag_collections set embedder = target_embedder, dimensions = target_dimensions, target_embedder = null, target_dimensions = null, generation = generation + 1
         where name = $1`,
        [collection],
      );
      return true;
    });
    this.cursors.delete(collection);
    if (swapped === undefined) return true; // round again from the first chunk
    if (swapped) {
      this.deps.log.info({ collection, embedder: target }, 'collection moved to another embedder');
      await this.deps.moved(collection);
    }
    return swapped;
  }
}
