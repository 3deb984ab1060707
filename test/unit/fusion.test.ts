import { describe, expect, it } from 'vitest';
import { fuse, fuseByRank, fuseByScore, type RankedList } from '../../src/engines/rag/fusion.js';

const list = (retriever: RankedList['retriever'], weight: number, scores: Record<number, number>): RankedList => ({
  retriever,
  weight,
  items: Object.entries(scores)
    .map(([id, score]) => ({ id: Number(id), score }))
    .sort((a, b) => b.score - a.score),
});

// BM25 finds chunk 1 far ahead of everything else; the vector list has no clear winner, and
// ranks 2 and 3 (BM25's runners-up) near its top, without chunk 1.
const bm25 = list('fulltext', 1, { 1: 24, 2: 6.2, 3: 6.1, 4: 6, 5: 5.9, 6: 5.8, 7: 5.7, 8: 5.6 });
const cosine = list('vector', 1, { 9: 0.62, 2: 0.61, 3: 0.61, 10: 0.6, 11: 0.6, 12: 0.59, 13: 0.58, 14: 0.58 });

describe('fuseByScore (convex combination of standardized scores)', () => {
  it("puts one list's outstanding match first, where rank fusion prefers the items both lists rank high", () => {
    expect(fuseByScore([bm25, cosine])[0]!.id).toBe(1);
    expect(fuseByRank([bm25, cosine], 10)[0]!.id).toBe(2);
  });

  it('gives the same order whatever the scale and offset of a list’s scores', () => {
    const rescaled = { ...bm25, items: bm25.items.map((item) => ({ id: item.id, score: 3 * item.score + 7 })) };
    expect(fuseByScore([rescaled, cosine]).map((f) => f.id)).toEqual(fuseByScore([bm25, cosine]).map((f) => f.id));
  });

  it('follows the weights: a heavier vector list moves its own top ahead', () => {
    const order = (vectorWeight: number) => fuseByScore([bm25, { ...cosine, weight: vectorWeight }]).map((f) => f.id);
    expect(order(0).slice(0, 3)).toEqual([1, 2, 3]);
    expect(order(10)[0]).toBe(9);
  });

  it('reports each item’s rank in every list it came from', () => {
    const fused = fuseByScore([bm25, cosine]);
    expect(fused.find((f) => f.id === 2)!.ranks).toEqual({ fulltext: 2, vector: 2 });
    expect(fused.find((f) => f.id === 1)!.ranks).toEqual({ fulltext: 1 });
    expect(fused.find((f) => f.id === 9)!.ranks).toEqual({ vector: 1 });
  });

  it('scores every item at least 0, a list’s last item and items missing from it getting 0 from that list', () => {
    const fused = fuseByScore([bm25, cosine]);
    expect(Math.min(...fused.map((f) => f.score))).toBe(0);
    expect(fused.find((f) => f.id === 8)!.score).toBe(0); // last of BM25, absent from the vector list
  });

  it('adds nothing from a list whose items all score alike, and nothing from an empty list', () => {
    const flat = list('graph', 1, { 1: 0.5, 9: 0.5, 20: 0.5 });
    const alone = fuseByScore([bm25]).map((f) => [f.id, f.score]);
    expect(fuseByScore([bm25, flat, list('vector', 1, {})]).filter((f) => f.id !== 9 && f.id !== 20).map((f) => [f.id, f.score])).toEqual(alone);
    expect(fuseByScore([flat]).map((f) => f.score)).toEqual([0, 0, 0]);
  });
});

describe('fuse', () => {
  it('dispatches on the method: rrf is reciprocal-rank fusion with the given k', () => {
    expect(fuse([bm25, cosine], { method: 'rrf', rrfK: 60 })).toEqual(fuseByRank([bm25, cosine], 60));
    expect(fuse([bm25, cosine], { method: 'convex', rrfK: 60 })).toEqual(fuseByScore([bm25, cosine]));
  });
});

describe('fuseByRank', () => {
  it('scores weight / (k + rank) summed over the lists, and keeps a single list’s scores when asked', () => {
    const fused = fuseByRank([bm25, cosine], 10);
    expect(fused.find((f) => f.id === 2)!.score).toBeCloseTo(1 / 12 + 1 / 12);
    expect(fuseByRank([bm25], 10, { keepScores: true }).map((f) => f.score)).toEqual(bm25.items.map((i) => i.score));
  });
});
