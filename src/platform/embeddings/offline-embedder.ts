/*
 * Offline embedder (embedded default)
 * ===================================
 * Deterministic and download-free: the feature-hashing trick over stemmed words, word
 * bigrams and character n-grams (3–5, within word boundaries), each hashed (FNV-1a) into a
 * fixed number of dimensions with a hashed sign, weighted by sublinear term frequency and
 * L2-normalized. Words capture topic, bigrams some phrasing, character n-grams morphology
 * and misspellings. It is no neural model, but it ranks paraphrases that share stems or
 * word pieces, which is what it adds to BM25 in hybrid retrieval.
 */
import { terms } from '../../engines/rag/tokenize.js';
import type { EmbeddingsPort } from './embeddings-port.js';

const VERSION = 1;

function fnv1a(text: string, seed: number): number {
  let hash = 0x811c9dc5 ^ seed;
  for (let i = 0; i < text.length; i++) {
    hash ^= text.charCodeAt(i);
    hash = Math.imul(hash, 0x01000193);
  }
  return hash >>> 0;
}

const FEATURE_WEIGHTS = { word: 1.0, bigram: 0.5, chargram: 0.35 };

export function createOfflineEmbedder(dimensions = 384): EmbeddingsPort {
  const add = (vector: Float32Array, feature: string, weight: number) => {
    const h = fnv1a(feature, 0);
    const index = h % dimensions;
    const sign = fnv1a(feature, 0x9e3779b9) & 1 ? 1 : -1;
    vector[index]! += sign * weight;
  };

  const embedOne = (text: string): Float32Array => {
    const vector = new Float32Array(dimensions);
    const stems = terms(text);
    const counts = new Map<string, number>();
    const bump = (feature: string, weight: number) => counts.set(feature, (counts.get(feature) ?? 0) + weight);
    for (let i = 0; i < stems.length; i++) {
      const stem = stems[i]!;
      bump(`w:${stem}`, FEATURE_WEIGHTS.word);
      if (i + 1 < stems.length) bump(`b:${stem} ${stems[i + 1]}`, FEATURE_WEIGHTS.bigram);
      const padded = `<${stem}>`;
      for (let n = 3; n <= 5; n++) {
        for (let j = 0; j + n <= padded.length; j++) bump(`c:${padded.slice(j, j + n)}`, FEATURE_WEIGHTS.chargram / (padded.length - n + 1));
      }
    }
    for (const [feature, weight] of counts) add(vector, feature, Math.log1p(weight));
    let norm = 0;
    for (let i = 0; i < dimensions; i++) norm += vector[i]! * vector[i]!;
    norm = Math.sqrt(norm);
    if (norm > 0) for (let i = 0; i < dimensions; i++) vector[i]! /= norm;
    return vector;
  };

  return {
    id: `offline-hash-${dimensions}@${VERSION}`,
    dimensions,
    async embed(texts) {
      return texts.map(embedOne);
    },
  };
}
