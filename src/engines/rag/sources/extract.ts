/*
 * rag/sources/extract
 * ===================
 * A file's or response's bytes → the text the engine indexes. Markdown, plain text and HTML
 * (its main text, html-text.ts) by name or declared type; PDF with `unpdf` (pdf.js, text per
 * page, page start offsets kept for citations); DOCX with `mammoth` (to HTML, then the same
 * markdown pass, so headings stay headings); anything else is sniffed: NUL bytes or invalid
 * UTF-8 mean binary and the file is skipped with that reason. Both libraries are imported on
 * first use only.
 */
import { basename, extname } from 'node:path';
import { invalidInput } from '../../../errors.js';
import type { SupportedMimeType } from '../chunk.js';
import { htmlTitle, htmlToMarkdown } from './html-text.js';

export const MEDIA_TYPES = {
  markdown: 'text/markdown',
  text: 'text/plain',
  html: 'text/html',
  pdf: 'application/pdf',
  docx: 'application/vnd.openxmlformats-officedocument.wordprocessingml.document',
} as const;

const BY_EXTENSION: Record<string, string> = {
  '.md': MEDIA_TYPES.markdown,
  '.markdown': MEDIA_TYPES.markdown,
  '.mdx': MEDIA_TYPES.markdown,
  '.txt': MEDIA_TYPES.text,
  '.text': MEDIA_TYPES.text,
  '.html': MEDIA_TYPES.html,
  '.htm': MEDIA_TYPES.html,
  '.xhtml': MEDIA_TYPES.html,
  '.pdf': MEDIA_TYPES.pdf,
  '.docx': MEDIA_TYPES.docx,
};

export interface ExtractedDocument {
  text: string;
  /** How the engine chunks it. */
  mimeType: SupportedMimeType;
  /** What the source was (application/pdf, text/html, …). */
  mediaType: string;
  title?: string;
  /** PDF: the offset in `text` where each page starts. */
  pages?: number[];
}

export type Extraction = { document: ExtractedDocument; skip?: undefined } | { skip: string; document?: undefined };

const SNIFF_BYTES = 8192;
const utf8 = new TextDecoder('utf-8', { fatal: true });

/** Why bytes are not text, or undefined when they decode as UTF-8 without NUL bytes. */
function binaryReason(bytes: Uint8Array): string | undefined {
  const head = bytes.subarray(0, SNIFF_BYTES);
  if (head.includes(0)) return 'binary content (NUL bytes)';
  try {
    utf8.decode(bytes);
    return undefined;
  } catch {
    return 'binary content (not UTF-8 text)';
  }
}

function decodeText(bytes: Uint8Array): string {
  const text = utf8.decode(bytes);
  return text.charCodeAt(0) === 0xfeff ? text.slice(1) : text;
}

/** The media type a name suggests, or undefined. */
export function mediaTypeOfName(name: string): string | undefined {
  return BY_EXTENSION[extname(name).toLowerCase()];
}

/** A Content-Type header → the media type this module reads, or undefined. */
export function mediaTypeOfContentType(contentType: string | undefined): string | undefined {
  const type = (contentType ?? '').split(';')[0]!.trim().toLowerCase();
  if (type === 'text/markdown' || type === 'text/x-markdown') return MEDIA_TYPES.markdown;
  if (type === 'text/html' || type === 'application/xhtml+xml') return MEDIA_TYPES.html;
  if (type === MEDIA_TYPES.pdf || type === MEDIA_TYPES.docx) return type;
  if (type.startsWith('text/')) return MEDIA_TYPES.text;
  return undefined;
}

function stem(name: string): string {
  return basename(name, extname(name));
}

/**
 * Extracts a document. `name` is a file name or URL path (for the title and, without
 * `mediaType`, the format). Throws EngineError for damaged or encrypted files.
 */
export async function extractDocument(bytes: Uint8Array, name: string, mediaType = mediaTypeOfName(name)): Promise<Extraction> {
  const type = mediaType ?? sniff(bytes);
  if (type === undefined || type.startsWith('skip:')) return { skip: type?.slice(5) ?? 'binary content' };
  const fallbackTitle = stem(name) || undefined;
  if (type === MEDIA_TYPES.pdf) return nonEmpty(await extractPdf(bytes, fallbackTitle), 'a scanned PDF needs OCR first');
  if (type === MEDIA_TYPES.docx) return nonEmpty(await extractDocx(bytes, fallbackTitle));
  const binary = binaryReason(bytes);
  if (binary) return { skip: binary };
  const text = decodeText(bytes);
  if (type === MEDIA_TYPES.html) return nonEmpty({ text: htmlToMarkdown(text), mimeType: 'text/markdown', mediaType: type, title: htmlTitle(text) ?? fallbackTitle });
  if (type === MEDIA_TYPES.markdown) {
    const heading = /^#\s+(.+)$/m.exec(text)?.[1]?.trim();
    return nonEmpty({ text, mimeType: 'text/markdown', mediaType: type, title: heading ?? fallbackTitle });
  }
  return nonEmpty({ text, mimeType: 'text/plain', mediaType: type, title: fallbackTitle });
}

function nonEmpty(document: ExtractedDocument, hint?: string): Extraction {
  if (document.text.trim()) return { document };
  return { skip: `no text to index${hint ? ` (${hint})` : ''}` };
}

/** Format of a file whose name says nothing: PDF by its signature, HTML by its start, else text unless binary. */
function sniff(bytes: Uint8Array): string {
  const head = Buffer.from(bytes.subarray(0, 512)).toString('latin1');
  if (head.startsWith('%PDF-')) return MEDIA_TYPES.pdf;
  const binary = binaryReason(bytes);
  if (binary) return `skip:${binary}`;
  if (/^\s*(<!doctype html|<html[\s>])/i.test(head)) return MEDIA_TYPES.html;
  return MEDIA_TYPES.text;
}

async function extractPdf(bytes: Uint8Array, fallbackTitle?: string): Promise<ExtractedDocument> {
  const { getDocumentProxy, extractText, getMeta } = await import('unpdf');
  let pdf: Awaited<ReturnType<typeof getDocumentProxy>>;
  try {
    // verbosity 0: pdf.js would print warnings on stdout, which carries the stdio protocol.
    pdf = await getDocumentProxy(new Uint8Array(bytes), { verbosity: 0 });
  } catch (error) {
    const { name, message } = error as Error;
    if (name === 'PasswordException') throw invalidInput('PDF is encrypted (password-protected); save a copy without a password to ingest it');
    if (name === 'InvalidPDFException') throw invalidInput(`not a readable PDF (${message}); the file may be damaged or cut short`);
    throw invalidInput(`PDF could not be read: ${message}`);
  }
  try {
    const { text: pageTexts } = await extractText(pdf, { mergePages: false });
    const meta = await getMeta(pdf).catch(() => undefined);
    const info = meta?.info as { Title?: unknown } | undefined;
    const pages: number[] = [];
    let text = '';
    for (const page of pageTexts) {
      if (text) text += '\n\n';
      pages.push(text.length);
      text += page.trim();
    }
    const title = typeof info?.Title === 'string' && info.Title.trim() ? info.Title.trim() : fallbackTitle;
    return { text, mimeType: 'text/plain', mediaType: MEDIA_TYPES.pdf, title, pages };
  } catch (error) {
    throw invalidInput(`PDF text could not be extracted: ${(error as Error).message}`);
  } finally {
    await pdf.loadingTask.destroy().catch(() => undefined);
  }
}

async function extractDocx(bytes: Uint8Array, fallbackTitle?: string): Promise<ExtractedDocument> {
  const mammoth = (await import('mammoth')).default;
  let html: string;
  try {
    html = (await mammoth.convertToHtml({ buffer: Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength) })).value;
  } catch (error) {
    throw invalidInput(`not a readable DOCX (${(error as Error).message}); the file may be damaged, or an older .doc renamed`);
  }
  return { text: htmlToMarkdown(html), mimeType: 'text/markdown', mediaType: MEDIA_TYPES.docx, title: htmlTitle(html) ?? fallbackTitle };
}

/** The 1-based page an offset falls on, given the pages' start offsets. */
export function pageAt(pages: readonly number[], offset: number): number {
  let low = 0;
  let high = pages.length - 1;
  while (low < high) {
    const mid = (low + high + 1) >> 1;
    if (pages[mid]! <= offset) low = mid;
    else high = mid - 1;
  }
  return low + 1;
}
