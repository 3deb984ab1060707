/*
 * rag/fusion
 * ==========
 * Two ways to merge the retrievers' ranked lists into hybrid's one ranking:
 *
 * - convex (the default): a weighted sum of each list's standardized scores, the convex
 *   combination of Bruch, Gai and Ingber ("An Analysis of Fusion Functions for Hybrid
 *   Retrieval", ACM TOIS 2023). Each list's scores are shifted so its last item scores 0 and
 *   divided by their standard deviation; an item absent from a list gets 0 from it. Unlike
 *   ranks, scores say how far ahead a list's top is: BM25's one outstanding match outweighs
 *   a vector list's flat top, and the other way round. The standard deviation rather than
 *   min–max's range as the unit keeps a list's single outlier from squashing its other
 *   items towards 0 (the comparison: bench/results/2026-11-rag-measurements.md).
 * - rrf: reciprocal-rank fusion (Cormack, Clarke and Büttcher, SIGIR 2009): each list
 *   contributes weight / (k + rank), so lists combine by position alone.
 *
 * With one list and keepScores, fuseByRank keeps the list's own scores (the single modes).
 */

export const FUSION_METHODS = ['convex', 'rrf'] as const;
export type FusionMethod = (typeof FUSION_METHODS)[number];

/**
 * The vector list's weight when none is configured (fusionWeights.vector empty). The offline
 * embedder is lexical (hashed stems and n-grams, the query weighted by BM25's IDF): its list
 * repeats BM25's evidence with more noise, and weighted like BM25 it pulled hybrid below BM25
 * on the license and man-page sets; at half BM25's weight hybrid stayed level with BM25. A
 * neural embedder's list carries evidence BM25 lacks and earns an equal share (docs/rag.md,
 * "Choosing the fusion").
 */
export const DEFAULT_VECTOR_WEIGHT = { lexical: 0.5, semantic: 1 } as const;

export interface RankedList {
  retriever: 'vector' | 'fulltext' | 'graph';
  weight: number;
  /** Best first. */
  items: { id: number; score: number }[];
}

export interface FusedItem {
  id: number;
  score: number;
  /** 1-based rank of the item in each list it appeared in. */
  ranks: Partial<Record<RankedList['retriever'], number>>;
}

export interface FusionSettings {
  method: FusionMethod;
  /** The k of reciprocal-rank fusion (method rrf). */
  rrfK: number;
}

/** The lists fused by the given method, best first (ties: lower id first). */
export function fuse(lists: readonly RankedList[], settings: FusionSettings): FusedItem[] {
  return settings.method === 'rrf' ? fuseByRank(lists, settings.rrfK) : fuseByScore(lists);
}

export function fuseByRank(lists: readonly RankedList[], k: number, options: { keepScores?: boolean } = {}): FusedItem[] {
  const single = options.keepScores && lists.length === 1;
  return accumulate(lists, (list) => (item, index) => (single ? item.score : list.weight / (k + index + 1)));
}

/** Convex combination of standardized scores (see the header). */
export function fuseByScore(lists: readonly RankedList[]): FusedItem[] {
  return accumulate(lists, (list) => {
    const { min, deviation } = spread(list.items.map((item) => item.score));
    // A list whose items all score alike orders nothing: it adds 0 to each.
    return (item) => (deviation > 0 ? (list.weight * (item.score - min)) / deviation : 0);
  });
}

function spread(scores: readonly number[]): { min: number; deviation: number } {
  if (scores.length === 0) return { min: 0, deviation: 0 };
  const mean = scores.reduce((sum, s) => sum + s, 0) / scores.length;
  const variance = scores.reduce((sum, s) => sum + (s - mean) ** 2, 0) / scores.length;
  return { min: Math.min(...scores), deviation: Math.sqrt(variance) };
}

function accumulate(lists: readonly RankedList[], contribution: (list: RankedList) => (item: RankedList['items'][number], index: number) => number): FusedItem[] {
  const fused = new Map<number, FusedItem>();
  for (const list of lists) {
    const of = contribution(list);
    list.items.forEach((item, index) => {
      let entry = fused.get(item.id);
      if (!entry) {
        entry = { id: item.id, score: 0, ranks: {} };
        fused.set(item.id, entry);
      }
      entry.ranks[list.retriever] = index + 1;
      entry.score += of(item, index);
    });
  }
  return [...fused.values()].sort((a, b) => b.score - a.score || a.id - b.id);
}
