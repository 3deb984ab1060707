/*
 * Embeddings port
 * ===============
 * Text → unit vectors. A collection records the `id` of the embedder that filled it, and
 * a query must use the same one: vectors from two models do not compare.
 */

export interface EmbeddingsPort {
  /** Stable identity, e.g. "offline-hash-768@2" or "openai:text-embedding-3-small". */
  readonly id: string;
  /** Vector length (a remote model may have to be asked once). */
  dimensions(): Promise<number>;
  /** One L2-normalized vector per text, in order. */
  embed(texts: readonly string[], signal?: AbortSignal): Promise<Float32Array[]>;
  /**
   * Vectors for search queries, when the model embeds a query unlike a document (bge's
   * retrieval instruction); absent: queries go through `embed`.
   */
  embedQueries?(texts: readonly string[], signal?: AbortSignal): Promise<Float32Array[]>;
  /**
   * true: an ingest writes chunks without vectors and they are computed afterwards, in the
   * background (rag/embedding-backfill.ts): a local model whose CPU time would otherwise hold
   * every ingest up. Absent: vectors are computed with the rest of the preparation (the
   * offline embedder's are cheap; a remote endpoint's outage then fails the ingest at once,
   * before anything is written, so the caller retries).
   */
  readonly background?: boolean;
  /** Frees what the embedder holds (a worker thread, a loaded model). */
  close?(): Promise<void>;
}
