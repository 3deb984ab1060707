/*
 * rag/sources/file-ingest
 * =======================
 * Files and folders → documents, incrementally. A walk lists the files (hidden entries are
 * not entered; symbolic links to directories are not followed; --include/--exclude filter by
 * relative path), one query lists what the collection holds from files (id, path, size,
 * mtime, hash), and then:
 *   - same path, size and mtime as stored: unchanged, not even read;
 *   - otherwise read and hashed: the same bytes are unchanged (their new mtime is recorded);
 *   - otherwise extracted (extract.ts) and ingested in batches, the next batch read while one
 *     is written; the engine replaces a changed document's chunks in one transaction.
 * With prune, documents whose files under the given paths are gone are deleted. Every
 * problem is per file: binary or empty files are skipped with the reason; unreadable,
 * damaged, encrypted, too large or too slow ones fail with the reason; the rest goes on.
 */
import type { Dirent, Stats } from 'node:fs';
import { readdir, readFile, realpath, stat } from 'node:fs/promises';
import { basename, dirname, join, relative, sep } from 'node:path';
import { pathToFileURL } from 'node:url';
import { EngineError, invalidInput } from '../../../errors.js';
import { sha256Hex } from '../../../platform/digest.js';
import { CANCELLED, COLLECTION_NAME } from '../constants.js';
import type { IngestDocument, IngestResult, StoredSource } from '../rag-engine.js';
import { extractDocument, type ExtractedDocument } from './extract.js';
import { compileGlobs } from './glob.js';
import { isWithin } from './source-policy.js';

/** What file ingestion needs of the engine. */
export interface IngestTarget {
  ingest(collection: string, documents: readonly IngestDocument[], options: { signal?: AbortSignal; progress?: (done: number, total: number, chunks: number) => Promise<void> }): Promise<IngestResult>;
  storedSources(collection: string): Promise<Map<string, StoredSource>>;
  touchSources(collection: string, touched: readonly { id: string; file: string; size: number; mtimeMs: number; mtime: string }[]): Promise<void>;
  delete(collection: string, selector: { documentIds: readonly string[] }): Promise<number>;
}

export interface FileProgress {
  phase: 'scanning' | 'ingesting';
  /** Files decided so far (unchanged, ingested, skipped or failed). */
  filesDone: number;
  filesTotal: number;
  chunks: number;
}

export interface FileProblem {
  path: string;
  reason: string;
}

export interface FileIngestSummary {
  collection: string;
  ingested: number;
  unchanged: number;
  skipped: FileProblem[];
  failed: FileProblem[];
  removed: number;
  chunks: number;
}

export interface FileIngestOptions {
  collection: string;
  /** Absolute files or folders; a document's id is its path relative to the folder given (a file's: its name). */
  paths: readonly string[];
  include?: readonly string[];
  exclude?: readonly string[];
  prune?: boolean;
  /** Real paths that symbolic links must not lead out of (rag_ingest's RAG_INGEST_ROOTS). */
  confine?: readonly string[];
  /** Files larger than this fail (RAG_engine.settings.maxDocumentBytes). */
  maxFileBytes: number;
  /** Reading and extracting one file may take this long (default 60 s). */
  fileTimeoutMs?: number;
  signal?: AbortSignal;
  progress?: (progress: FileProgress) => void | Promise<void>;
  /** Each skipped or failed file, as it is decided. */
  onProblem?: (problem: FileProblem & { outcome: 'skipped' | 'failed' }) => void;
}

interface FoundFile {
  path: string;
  id: string;
  size: number;
  mtimeMs: number;
}

/** Most documents and text bytes per engine call: 320 makes the engine's full write groups of 32. */
const BATCH_DOCUMENTS = 320;
const BATCH_BYTES = 16 * 1024 * 1024;
/** Files read and extracted at once (I/O and pdf.js awaits overlap; CPU work does not). */
const READ_CONCURRENCY = 8;
const STAT_CONCURRENCY = 64;
const DEFAULT_FILE_TIMEOUT_MS = 60_000;

async function mapLimit<T, R>(items: readonly T[], limit: number, fn: (item: T) => Promise<R>): Promise<R[]> {
  const out = new Array<R>(items.length);
  let next = 0;
  const worker = async () => {
    while (next < items.length) {
      const i = next++;
      out[i] = await fn(items[i]!);
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  return out;
}

function errnoReason(error: unknown): string {
  const { code, message } = error as NodeJS.ErrnoException;
  if (code === 'EACCES' || code === 'EPERM') return `permission denied (${code}); let this user read it, or --exclude it`;
  if (code === 'ENOENT') return 'it disappeared while being read';
  if (code === 'EISDIR') return 'is a directory';
  return code ? `${code}: ${message}` : message;
}

function withTimeout<T>(work: (signal: AbortSignal) => Promise<T>, ms: number, outer?: AbortSignal): Promise<T> {
  const controller = new AbortController();
  const signals = outer ? [controller.signal, outer] : [controller.signal];
  const signal = AbortSignal.any(signals);
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => {
      controller.abort();
      reject(invalidInput(`took longer than ${Math.round(ms / 1000)} s to read and extract; it is skipped this time (a very large or complex file?)`));
    }, ms);
  });
  return Promise.race([work(signal), timeout]).finally(() => clearTimeout(timer));
}

const mib = (n: number) => (n / 1024 / 1024).toFixed(1);

/**
 * `engine` may still be opening (the command passes the database's opening): the folders are
 * walked meanwhile, and the engine is awaited only once the walk is done.
 */
export async function ingestFiles(engine: IngestTarget | Promise<IngestTarget>, options: FileIngestOptions): Promise<FileIngestSummary> {
  const opening = Promise.resolve(engine);
  opening.catch(() => undefined); // awaited after the walk; a failure then is the caller's

  const { collection, signal } = options;
  if (!COLLECTION_NAME.test(collection)) throw invalidInput('collection: expected lower-case letters, digits, "_" or "-" (at most 63), e.g. "licenses"');
  if (options.paths.length === 0) throw invalidInput('give at least one file or folder to ingest');
  const include = compileGlobs(options.include ?? []);
  const exclude = compileGlobs(options.exclude ?? []);
  const summary: FileIngestSummary = { collection, ingested: 0, unchanged: 0, skipped: [], failed: [], removed: 0, chunks: 0 };
  const problem = (outcome: 'skipped' | 'failed', path: string, reason: string) => {
    (outcome === 'skipped' ? summary.skipped : summary.failed).push({ path, reason });
    options.onProblem?.({ path, reason, outcome });
  };

  // 1. The walk: every file under the paths (seen, for prune), those passing the filters kept.
  const seenFiles = new Set<string>();
  const seenIds = new Set<string>();
  const unreadableDirs: string[] = [];
  const candidates: { path: string; id: string; stats?: Stats }[] = [];
  const idOwner = new Map<string, string>();
  const consider = (path: string, id: string, stats?: Stats) => {
    seenFiles.add(path);
    seenIds.add(id);
    if (include && !include(id)) return;
    if (exclude?.(id)) return;
    const owner = idOwner.get(id);
    if (owner !== undefined) {
      problem('failed', path, `has the same document id "${id}" as ${owner}; ingest these folders into separate collections, or give their common parent folder`);
      return;
    }
    idOwner.set(id, path);
    candidates.push({ path, id, stats });
  };
  const confined = async (path: string): Promise<boolean> => {
    if (!options.confine) return true;
    const real = await realpath(path);
    return options.confine.some((root) => isWithin(real, root));
  };

  for (const given of options.paths) {
    let stats: Stats;
    try {
      stats = await stat(given);
    } catch (error) {
      problem('failed', given, `cannot be read: ${errnoReason(error)}`);
      unreadableDirs.push(given);
      continue;
    }
    if (stats.isFile()) {
      consider(given, basename(given), stats);
      continue;
    }
    if (!stats.isDirectory()) {
      problem('skipped', given, 'not a regular file or folder');
      continue;
    }
    const pending = [given];
    while (pending.length > 0) {
      if (signal?.aborted) break;
      const dir = pending.pop()!;
      let entries: Dirent[];
      try {
        entries = await readdir(dir, { withFileTypes: true });
      } catch (error) {
        problem('failed', dir, `folder cannot be read: ${errnoReason(error)}`);
        unreadableDirs.push(dir);
        continue;
      }
      entries.sort((a, b) => (a.name < b.name ? 1 : a.name > b.name ? -1 : 0));
      for (const entry of entries) {
        if (entry.name.startsWith('.')) continue;
        const path = join(dir, entry.name);
        const id = relative(given, path).split(sep).join('/');
        if (entry.isDirectory()) {
          if (!exclude?.(id)) pending.push(path);
        } else if (entry.isFile()) consider(path, id);
        else if (entry.isSymbolicLink()) {
          try {
            const linked = await stat(path);
            if (linked.isDirectory()) {
              if (!exclude?.(id)) problem('skipped', path, 'symbolic link to a folder (not followed; give the folder itself)');
            } else if (!linked.isFile()) problem('skipped', path, 'not a regular file');
            else if (!(await confined(path))) problem('failed', path, 'symbolic link leads outside RAG_INGEST_ROOTS');
            else consider(path, id, linked);
          } catch (error) {
            problem('failed', path, `broken symbolic link or unreadable target: ${errnoReason(error)}`);
          }
        } else if (!exclude?.(id)) problem('skipped', path, 'not a regular file (a socket, FIFO or device)');
      }
    }
  }

  // 2. Sizes and times (started before the engine is awaited), and what the collection holds.
  const files: FoundFile[] = [];
  const statting = mapLimit(candidates, STAT_CONCURRENCY, async (candidate) => {
    try {
      const stats = candidate.stats ?? (await stat(candidate.path));
      files.push({ path: candidate.path, id: candidate.id, size: stats.size, mtimeMs: stats.mtimeMs });
    } catch (error) {
      problem('failed', candidate.path, `cannot be read: ${errnoReason(error)}`);
    }
  });
  let target: IngestTarget;
  try {
    target = await opening;
  } finally {
    await statting;
  }
  const [stored] = await Promise.all([target.storedSources(collection), statting]);
  files.sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
  const filesTotal = files.length + summary.skipped.length + summary.failed.length;
  let docsWritten = 0;
  let batchDone = 0;
  let batchChunks = 0;
  const report = async (phase: FileProgress['phase']) => {
    const filesDone = summary.unchanged + summary.skipped.length + summary.failed.length + docsWritten + batchDone;
    await options.progress?.({ phase, filesDone, filesTotal, chunks: summary.chunks + batchChunks });
  };

  const toRead: FoundFile[] = [];
  for (const file of files) {
    const known = stored.get(file.id);
    if (known && known.file === file.path && known.size === file.size && known.mtimeMs === file.mtimeMs) summary.unchanged++;
    else toRead.push(file);
  }
  await report('scanning');

  // 3. Read, hash, extract and ingest, a batch at a time; batch N + 1 is read while N is written.
  const touched: { id: string; file: string; size: number; mtimeMs: number; mtime: string }[] = [];
  const timeoutMs = options.fileTimeoutMs ?? DEFAULT_FILE_TIMEOUT_MS;
  const readOne = async (file: FoundFile): Promise<IngestDocument | undefined> => {
    if (signal?.aborted) return undefined;
    if (file.size > options.maxFileBytes) {
      problem('failed', file.path, `is ${mib(file.size)} MiB, over the ${mib(options.maxFileBytes)} MiB limit (RAG_engine.settings.maxDocumentBytes); raise the limit or --exclude it`);
      return undefined;
    }
    try {
      return await withTimeout(
        async (timeoutSignal) => {
          const bytes = await readFile(file.path, { signal: timeoutSignal });
          const sha256 = sha256Hex(bytes);
          const known = stored.get(file.id);
          const mtime = new Date(file.mtimeMs).toISOString();
          if (known?.sha256 === sha256) {
            summary.unchanged++;
            touched.push({ id: file.id, file: file.path, size: bytes.length, mtimeMs: file.mtimeMs, mtime });
            return undefined;
          }
          const extraction = await extractDocument(bytes, file.path);
          if (extraction.skip !== undefined) {
            problem('skipped', file.path, extraction.skip);
            return undefined;
          }
          return toDocument(file, extraction.document, bytes.length, sha256, mtime);
        },
        timeoutMs,
        signal,
      );
    } catch (error) {
      if (signal?.aborted) return undefined;
      problem('failed', file.path, error instanceof EngineError ? error.message : `cannot be read: ${errnoReason(error)}`);
      return undefined;
    }
  };

  let writing: Promise<void> = Promise.resolve();
  const write = async (docs: IngestDocument[]) => {
    const pathOf = new Map(docs.map((d) => [d.id, (d.source?.file ?? d.id)]));
    batchDone = 0;
    batchChunks = 0;
    const result = await target.ingest(collection, docs, {
      signal,
      progress: async (done, _total, chunks) => {
        batchDone = done;
        batchChunks = chunks;
        await report('ingesting');
      },
    });
    batchDone = 0;
    batchChunks = 0;
    summary.ingested += result.ingested;
    summary.unchanged += result.skipped;
    summary.chunks += result.chunks;
    docsWritten += result.ingested + result.skipped;
    // Documents a cancellation did not reach are not failures: the next run takes them.
    for (const { id, message } of result.errors) if (message !== CANCELLED) problem('failed', pathOf.get(id) ?? id, message);
    await report('ingesting');
  };
  for (let start = 0; start < toRead.length && !signal?.aborted; ) {
    const batch: FoundFile[] = [];
    let bytes = 0;
    while (start < toRead.length && batch.length < BATCH_DOCUMENTS && (batch.length === 0 || bytes + toRead[start]!.size <= BATCH_BYTES)) {
      bytes += toRead[start]!.size;
      batch.push(toRead[start++]!);
    }
    const docs = (await mapLimit(batch, READ_CONCURRENCY, readOne)).filter((d): d is IngestDocument => d !== undefined);
    await writing;
    await report('ingesting');
    if (docs.length > 0) writing = write(docs);
  }
  await writing;
  if (touched.length > 0) await target.touchSources(collection, touched);

  // 4. Prune: stored file documents under the given paths whose files were not found.
  if (options.prune && !signal?.aborted) {
    const gone = [...stored].filter(([id, source]) => {
      const file = source.file;
      if (!file || seenIds.has(id) || seenFiles.has(file)) return false;
      if (!options.paths.some((given) => isWithin(file, given))) return false;
      return !unreadableDirs.some((dir) => isWithin(file, dir));
    });
    if (gone.length > 0) summary.removed = await target.delete(collection, { documentIds: gone.map(([id]) => id) });
  }
  await report('ingesting');
  const byPath = (a: FileProblem, b: FileProblem) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0);
  summary.skipped.sort(byPath);
  summary.failed.sort(byPath);
  return summary;
}

function toDocument(file: FoundFile, doc: ExtractedDocument, size: number, sha256: string, mtime: string): IngestDocument {
  return {
    id: file.id,
    text: doc.text,
    title: doc.title,
    uri: pathToFileURL(file.path).href,
    mimeType: doc.mimeType,
    metadata: { path: file.path, mtime, size, mediaType: doc.mediaType, title: doc.title ?? basename(file.path), folder: dirname(file.id) === '.' ? '' : dirname(file.id) },
    source: { file: file.path, size, mtimeMs: file.mtimeMs, sha256, ...(doc.pages ? { pages: doc.pages } : {}) },
  };
}
