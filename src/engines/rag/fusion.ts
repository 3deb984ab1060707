/*
 * rag/fusion
 * ==========
 * Reciprocal-rank fusion (Cormack, Clarke and Büttcher, SIGIR 2009): each retriever's list
 * contributes weight / (k + rank) to an item's score, so lists with incomparable scores
 * (BM25, cosine) combine by position alone. With one list and keepScores, its own scores
 * are kept.
 */

export interface RankedList {
  retriever: 'vector' | 'fulltext' | 'graph';
  weight: number;
  items: { id: number; score: number }[];
}

export interface FusedItem {
  id: number;
  score: number;
  /** 1-based rank of the item in each list it appeared in. */
  ranks: Partial<Record<RankedList['retriever'], number>>;
}

export function fuseByRank(lists: readonly RankedList[], k: number, options: { keepScores?: boolean } = {}): FusedItem[] {
  const fused = new Map<number, FusedItem>();
  const single = options.keepScores && lists.length === 1;
  for (const list of lists) {
    list.items.forEach((item, index) => {
      const rank = index + 1;
      let entry = fused.get(item.id);
      if (!entry) {
        entry = { id: item.id, score: 0, ranks: {} };
        fused.set(item.id, entry);
      }
      entry.ranks[list.retriever] = rank;
      entry.score += single ? item.score : list.weight / (k + rank);
    });
  }
  return [...fused.values()].sort((a, b) => b.score - a.score || a.id - b.id);
}
