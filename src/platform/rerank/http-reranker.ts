/*
 * HTTP rerank endpoints
 * =====================
 * The two `/rerank` request shapes in use:
 *
 * - `tei`: Hugging Face text-embeddings-inference, `POST /rerank {query, texts, truncate}`
 *   answering `[{index, score}]`.
 * - `cohere`: Cohere's API (`/v1/rerank`, `/v2/rerank`) and the servers that copy it (Jina,
 *   Infinity, vLLM), `POST {model, query, documents}` answering
 *   `{results: [{index, relevance_score}]}`.
 *
 * The URL is the endpoint itself when it ends in /rerank, else the base it is appended to.
 * Requests go through postJsonWithRetries (retry.ts) like the embedder's; the answer must
 * score every text, else it counts as a failure.
 */
import { EngineError } from '../../errors.js';
import { postJsonWithRetries } from '../retry.js';
import type { RerankApi, RerankPort } from './rerank-port.js';

export interface HttpRerankerOptions {
  /** The endpoint (…/rerank) or its base (http://tei:8080, https://api.cohere.com/v2). */
  url: string;
  api: RerankApi;
  /** Sent by `cohere` (its API requires it); `tei` serves one model and ignores it. */
  model?: string;
  apiKey?: string;
  /** Per attempt; callers bound the whole call with their signal. */
  timeoutMs: number;
  maxAttempts?: number;
}

export function rerankEndpoint(url: string): string {
  const base = url.replace(/\/+$/, '');
  return base.endsWith('/rerank') ? base : `${base}/rerank`;
}

type Scored = { index: number; score: number };

function parseAnswer(api: RerankApi, body: unknown): Scored[] | undefined {
  const items = api === 'tei' ? body : (body as { results?: unknown } | null)?.results;
  if (!Array.isArray(items)) return undefined;
  const out: Scored[] = [];
  for (const item of items as Record<string, unknown>[]) {
    const score = api === 'tei' ? item?.score : item?.relevance_score;
    if (!Number.isInteger(item?.index) || typeof score !== 'number' || !Number.isFinite(score)) return undefined;
    out.push({ index: item.index as number, score });
  }
  return out;
}

export function createHttpReranker(options: HttpRerankerOptions): RerankPort {
  const url = rerankEndpoint(options.url);
  const { api, model } = options;
  return {
    id: model ? `${api}:${model}` : api,
    async rerank(query: string, texts: readonly string[], signal?: AbortSignal): Promise<number[]> {
      if (texts.length === 0) return [];
      const payload = api === 'tei' ? { query, texts, truncate: true } : { ...(model ? { model } : {}), query, documents: texts };
      const body = await postJsonWithRetries(url, payload, {
        what: `rerank (${api})`,
        apiKey: options.apiKey,
        apiKeyVariable: 'RERANK_API_KEY',
        timeoutMs: options.timeoutMs,
        maxAttempts: options.maxAttempts ?? 2,
        signal,
      });
      const scored = parseAnswer(api, body);
      const scores = new Array<number | undefined>(texts.length).fill(undefined);
      for (const { index, score } of scored ?? []) if (index >= 0 && index < texts.length) scores[index] = score;
      if (!scored || scores.some((s) => s === undefined)) {
        const expected = api === 'tei' ? '[{index, score}]' : '{results: [{index, relevance_score}]}';
        throw new EngineError('UNAVAILABLE', `rerank endpoint ${url} did not score all ${texts.length} texts (expected ${expected} for RERANK_API=${api})`);
      }
      return scores as number[];
    },
  };
}
