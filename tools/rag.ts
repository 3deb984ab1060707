/*
 * RAG operations: ingest documents into collections and retrieve cited context.
 */
import { z } from 'zod';
import { RETRIEVAL_MODES, SUPPORTED_MIME_TYPES } from '../src/engines/rag/constants.js';
import { defineOperation } from '../src/surface/operation.js';
import { isoTime } from '../src/surface/fields.js';
import { MAX_DOCUMENT_BYTES } from '../src/engines/rag/limits.js';
import { inline } from '../src/surface/result-text.js';

const collectionName = () =>
  z
    .string()
    .regex(/^[a-z0-9][a-z0-9_-]{0,62}$/, { error: 'expected lower-case letters, digits, "_" or "-" (at most 63), e.g. "licenses"' })
    .describe('Collection name, e.g. "licenses".');

const documentId = () => z.string().min(1).max(256).describe('Document id, unique in the collection.');

const metadataFilter = () =>
  z
    .record(z.string(), z.union([z.string(), z.number(), z.boolean()]))
    .refine((v) => Object.keys(v).length > 0, { error: 'give at least one field, e.g. {"family": "GPL"}' })
    .describe('Metadata equality filter, e.g. {"family": "GPL"}.');

export const ragIngest = defineOperation({
  name: 'rag_ingest',
  engine: 'rag',
  title: 'Ingest documents',
  description:
    'Chunk, embed and index documents into a collection (created on first use): inline `documents`, or `sources` (files, folders, URLs the server may read: .md, .txt, .html, .pdf, .docx). Unchanged ones are skipped; failures are reported per document.',
  input: z.object({
    collection: collectionName(),
    documents: z
      .array(
        z.object({
          id: documentId(),
          text: z
            .string()
            .min(1, { error: 'is empty; send the document text' })
            .max(MAX_DOCUMENT_BYTES, { error: `is over ${MAX_DOCUMENT_BYTES} characters; split it into several documents` })
            .describe('Document text (plain, markdown or HTML per mimeType), at most 5 MiB as UTF-8.'),
          title: z.string().max(1000).optional().describe('Title, indexed with every chunk.'),
          uri: z.string().max(2048).optional().describe('Where the document came from, returned in citations.'),
          mimeType: z.enum(SUPPORTED_MIME_TYPES, { error: `expected one of ${SUPPORTED_MIME_TYPES.join(', ')}` }).default('text/plain').describe('text/plain (default), text/markdown or text/html.'),
          metadata: z.record(z.string(), z.union([z.string(), z.number(), z.boolean(), z.null()])).optional().describe('Flat metadata for filters, e.g. {"family": "GPL"}.'),
        }),
      )
      .min(1, { error: 'give at least one document' })
      .max(1000, { error: 'at most 1000 documents per call; split the batch' })
      .optional()
      .describe('Documents to ingest. Give documents or sources.'),
    sources: z
      .array(
        z
          .object({
            path: z.string().min(1).max(4096).optional().describe('Absolute file or folder under RAG_INGEST_ROOTS.'),
            url: z.string().min(1).max(2048).optional().describe('http(s) URL on a host in RAG_INGEST_URL_HOSTS.'),
          })
          .refine((v) => (v.path === undefined) !== (v.url === undefined), { error: 'give exactly one of path or url' }),
      )
      .min(1, { error: 'give at least one source' })
      .max(100, { error: 'at most 100 sources per call' })
      .optional()
      .describe('Files, folders or URLs to read; document ids are paths relative to the folder, or URLs.'),
  }).refine((v) => (v.documents === undefined) !== (v.sources === undefined), { error: 'give exactly one of documents or sources' }),
  output: z.object({
    ingested: z.number().int().describe('Documents written (new or changed).'),
    skipped: z.number().int().describe('Documents unchanged since their last ingest.'),
    chunks: z.number().int().describe('Chunks written.'),
    errors: z.array(z.object({ id: z.string().describe('Document id, file or URL.'), message: z.string().describe('Why it was not ingested.') })).describe('Documents not ingested.'),
  }),
  annotations: { readOnlyHint: false, destructiveHint: false, idempotentHint: true },
  scope: 'rag:write',
  async handler(input, { engines, signal, progress, sample, metrics }) {
    const result = input.sources
      ? await engines.rag.ingestSources(
          input.collection,
          input.sources.map((s) => (s.path !== undefined ? { path: s.path } : { url: s.url! })),
          { signal, progress },
        )
      : await engines.rag.ingest(
          input.collection,
          input.documents!.map((doc) => ({ ...doc, metadata: doc.metadata ?? undefined })),
          { signal, sample, progress: (done, total) => progress(done, total, `ingested ${done} of ${total} documents`) },
        );
    metrics.ragIngestedChunks.inc(result.chunks);
    return result;
  },
});

const hitSchema = z.object({
  documentId: z.string().describe('Document the chunk belongs to.'),
  chunkId: z.number().int().describe('Chunk id.'),
  text: z.string().describe('Chunk text.'),
  score: z.number().describe("Hybrid: fused score (unbounded; compare within one result). Else BM25 or cosine."),
  retrievers: z
    .object({
      vector: z.number().int().optional().describe('Rank in vector retrieval.'),
      fulltext: z.number().int().optional().describe('Rank in BM25 retrieval.'),
      graph: z.number().int().optional().describe('Rank in graph retrieval.'),
    })
    .describe('Rank of the chunk in each retriever that found it.'),
  citation: z
    .object({
      documentId: z.string().describe('Document id.'),
      title: z.string().nullable().describe('Document title.'),
      uri: z.string().nullable().describe('Document URI.'),
      start: z.number().int().describe('Start offset of the chunk in the document text.'),
      end: z.number().int().describe('End offset (exclusive).'),
      page: z.number().int().optional().describe('PDF page where the chunk starts.'),
    })
    .describe('Where the chunk comes from.'),
});

export const ragQuery = defineOperation({
  name: 'rag_query',
  engine: 'rag',
  title: 'Retrieve context',
  description:
    'Retrieve the chunks that best answer a query, with citations. Modes: hybrid (default; BM25, vectors and entity graph, fused by score), vector, fulltext, graph.',
  input: z.object({
    collection: collectionName(),
    query: z.string().max(2000).describe('What to find, in words.'),
    mode: z.enum(RETRIEVAL_MODES).default('hybrid').describe('hybrid (default), vector, fulltext or graph.'),
    topK: z.number().int().min(1, { error: 'expected 1-100' }).max(100, { error: 'expected 1-100' }).default(10).describe('How many chunks, 1-100 (default 10).'),
    filter: metadataFilter().optional(),
    diversity: z
      .number()
      .min(0, { error: 'expected 0-1 (0 off)' })
      .max(1, { error: 'expected 0-1 (0 off)' })
      .optional()
      .describe('0-1: spread out near-duplicates (MMR); default 0, off.'),
    maxChars: z.number().int().min(20).max(100_000).optional().describe('Cut each passage to this many characters (citations keep the chunk offsets).'),
    rerank: z.boolean().optional().describe('false: skip the server\'s reranker.'),
  }),
  output: z.object({
    hits: z.array(hitSchema).describe('Best first.'),
    graph: z
      .object({
        entities: z.array(z.string()).describe('Entities reached, most relevant first.'),
        paths: z.array(z.string()).describe('Relation paths, e.g. "A –grants→ B".'),
      })
      .optional()
      .describe('Graph and hybrid modes: why.'),
    rerank: z
      .object({
        reranker: z.string().describe('Reranker id; hit scores are its own.'),
        warning: z.string().optional().describe('Why hits are in fused order.'),
      })
      .optional()
      .describe('Hybrid, when the server reranks.'),
  }),
  annotations: { readOnlyHint: true, idempotentHint: true },
  scope: 'rag:read',
  async handler(input, { engines, metrics }) {
    const done = metrics.ragQueryDuration.startTimer({ mode: input.mode });
    const { hits, graph, rerank } = await engines.rag.query(input);
    done();
    const max = input.maxChars;
    const cut = max === undefined ? hits : hits.map((h) => (h.text.length > max ? { ...h, text: `${h.text.slice(0, max - 1)}…` } : h));
    return { hits: cut, ...(graph ? { graph: { entities: graph.entities.map((e) => e.name), paths: graph.paths } } : {}), ...(rerank ? { rerank: { reranker: rerank.reranker, ...(rerank.warning ? { warning: rerank.warning } : {}) } } : {}) };
  },
  summarize({ hits, graph, rerank }) {
    const note = rerank?.warning ? `Note: ${rerank.warning}.\n\n` : '';
    if (hits.length === 0) return `${note}No passage matched.`;
    const passages = hits.map((h, i) => {
      const { title, uri, start, end } = h.citation;
      const source = [title ? JSON.stringify(title) : undefined, uri ?? undefined].filter(Boolean).join(' ');
      return `[${i + 1}] ${inline(h.documentId)}${source ? ` ${source}` : ''} chars ${start}-${end} score ${Number(h.score.toPrecision(3))}\n${h.text}`;
    });
    if (graph && graph.entities.length > 0) passages.push(`Graph entities: ${graph.entities.join(', ')}${graph.paths.length > 0 ? `\nPaths: ${graph.paths.join('; ')}` : ''}`);
    return note + passages.join('\n\n');
  },
});

export const ragDelete = defineOperation({
  name: 'rag_delete',
  engine: 'rag',
  title: 'Delete documents',
  description: 'Delete documents (and their chunks) from a collection by id or by metadata filter.',
  input: z
    .object({
      collection: collectionName(),
      documentIds: z.array(documentId()).min(1).max(1000).optional().describe('Ids to delete. Give documentIds or filter.'),
      filter: metadataFilter().optional(),
    })
    .refine((v) => (v.documentIds === undefined) !== (v.filter === undefined), { error: 'give exactly one of documentIds or filter' }),
  output: z.object({ deleted: z.number().int().describe('Documents deleted.') }),
  annotations: { readOnlyHint: false, destructiveHint: true, idempotentHint: true },
  scope: 'rag:write',
  async handler(input, { engines }) {
    return { deleted: await engines.rag.delete(input.collection, input) };
  },
});

export const ragCollections = defineOperation({
  name: 'rag_collections',
  engine: 'rag',
  title: 'List collections',
  description: 'List collections with their document and chunk counts and the embedder that filled them.',
  input: z.object({}),
  output: z.object({
    embedder: z
      .object({
        id: z.string().describe('Embedder id.'),
        semantic: z.boolean().describe('false: the lexical offline embedder.'),
        fallback: z.string().optional().describe('Why not the local model.'),
      })
      .describe('Embeds new collections.'),
    collections: z
      .array(
        z.object({
          name: z.string().describe('Collection name.'),
          documents: z.number().int().describe('Documents.'),
          chunks: z.number().int().describe('Chunks.'),
          embedder: z.string().describe('Embedder id.'),
          vectorsPending: z.number().int().describe('Chunks not embedded yet.'),
          movingTo: z.string().optional().describe('Reembed target.'),
          createdAt: isoTime(),
        }),
      )
      .describe('By name.'),
  }),
  annotations: { readOnlyHint: true, idempotentHint: true },
  scope: 'rag:read',
  async handler(_input, { engines }) {
    const collections = (await engines.rag.collections()).map(({ dimensions: _dimensions, ...collection }) => collection);
    return { embedder: engines.rag.embedderInfo(), collections };
  },
});

export const ragReembed = defineOperation({
  name: 'rag_reembed',
  engine: 'rag',
  title: 'Move a collection to the default embedder',
  description: 'Re-embed a collection with the default embedder, in the background; old vectors answer meanwhile.',
  input: z.object({ collection: collectionName() }),
  output: z.object({
    started: z.boolean().describe('false: already on it.'),
    embedder: z.string().describe('Target embedder id.'),
  }),
  annotations: { readOnlyHint: false, destructiveHint: false, idempotentHint: true },
  scope: 'rag:write',
  async handler(input, { engines }) {
    return { started: await engines.rag.reembed(input.collection), embedder: engines.rag.embedderInfo().id };
  },
});

export const RAG_OPERATIONS = [ragIngest, ragQuery, ragDelete, ragCollections, ragReembed];
