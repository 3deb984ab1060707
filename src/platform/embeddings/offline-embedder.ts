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
const FNV_OFFSET = 0x811c9dc5;
const FNV_PRIME = 0x01000193;
// Feature kinds are mixed into the hash seed instead of prefixing strings: no allocation.
const KIND_WORD = 0x77;
const KIND_BIGRAM = 0x62;
const KIND_CHARGRAM = 0x63;
const WEIGHT_WORD = 1.0;
const WEIGHT_BIGRAM = 0.5;
const WEIGHT_CHARGRAMS = 0.35;

function hashRange(seed: number, text: string, from: number, to: number): number {
  let hash = (FNV_OFFSET ^ seed) >>> 0;
  for (let i = from; i < to; i++) {
    hash ^= text.charCodeAt(i);
    hash = Math.imul(hash, FNV_PRIME);
  }
  return hash >>> 0;
}

function mix(hash: number): number {
  // murmur3 finalizer: a second, independent-looking hash for the sign
  hash ^= hash >>> 16;
  hash = Math.imul(hash, 0x85ebca6b);
  hash ^= hash >>> 13;
  hash = Math.imul(hash, 0xc2b2ae35);
  return (hash ^ (hash >>> 16)) >>> 0;
}

export function createOfflineEmbedder(dimensions = 384): EmbeddingsPort {
  const embedOne = (text: string): Float32Array => {
    const counts = new Map<number, number>();
    const bump = (hash: number, weight: number) => counts.set(hash, (counts.get(hash) ?? 0) + weight);
    const stems = terms(text);
    for (let i = 0; i < stems.length; i++) {
      const stem = stems[i]!;
      bump(hashRange(KIND_WORD, stem, 0, stem.length), WEIGHT_WORD);
      if (i + 1 < stems.length) {
        const pair = `${stem} ${stems[i + 1]}`;
        bump(hashRange(KIND_BIGRAM, pair, 0, pair.length), WEIGHT_BIGRAM);
      }
      const padded = `<${stem}>`;
      for (let n = 3; n <= 5; n++) {
        const grams = padded.length - n + 1;
        for (let j = 0; j < grams; j++) bump(hashRange(KIND_CHARGRAM + n, padded, j, j + n), WEIGHT_CHARGRAMS / grams);
      }
    }
    const vector = new Float32Array(dimensions);
    for (const [hash, weight] of counts) {
      vector[hash % dimensions]! += (mix(hash) & 1 ? 1 : -1) * Math.log1p(weight);
    }
    let norm = 0;
    for (let i = 0; i < dimensions; i++) norm += vector[i]! * vector[i]!;
    norm = Math.sqrt(norm);
    if (norm > 0) for (let i = 0; i < dimensions; i++) vector[i]! /= norm;
    return vector;
  };

  return {
    id: `offline-hash-${dimensions}@${VERSION}`,
    dimensions: async () => dimensions,
    async embed(texts) {
      return texts.map(embedOne);
    },
  };
}
