/*
 * Rerank port
 * ===========
 * A cross-encoder's verdict on candidate passages: one relevance score per text, for one
 * query. Optional (RAG_engine.settings.rerank); hybrid retrieval orders its best fused
 * candidates by these scores (engines/rag/rerank.ts).
 */

export interface RerankPort {
  /** Who scores, for results and logs, e.g. "cohere:rerank-v3.5" or "tei". */
  readonly id: string;
  /** One score per text, in the order of `texts`; higher is more relevant. */
  rerank(query: string, texts: readonly string[], signal?: AbortSignal): Promise<number[]>;
}

/** The request shapes an HTTP endpoint may speak (http-reranker.ts). */
export const RERANK_APIS = ['tei', 'cohere'] as const;
export type RerankApi = (typeof RERANK_APIS)[number];
