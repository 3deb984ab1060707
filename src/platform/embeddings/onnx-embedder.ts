/*
 * ONNX embedder (local neural model)
 * ==================================
 * A sentence-transformers model run in-process by ONNX Runtime: all-MiniLM-L6-v2 or
 * bge-small-en-v1.5 (384 dimensions) as `npm run model:fetch` puts it in a directory
 * (model.onnx, tokenizer.json, model.json). BERT uncased WordPiece from tokenizer.json
 * (@huggingface/tokenizers), truncation to the model's maxTokens, padding to the longest text
 * of each batch, then the pooling model.json names: `mean` over the attention mask (MiniLM,
 * the default) or `cls`, the first token's hidden state (bge); L2 normalization: what
 * sentence-transformers does. A model.json `queryPrefix` (bge's retrieval instruction) is put
 * before query texts (embedQueries), never before documents.
 *
 * onnxruntime-node is an optional dependency and is imported only here, when this embedder
 * is chosen (EMBEDDINGS_PROVIDER=onnx), so a machine without it, or without the model, runs
 * everything else. Inference is serialized: one embedder runs one text at a time (the server
 * runs several, one per worker thread: worker-onnx-embedder.ts).
 */
import { existsSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join, resolve } from 'node:path';
import { PACKAGE_ROOT } from '../../package-info.js';
import type { EmbeddingsPort } from './embeddings-port.js';

/** Bump when tokenization or pooling changes: collections record the id. */
export const ONNX_PIPELINE_VERSION = 1;
export const DEFAULT_ONNX_MODEL_DIR = join(PACKAGE_ROOT, 'models', 'all-MiniLM-L6-v2-q');
const FETCH_HINT = 'run `npm run model:fetch` (the container image bakes it in unless built with --build-arg ONNX_MODEL=), or set EMBEDDINGS_MODEL_DIR to where the model is';

export interface OnnxModel {
  dir: string;
  name: string;
  dimensions: number;
  maxTokens: number;
  /** How token states become one vector; default `mean`. */
  pooling: 'mean' | 'cls';
  /** Put before a query (not a document) before it is embedded; default none. */
  queryPrefix: string;
}

export interface OnnxEmbedderOptions {
  /** A directory written by `npm run model:fetch`. */
  modelDir: string;
  /** ONNX Runtime intra-op threads; absent: ONNX Runtime's default (one per physical core). */
  threads?: number;
  /**
   * Texts per inference; default 1. The quantized exports quantize activations per run, over
   * the whole padded batch, so a text's vector depended on its batch (cosine 0.976 to itself
   * alone); one text a run is exact, and on CPU it was as fast (bench/results/2026-12-06-default-embedder.md).
   */
  batchSize?: number;
}

/**
 * Reads the model's card and checks its files and the runtime are there, without loading
 * anything: the composition root calls it at start-up so that a missing model is a clear
 * start-up error rather than a failure on the first ingest.
 */
export function findOnnxModel(modelDir: string): OnnxModel {
  const dir = resolve(modelDir);
  const card = join(dir, 'model.json');
  if (!existsSync(card)) throw new Error(`no embedding model in ${dir} (model.json is missing): ${FETCH_HINT}`);
  for (const file of ['model.onnx', 'tokenizer.json']) {
    if (!existsSync(join(dir, file))) throw new Error(`the embedding model in ${dir} has no ${file}: ${FETCH_HINT}`);
  }
  const parsed = JSON.parse(readFileSync(card, 'utf8')) as Partial<OnnxModel>;
  if (typeof parsed.name !== 'string' || !Number.isInteger(parsed.dimensions) || !Number.isInteger(parsed.maxTokens)) {
    throw new Error(`${card} lacks name, dimensions or maxTokens: ${FETCH_HINT}`);
  }
  const pooling = parsed.pooling ?? 'mean';
  if (pooling !== 'mean' && pooling !== 'cls') throw new Error(`${card} has pooling ${JSON.stringify(pooling)}; this embedder knows "mean" and "cls"`);
  if (parsed.queryPrefix !== undefined && typeof parsed.queryPrefix !== 'string') throw new Error(`${card} has a queryPrefix that is not a string`);
  try {
    createRequire(import.meta.url).resolve('onnxruntime-node');
  } catch {
    throw new Error('EMBEDDINGS_PROVIDER=onnx needs the optional dependency onnxruntime-node, which is not installed: run `npm install onnxruntime-node`');
  }
  return { dir, name: parsed.name, dimensions: parsed.dimensions!, maxTokens: parsed.maxTokens!, pooling, queryPrefix: parsed.queryPrefix ?? '' };
}

interface Encoded {
  ids: number[];
  index: number;
}

/**
 * One L2-normalized vector per row of `hidden` (rows × length × width token states, row r
 * having lengths[r] real tokens): the mean of its tokens' states, or its first token's.
 */
export function poolAndNormalize(hidden: Float32Array, lengths: readonly number[], length: number, width: number, pooling: 'mean' | 'cls'): Float32Array[] {
  return lengths.map((tokens, row) => {
    const vector = new Float32Array(width);
    const used = pooling === 'cls' ? Math.min(1, tokens) : tokens;
    for (let t = 0; t < used; t++) {
      const offset = (row * length + t) * width;
      for (let d = 0; d < width; d++) vector[d]! += hidden[offset + d]!;
    }
    let norm = 0;
    for (let d = 0; d < width; d++) norm += vector[d]! * vector[d]!;
    // Mean pooling divides by the token count, which L2 normalization cancels.
    norm = Math.sqrt(norm);
    if (norm > 0) for (let d = 0; d < width; d++) vector[d]! /= norm;
    return vector;
  });
}

/**
 * The model is loaded on the first texts to embed, not here: a server that only answers
 * other tools never pays for ONNX Runtime's start or the model's memory. `onLoad` hears how
 * long the load took.
 */
export async function createOnnxEmbedder(options: OnnxEmbedderOptions & { onLoad?: (ms: number) => void }): Promise<EmbeddingsPort> {
  const model = findOnnxModel(options.modelDir);
  const batchSize = options.batchSize ?? 1;
  let loading: ReturnType<typeof load> | undefined;
  async function load() {
    const started = performance.now();
    const [ort, { Tokenizer }] = await Promise.all([import('onnxruntime-node'), import('@huggingface/tokenizers')]);
    const tokenizer = new Tokenizer(JSON.parse(readFileSync(join(model.dir, 'tokenizer.json'), 'utf8')) as object, {});
    const session = await ort.InferenceSession.create(join(model.dir, 'model.onnx'), {
      ...(options.threads ? { intraOpNumThreads: options.threads } : {}),
      interOpNumThreads: 1,
      executionMode: 'sequential',
      graphOptimizationLevel: 'all',
      // Idle intra-op threads would otherwise spin between batches, taking CPU from the
      // database (in-process with PGlite) and the request handlers.
      extra: { session: { intra_op: { allow_spinning: '0' } } },
    });
    options.onLoad?.(Math.round(performance.now() - started));
    return { ort, tokenizer, session, output: session.outputNames[0]!, wantsTokenTypes: session.inputNames.includes('token_type_ids') };
  }
  const loaded = () => {
    if (!loading) {
      const attempt = load();
      // A failed load is tried again by the next call rather than remembered.
      attempt.catch(() => {
        if (loading === attempt) loading = undefined;
      });
      loading = attempt;
    }
    return loading;
  };

  const encode = (tokenizer: Awaited<ReturnType<typeof load>>['tokenizer'], text: string, index: number): Encoded => {
    const { ids } = tokenizer.encode(text);
    // Truncation keeps [CLS] and the text's first tokens, and ends with [SEP] as the model
    // was trained.
    return { ids: ids.length > model.maxTokens ? [...ids.slice(0, model.maxTokens - 1), ids[ids.length - 1]!] : ids, index };
  };

  const infer = async (batch: Encoded[]): Promise<Float32Array[]> => {
    const { ort, session, output, wantsTokenTypes } = await loaded();
    const length = Math.max(...batch.map((e) => e.ids.length));
    const size = batch.length * length;
    const ids = new BigInt64Array(size);
    const mask = new BigInt64Array(size);
    batch.forEach((e, row) => {
      for (let t = 0; t < e.ids.length; t++) {
        ids[row * length + t] = BigInt(e.ids[t]!);
        mask[row * length + t] = 1n;
      }
    });
    const dims = [batch.length, length];
    const feeds: Record<string, InstanceType<typeof ort.Tensor>> = { input_ids: new ort.Tensor('int64', ids, dims), attention_mask: new ort.Tensor('int64', mask, dims) };
    if (wantsTokenTypes) feeds.token_type_ids = new ort.Tensor('int64', new BigInt64Array(size), dims);
    const result = await session.run(feeds);
    const hidden = result[output]!.data as Float32Array;
    const width = model.dimensions;
    if (hidden.length !== size * width) throw new Error(`the model in ${model.dir} returned ${hidden.length / size} values per token, its model.json says ${width}`);
    return poolAndNormalize(
      hidden,
      batch.map((e) => e.ids.length),
      length,
      width,
      model.pooling,
    );
  };

  let queue: Promise<unknown> = Promise.resolve();
  const serialized = <T>(work: () => Promise<T>): Promise<T> => {
    const run = queue.then(work, work);
    queue = run.catch(() => undefined);
    return run;
  };

  const embed = async (texts: readonly string[], signal?: AbortSignal): Promise<Float32Array[]> => {
    // Texts of similar length share a batch, so little of it is padding.
    const { tokenizer } = await loaded();
    const encoded = texts.map((text, index) => encode(tokenizer, text, index)).sort((a, b) => a.ids.length - b.ids.length);
    const out: Float32Array[] = new Array(texts.length);
    for (let start = 0; start < encoded.length; start += batchSize) {
      signal?.throwIfAborted();
      const batch = encoded.slice(start, start + batchSize);
      const vectors = await serialized(() => infer(batch));
      batch.forEach((e, i) => (out[e.index] = vectors[i]!));
    }
    return out;
  };

  return {
    id: `onnx:${model.name}@${ONNX_PIPELINE_VERSION}`,
    dimensions: async () => model.dimensions,
    embed,
    ...(model.queryPrefix ? { embedQueries: (texts: readonly string[], signal?: AbortSignal) => embed(texts.map((text) => model.queryPrefix + text), signal) } : {}),
  };
}
