/*
 * rag/sources/ingest-sources
 * ==========================
 * rag_ingest's `sources`: files and folders under RAG_INGEST_ROOTS, and http(s) URLs on
 * RAG_INGEST_URL_HOSTS. Every source is checked before anything is read, so a refused one
 * fails the call; after that, problems are per file or URL (in `errors`; skipped binary or
 * empty files say "skipped: …"), and unchanged files are skipped as by the CLI.
 */
import { sha256Hex } from '../../../platform/digest.js';
import { isEngineError } from '../../../errors.js';
import type { IngestDocument, IngestResult } from '../rag-engine.js';
import { extractDocument } from './extract.js';
import { ingestFiles, type IngestTarget } from './file-ingest.js';
import { checkUrl, resolveSourcePath, urlPolicy, type SourceSettings } from './source-policy.js';
import { fetchDocument } from './url-fetch.js';

export type IngestSource = { path: string; url?: undefined } | { url: string; path?: undefined };

export interface SourceIngestOptions {
  signal?: AbortSignal;
  /** Monotonic: files or URLs decided so far, of a total that may grow as folders are walked. */
  progress?: (done: number, total: number, message: string) => Promise<void>;
}

const URL_TIMEOUT_MS = 30_000;

export async function ingestSources(
  target: IngestTarget,
  settings: { maxDocumentBytes: number; sources?: SourceSettings },
  collection: string,
  sources: readonly IngestSource[],
  options: SourceIngestOptions = {},
): Promise<IngestResult> {
  const sourceSettings = settings.sources ?? {};
  // Every source is checked first: a refusal says what to fix before anything is read.
  const paths: { path: string; confine: string[] }[] = [];
  const urls: URL[] = [];
  const policy = sources.some((s) => s.url !== undefined) ? urlPolicy(sourceSettings) : undefined;
  for (const source of sources) {
    if (source.path !== undefined) paths.push(await resolveSourcePath(source.path, sourceSettings));
    else urls.push(checkUrl(source.url, policy!));
  }

  const result: IngestResult = { ingested: 0, skipped: 0, chunks: 0, errors: [] };
  let sent = 0;
  let base = 0;
  const progress = async (done: number, total: number, message: string) => {
    if (!options.progress || done <= sent) return;
    sent = done;
    await options.progress(done, Math.max(total, done), message);
  };

  for (const { path, confine } of paths) {
    if (options.signal?.aborted) break;
    const summary = await ingestFiles(target, {
      collection,
      paths: [path],
      confine,
      maxFileBytes: settings.maxDocumentBytes,
      signal: options.signal,
      progress: (p) => progress(base + p.filesDone, base + p.filesTotal + urls.length, `${path}: ${p.filesDone} of ${p.filesTotal} files, ${p.chunks} chunks`),
    });
    base += summary.ingested + summary.unchanged + summary.skipped.length + summary.failed.length;
    result.ingested += summary.ingested;
    result.skipped += summary.unchanged;
    result.chunks += summary.chunks;
    for (const { path: file, reason } of summary.failed) result.errors.push({ id: file, message: reason });
    for (const { path: file, reason } of summary.skipped) result.errors.push({ id: file, message: `skipped: ${reason}` });
  }

  const documents: IngestDocument[] = [];
  for (const url of urls) {
    if (options.signal?.aborted) break;
    try {
      const fetched = await fetchDocument(url, policy!, { maxBytes: settings.maxDocumentBytes, timeoutMs: URL_TIMEOUT_MS }, options.signal);
      const extraction = await extractDocument(fetched.bytes, fetched.url.pathname, fetched.mediaType);
      if (extraction.skip !== undefined) result.errors.push({ id: url.href, message: `skipped: ${extraction.skip}` });
      else {
        const doc = extraction.document;
        documents.push({
          id: url.href.slice(0, 256),
          text: doc.text,
          title: doc.title,
          uri: fetched.url.href,
          mimeType: doc.mimeType,
          metadata: { url: fetched.url.href, size: fetched.bytes.length, mediaType: doc.mediaType, title: doc.title ?? fetched.url.hostname },
          source: { url: fetched.url.href, size: fetched.bytes.length, sha256: sha256Hex(fetched.bytes), ...(doc.pages ? { pages: doc.pages } : {}) },
        });
      }
    } catch (error) {
      if (options.signal?.aborted) break;
      result.errors.push({ id: url.href, message: isEngineError(error) ? error.message : `cannot be fetched: ${(error as Error).message}` });
    }
    await progress(base + documents.length + result.errors.length, base + urls.length, `fetched ${url.href}`);
  }
  if (documents.length > 0) {
    const written = await target.ingest(collection, documents, { signal: options.signal });
    result.ingested += written.ingested;
    result.skipped += written.skipped;
    result.chunks += written.chunks;
    result.errors.push(...written.errors);
  }
  return result;
}
