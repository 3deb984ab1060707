/*
 * rag/prepared-wire
 * =================
 * Prepared content as it crosses between threads. Structured cloning copies every Map entry
 * and every small array as an object of its own; here a document's vectors are one
 * Float32Array and its term counts one Uint32Array (both transferred, not copied), and its
 * terms one space-joined string (the analyzer splits on spaces, so no term holds one).
 * Decoding gives back exactly what was encoded: the same floats, and each chunk's terms in
 * their first-seen order (the order postings and the chunk's term list are written in).
 */
import { EngineError, type ErrorCode } from '../../errors.js';
import type { Chunk } from './chunk.js';
import type { PreparedContent } from './document-preparer.js';
import type { ChunkExtraction } from './graph/extraction.js';

/** What the worker posts once it has loaded and can answer at full speed. */
export const READY = 'ready';

export interface WirePreparedContent {
  chunks: Chunk[];
  dimensions: number;
  /** chunks × dimensions floats, chunk after chunk. */
  vectors: Float32Array;
  /** Every chunk's distinct terms, chunk after chunk, joined by spaces. */
  terms: string;
  /** Each term's count, in the order of `terms`. */
  counts: Uint32Array;
  /** How many of `terms` belong to each chunk. */
  termsPerChunk: Uint32Array;
  extractions?: ChunkExtraction[];
}

/** An error as it crosses: engine errors keep their code (their message is for the user). */
export interface WireError {
  code?: ErrorCode;
  message: string;
}

export function encodePrepared(content: PreparedContent): { wire: WirePreparedContent; transfer: ArrayBuffer[] } {
  const { chunks, embeddings, frequencies, extractions } = content;
  const dimensions = embeddings[0]?.length ?? 0;
  const vectors = new Float32Array(chunks.length * dimensions);
  embeddings.forEach((embedding, i) => vectors.set(embedding, i * dimensions));
  let termCount = 0;
  for (const f of frequencies) termCount += f.size;
  const terms: string[] = [];
  const counts = new Uint32Array(termCount);
  const termsPerChunk = new Uint32Array(chunks.length);
  frequencies.forEach((f, i) => {
    termsPerChunk[i] = f.size;
    for (const [term, count] of f) {
      counts[terms.length] = count;
      terms.push(term);
    }
  });
  const wire: WirePreparedContent = { chunks, dimensions, vectors, terms: terms.join(' '), counts, termsPerChunk, ...(extractions ? { extractions } : {}) };
  return { wire, transfer: [vectors.buffer, counts.buffer, termsPerChunk.buffer] };
}

export function decodePrepared(wire: WirePreparedContent): PreparedContent {
  const { chunks, dimensions, vectors, counts, termsPerChunk, extractions } = wire;
  const terms = wire.terms.split(' ');
  const embeddings = dimensions === 0 ? [] : chunks.map((_, i) => vectors.subarray(i * dimensions, (i + 1) * dimensions));
  const frequencies: Map<string, number>[] = [];
  let next = 0;
  for (let i = 0; i < chunks.length; i++) {
    const f = new Map<string, number>();
    for (const end = next + termsPerChunk[i]!; next < end; next++) f.set(terms[next]!, counts[next]!);
    frequencies.push(f);
  }
  return { chunks, embeddings, frequencies, ...(extractions ? { extractions } : {}) };
}

export function encodeError(error: unknown): WireError {
  if (error instanceof EngineError) return { code: error.code, message: error.message };
  return { message: error instanceof Error ? error.message : String(error) };
}

export function decodeError(wire: WireError): Error {
  return wire.code ? new EngineError(wire.code, wire.message) : new Error(wire.message);
}
