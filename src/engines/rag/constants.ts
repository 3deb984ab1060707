/*
 * rag/constants
 * =============
 * What the tool declarations need to know of the RAG engine, in a module that imports
 * nothing: declarations load before `initialize` is answered, the engine (its splitters,
 * embedder and SQL) only when storage opens.
 */

export const RETRIEVAL_MODES = ['hybrid', 'vector', 'fulltext', 'graph'] as const;
export type RetrievalMode = (typeof RETRIEVAL_MODES)[number];

export const SUPPORTED_MIME_TYPES = ['text/plain', 'text/markdown', 'text/html'] as const;

/** Collection names: lower-case letters, digits, "_" and "-", at most 63. */
export const COLLECTION_NAME = /^[a-z0-9][a-z0-9_-]{0,62}$/;

/** The error of each document a cancelled ingest did not reach. */
export const CANCELLED = 'not ingested: the request was cancelled';
