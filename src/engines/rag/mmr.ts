/*
 * rag/mmr
 * =======
 * Maximal marginal relevance (Carbonell and Goldstein, SIGIR 1998): picks results one at a
 * time, each maximizing λ · relevance − (1 − λ) · its highest cosine similarity to those
 * already picked, so near-duplicates of a pick give way to the next distinct passage.
 * Relevance is the candidate's score divided by the best one (negative cosines count as 0),
 * which puts fused RRF scores, BM25 scores and cosine similarities on the same [0, 1] scale
 * as the similarity penalty without making the pool's last candidate worth nothing (as
 * min–max scaling would). A negative similarity is no bonus. λ = 1 keeps the input order.
 */

export interface MmrCandidate {
  id: number;
  score: number;
}

function cosine(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let dot = 0;
  let na = 0;
  let nb = 0;
  for (let i = 0; i < a.length; i++) {
    dot += a[i]! * b[i]!;
    na += a[i]! * a[i]!;
    nb += b[i]! * b[i]!;
  }
  return na > 0 && nb > 0 ? dot / Math.sqrt(na * nb) : 0;
}

/**
 * The k candidates in MMR order. candidates come best first; a candidate without a vector is
 * treated as similar to nothing. Ties keep the input order.
 */
export function rerankByMmr<T extends MmrCandidate>(candidates: readonly T[], vectors: ReadonlyMap<number, ArrayLike<number>>, lambda: number, k: number): T[] {
  if (lambda >= 1 || candidates.length <= 1) return candidates.slice(0, k);
  const max = Math.max(...candidates.map((c) => c.score));
  const relevance = candidates.map((c) => (max > 0 ? Math.max(0, c.score) / max : 1));
  // Highest similarity of each remaining candidate to the picks so far, updated per pick.
  const nearest = new Float64Array(candidates.length).fill(-Infinity);
  const picked = new Uint8Array(candidates.length);
  const out: T[] = [];
  while (out.length < Math.min(k, candidates.length)) {
    let best = -1;
    let bestValue = -Infinity;
    for (let i = 0; i < candidates.length; i++) {
      if (picked[i]) continue;
      const value = lambda * relevance[i]! - (1 - lambda) * (out.length === 0 ? 0 : Math.max(0, nearest[i]!));
      if (value > bestValue) {
        bestValue = value;
        best = i;
      }
    }
    picked[best] = 1;
    out.push(candidates[best]!);
    const chosen = vectors.get(candidates[best]!.id);
    if (!chosen) continue;
    for (let i = 0; i < candidates.length; i++) {
      if (picked[i]) continue;
      const vector = vectors.get(candidates[i]!.id);
      if (vector) nearest[i] = Math.max(nearest[i]!, cosine(chosen, vector));
    }
  }
  return out;
}
