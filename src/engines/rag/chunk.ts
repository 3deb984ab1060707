/*
 * rag/chunk
 * =========
 * Documents → chunks with character offsets into the original text (for citations).
 * Splitting is @langchain/textsplitters' recursive splitter with the separators of the
 * document's format: markdown headings, lists and code fences; HTML block elements; plain
 * paragraphs and sentences. HTML chunks are indexed as text, tags removed.
 */
import type * as TextSplitters from '@langchain/textsplitters';
import type { RecursiveCharacterTextSplitter } from '@langchain/textsplitters';

import type { SUPPORTED_MIME_TYPES } from './constants.js';
export type SupportedMimeType = (typeof SUPPORTED_MIME_TYPES)[number];

export interface Chunk {
  ordinal: number;
  /** Text to index and return (tags removed for HTML). */
  text: string;
  start: number;
  end: number;
}

export interface ChunkSettings {
  chunkSize: number;
  chunkOverlap: number;
}

const splitters = new Map<string, RecursiveCharacterTextSplitter>();

// The splitter's package (with @langchain/core) is loaded on the first document to chunk: the
// default ingest chunks on the preparation worker, and loaded with the engines it cost the
// main thread about 24 MB of RSS and a third of a second of CPU before the first tool call.
let textSplitters: Promise<typeof TextSplitters> | undefined;

async function splitterFor(mimeType: SupportedMimeType, settings: ChunkSettings): Promise<RecursiveCharacterTextSplitter> {
  const key = `${mimeType}:${settings.chunkSize}:${settings.chunkOverlap}`;
  let splitter = splitters.get(key);
  if (!splitter) {
    const { RecursiveCharacterTextSplitter } = await (textSplitters ??= import('@langchain/textsplitters'));
    splitter =
      mimeType === 'text/plain'
        ? new RecursiveCharacterTextSplitter(settings)
        : RecursiveCharacterTextSplitter.fromLanguage(mimeType === 'text/markdown' ? 'markdown' : 'html', settings);
    splitters.set(key, splitter);
  }
  return splitter;
}

const ENTITIES: Record<string, string> = { amp: '&', lt: '<', gt: '>', quot: '"', apos: "'", nbsp: ' ' };

/** Numeric and the common named character references → characters. */
export function decodeEntities(text: string): string {
  return text.replace(/&(#\d+|#x[0-9a-f]+|[a-z]+);/gi, (match, entity: string) => {
    if (entity[0] === '#') {
      const code = entity[1] === 'x' || entity[1] === 'X' ? parseInt(entity.slice(2), 16) : parseInt(entity.slice(1), 10);
      return Number.isFinite(code) && code <= 0x10ffff ? String.fromCodePoint(code) : match;
    }
    return ENTITIES[entity.toLowerCase()] ?? match;
  });
}

export function htmlToText(html: string): string {
  return decodeEntities(html.replace(/<(script|style|noscript|template)[^>]*>[\s\S]*?<\/\1>/gi, ' ').replace(/<[^>]+>/g, ' '))
    .replace(/\s+/g, ' ')
    .trim();
}

export async function chunkDocument(text: string, mimeType: SupportedMimeType, settings: ChunkSettings): Promise<Chunk[]> {
  const pieces = await (await splitterFor(mimeType, settings)).splitText(text);
  const chunks: Chunk[] = [];
  let cursor = 0;
  for (const piece of pieces) {
    // The splitter returns substrings (trimmed); find each one at or after the previous start.
    let start = text.indexOf(piece, cursor);
    if (start === -1) start = text.indexOf(piece);
    const end = start === -1 ? -1 : start + piece.length;
    const indexed = mimeType === 'text/html' ? htmlToText(piece) : piece.trim();
    if (!indexed) continue;
    chunks.push({ ordinal: chunks.length, text: indexed, start: Math.max(start, 0), end: end === -1 ? Math.max(start, 0) + piece.length : end });
    if (start !== -1) cursor = start + 1;
  }
  return chunks;
}
