import { describe, expect, it } from 'vitest';
import { rerankByMmr } from '../../src/engines/rag/mmr.js';

// Three candidates: a and b are the same passage, c is a different one, slightly less relevant.
const candidates = [
  { id: 1, score: 1 },
  { id: 2, score: 0.95 },
  { id: 3, score: 0.8 },
];
const vectors = new Map([
  [1, [1, 0]],
  [2, [0.99, 0.14]],
  [3, [0, 1]],
]);

describe('rerankByMmr', () => {
  it('keeps the order at λ 1 and cuts to k', () => {
    expect(rerankByMmr(candidates, vectors, 1, 2).map((c) => c.id)).toEqual([1, 2]);
  });

  it('moves a distinct passage ahead of a near-duplicate of the first pick', () => {
    // second pick: b scores 0.5·0.95 − 0.5·0.99 < 0, c scores 0.5·0.8 − 0 = 0.4
    expect(rerankByMmr(candidates, vectors, 0.5, 3).map((c) => c.id)).toEqual([1, 3, 2]);
  });

  it('keeps relevance first when the penalty is small', () => {
    // second pick: b 0.95·0.95 − 0.05·0.99 ≈ 0.85 beats c 0.95·0.8 = 0.76
    expect(rerankByMmr(candidates, vectors, 0.95, 3).map((c) => c.id)).toEqual([1, 2, 3]);
  });

  it('treats a candidate without a vector as similar to nothing', () => {
    expect(rerankByMmr(candidates, new Map([[1, [1, 0]], [3, [1, 0]]]), 0.5, 3).map((c) => c.id)).toEqual([1, 2, 3]);
  });
});
