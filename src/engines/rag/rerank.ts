/*
 * rag/rerank
 * ==========
 * The optional last stage of hybrid retrieval. The best fused candidates (`candidates`, at
 * least topK) go to a reranker (platform/rerank: a cross-encoder behind an HTTP endpoint)
 * with the query, and come back ordered by its scores, which replace the fused scores. The
 * rest of the fused list is left out, so hits and MMR choose among scores of one scale.
 *
 * A reranker never fails a query. When it fails, answers badly or outlasts `timeoutMs`
 * (retries included), the fused order answers, the result's `rerank.warning` says why, and
 * the log says so once per outage (and once when the reranker answers again).
 */
import type { Logger } from '../../platform/log.js';
import type { RerankPort } from '../../platform/rerank/rerank-port.js';
import type { SqlExecutor } from '../../platform/sql/sql-port.js';
import type { FusedItem } from './fusion.js';

/** What a query result says about reranking. */
export interface RerankReport {
  /** The reranker's id, e.g. "cohere:rerank-v3.5". */
  reranker: string;
  /** Candidates it scored; 0 when it failed. */
  reranked: number;
  /** Why the hits are in fused order. */
  warning?: string;
}

export interface CandidateReranker {
  readonly id: string;
  /** How many fused candidates are sent (at least the query's topK). */
  readonly candidates: number;
  /** The fused list's best candidates in the reranker's order, or the fused list as it was. */
  rerank(sql: SqlExecutor, query: string, fused: readonly FusedItem[], topK: number): Promise<{ items: FusedItem[]; report: RerankReport }>;
}

export interface CandidateRerankerOptions {
  candidates: number;
  timeoutMs: number;
  log: Logger;
}

const timedOut = (signal: AbortSignal) =>
  new Promise<never>((_resolve, reject) => signal.addEventListener('abort', () => reject(signal.reason as Error), { once: true }));

// Endpoint URLs (which may carry credentials) stay in the log, out of query results.
const withoutUrls = (message: string) => message.replace(/\bhttps?:\/\/\S+/g, 'the endpoint');

export function createCandidateReranker(port: RerankPort, options: CandidateRerankerOptions): CandidateReranker {
  const { candidates, timeoutMs, log } = options;
  let failing = false;
  return {
    id: port.id,
    candidates,
    async rerank(sql, query, fused, topK) {
      const chosen = fused.slice(0, Math.max(candidates, topK));
      if (chosen.length === 0) return { items: [], report: { reranker: port.id, reranked: 0 } };
      const { rows } = await sql.query<{ id: number; text: string }>('select id, text from rag_chunks where id = any($1::int[])', [chosen.map((c) => c.id)]);
      const texts = new Map(rows.map((r) => [r.id, r.text]));
      const deadline = AbortSignal.timeout(timeoutMs);
      try {
        // The race bounds the call even if a port ignores its signal.
        const scores = await Promise.race([port.rerank(query, chosen.map((c) => texts.get(c.id) ?? ''), deadline), timedOut(deadline)]);
        if (failing) log.info({ reranker: port.id }, 'reranker answers again');
        failing = false;
        const items = chosen.map((c, i) => ({ ...c, score: scores[i]! }));
        // Stable: equal scores keep the fused order.
        items.sort((a, b) => b.score - a.score);
        return { items, report: { reranker: port.id, reranked: items.length } };
      } catch (error) {
        const reason = deadline.aborted ? `did not answer within ${timeoutMs} ms` : `failed: ${(error as Error).message}`;
        if (!failing) log.warn({ reranker: port.id, err: (error as Error).message, timeoutMs }, `reranker ${reason.split(':')[0]}; hybrid queries answer in fused order until it recovers`);
        failing = true;
        return { items: [...fused], report: { reranker: port.id, reranked: 0, warning: `reranker ${port.id} ${withoutUrls(reason)}; hits are in fused order` } };
      }
    },
  };
}
