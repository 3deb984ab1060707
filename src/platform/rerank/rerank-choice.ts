/*
 * Which reranker the configuration asks for
 * =========================================
 * RAG_engine.settings.rerank (RERANK_URL, RERANK_API, RERANK_MODEL, RERANK_TOP_N,
 * RERANK_TIMEOUT_MS in the shipped engine_map.yaml) and RERANK_API_KEY from the environment.
 * No URL: no reranker. Checked at start-up, so a half-configured reranker stops the server
 * instead of silently staying off.
 */
import { ConfigError } from '../../config/load-config.js';
import type { EngineMapFile } from '../../config/schema.js';
import type { RerankApi } from './rerank-port.js';

export type RerankSettings = EngineMapFile['engine_map']['RAG_engine']['settings']['rerank'];

export interface RerankChoice {
  url: string;
  api: RerankApi;
  model?: string;
  apiKey?: string;
  /** How many of hybrid's best fused candidates are sent. */
  candidates: number;
  /** Budget of one query's rerank call, retries included. */
  timeoutMs: number;
}

export function chooseReranker(settings: RerankSettings, env: Record<string, string | undefined>): RerankChoice | undefined {
  const apiKey = env.RERANK_API_KEY || undefined;
  if (!settings.url) {
    const set = [settings.model && 'RERANK_MODEL (rerank.model)', settings.api && 'RERANK_API (rerank.api)', apiKey && 'RERANK_API_KEY'].filter(Boolean);
    if (set.length > 0) {
      throw new ConfigError([`${set.join(', ')} ${set.length > 1 ? 'are' : 'is'} set but RERANK_URL (RAG_engine.settings.rerank.url) is not: reranking needs the endpoint, e.g. RERANK_URL=http://localhost:8080 for text-embeddings-inference; or unset ${set.length > 1 ? 'them' : 'it'} to leave reranking off`]);
    }
    return undefined;
  }
  return {
    url: settings.url,
    api: settings.api ?? (settings.model ? 'cohere' : 'tei'),
    model: settings.model,
    apiKey,
    candidates: settings.candidates,
    timeoutMs: settings.timeoutMs,
  };
}
