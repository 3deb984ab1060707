/*
 * rag/document-preparer
 * =====================
 * The database-free half of an ingest: a document's chunks, one vector and the term
 * frequencies of each chunk, and with GraphRAG each chunk's entities and relations. The
 * engine writes what a preparer returns. Preparation runs here, in process, for any embedder
 * and extractor; worker-preparer.ts runs the same prepareContent on a worker thread for the
 * offline embedder and heuristic extractor, whose JS work would otherwise share the main
 * thread with PGlite.
 */
import { invalidInput } from '../../errors.js';
import type { EmbeddingsPort } from '../../platform/embeddings/embeddings-port.js';
import { chunkDocument, type Chunk, type ChunkSettings, type SupportedMimeType } from './chunk.js';
import type { ChunkExtraction, EntityExtractor } from './graph/extraction.js';
import { termFrequencies } from '../../platform/text/tokenize.js';

/** What preparation reads of a document. */
export interface PrepareInput {
  text: string;
  title?: string;
  mimeType: SupportedMimeType;
}

export interface PreparedContent {
  chunks: Chunk[];
  /** Per chunk, in order; empty when the vectors are computed after the write (embedding-backfill.ts). */
  embeddings: Float32Array[];
  /** Per chunk: each term's count, in first-seen order. */
  frequencies: Map<string, number>[];
  /** Per chunk, when an extractor was given. */
  extractions?: ChunkExtraction[];
}

export interface PrepareOptions {
  extractor?: EntityExtractor;
  signal?: AbortSignal;
  /** false: no vectors (they are computed after the write); default true. */
  embed?: boolean;
}

/** A document's preparation: its content, or why it has none. */
export type Preparation = { content: PreparedContent; error?: undefined } | { error: Error; content?: undefined };

export interface DocumentPreparer {
  /**
   * One preparation per document, in order. Never rejects: a document that cannot be
   * prepared gets its error, and when the signal aborts, the unfinished ones get an AbortError.
   */
  prepare(docs: readonly PrepareInput[], options: PrepareOptions): Promise<Preparation[]>;
  /** Frees what the preparer holds (a worker thread); it may be used again afterwards. */
  close(): Promise<void>;
}

/** Chunks, embeds (given an embedder), analyzes and (with an extractor) extracts one document. */
export async function prepareContent(doc: PrepareInput, settings: ChunkSettings, embedder: EmbeddingsPort | undefined, extractor?: EntityExtractor, signal?: AbortSignal): Promise<PreparedContent> {
  const chunks = await chunkDocument(doc.text, doc.mimeType, settings);
  if (chunks.length === 0) throw invalidInput('text: the document has no indexable text');
  // The title is part of every chunk's indexed text, so a chunk is found by its document's name.
  const prefix = doc.title ? `${doc.title}\n` : '';
  const texts = chunks.map((c) => prefix + c.text);
  const embeddings = embedder ? await embedder.embed(texts, signal) : [];
  const frequencies = texts.map(termFrequencies);
  const extractions = extractor ? await extractor.extract(texts, signal) : undefined;
  return { chunks, embeddings, frequencies, ...(extractions ? { extractions } : {}) };
}

export function abortError(signal: AbortSignal): Error {
  return signal.reason instanceof Error ? signal.reason : new DOMException('The operation was aborted', 'AbortError');
}

/** Prepares on the calling thread: any embedder (ONNX has threads of its own, OpenAI waits on the network) and any extractor. */
export function createInProcessPreparer(embedder: EmbeddingsPort, settings: ChunkSettings): DocumentPreparer {
  return {
    async prepare(docs, { extractor, signal, embed = true }) {
      const out: Preparation[] = [];
      for (const doc of docs) {
        if (signal?.aborted) {
          out.push({ error: abortError(signal) });
          continue;
        }
        try {
          out.push({ content: await prepareContent(doc, settings, embed ? embedder : undefined, extractor, signal) });
        } catch (error) {
          out.push({ error: error instanceof Error ? error : new Error(String(error)) });
        }
      }
      return out;
    },
    async close() {},
  };
}
