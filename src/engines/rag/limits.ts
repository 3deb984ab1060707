/**
 * The largest document rag_ingest takes, in UTF-8 bytes: the ceiling the tool schema states
 * (as characters) and the most RAG_engine.settings.maxDocumentBytes may be set to.
 */
export const MAX_DOCUMENT_BYTES = 5 * 1024 * 1024;
