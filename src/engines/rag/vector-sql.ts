/*
 * rag/vector-sql
 * ==============
 * How vectors are spelled to SQL, and the name of a collection's HNSW index: shared by the
 * engine's writes and queries and by the background embedder.
 */
import { sha256Hex } from '../../platform/digest.js';

/**
 * pgvector's text form. Four decimals by default: ample for cosine ranking, and short text is
 * what PGlite parses fastest in bulk. exact: every float32 digit, as binary COPY stores it
 * (small batches, where the parse costs nothing, and the vectors equal an inline ingest's).
 */
export function vectorLiteral(vector: Float32Array, options: { exact?: boolean } = {}): string {
  if (options.exact) return `[${vector.join(',')}]`;
  let out = '[';
  for (let i = 0; i < vector.length; i++) out += (i ? ',' : '') + (Math.round(vector[i]! * 1e4) / 1e4).toString();
  return `${out}]`;
}

/** The collection's partial HNSW index (its name passed COLLECTION_NAME, but a hash keeps the identifier short). */
export function vectorIndexName(collection: string): string {
  return `rag_hnsw_${sha256Hex(collection).slice(0, 16)}`;
}
