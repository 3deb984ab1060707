/*
 * OpenAI-compatible embeddings (scale-out)
 * ========================================
 * POST {EMBEDDINGS_URL}/v1/embeddings with {model, input: [...]} — OpenAI's API and the
 * many servers that copy it (vLLM, Ollama, LocalAI, text-embeddings-inference). Batches
 * requests, retries 429 and 5xx with exponential backoff and jitter (honouring
 * Retry-After), caches each text's vector in the cache port, and L2-normalizes.
 */
import { sha256Key } from '../digest.js';
import { EngineError } from '../../errors.js';
import type { CachePort } from '../cache/cache-port.js';
import { postJsonWithRetries } from '../retry.js';
import type { EmbeddingsPort } from './embeddings-port.js';

export interface OpenAiEmbedderOptions {
  /** Base URL, e.g. https://api.openai.com (with or without /v1). */
  url: string;
  model: string;
  apiKey?: string;
  batchSize?: number;
  maxAttempts?: number;
  timeoutMs?: number;
  cache: CachePort;
  cacheTtlSeconds: number;
}

function endpoint(url: string): string {
  const base = url.replace(/\/+$/, '');
  return base.endsWith('/v1') ? `${base}/embeddings` : base.endsWith('/embeddings') ? base : `${base}/v1/embeddings`;
}

function normalize(values: number[]): Float32Array {
  const vector = Float32Array.from(values);
  let norm = 0;
  for (const v of vector) norm += v * v;
  norm = Math.sqrt(norm);
  if (norm > 0) for (let i = 0; i < vector.length; i++) vector[i]! /= norm;
  return vector;
}

export function createOpenAiEmbedder(options: OpenAiEmbedderOptions): EmbeddingsPort {
  const url = endpoint(options.url);
  const batchSize = options.batchSize ?? 64;
  const maxAttempts = options.maxAttempts ?? 4;
  let dimensions = 0;

  const request = async (input: string[], signal?: AbortSignal): Promise<number[][]> => {
    const body = (await postJsonWithRetries(
      url,
      { model: options.model, input },
      { what: 'embeddings', apiKey: options.apiKey, apiKeyVariable: 'EMBEDDINGS_API_KEY', timeoutMs: options.timeoutMs ?? 30_000, maxAttempts, signal },
    )) as { data?: { embedding: number[]; index: number }[] } | undefined;
    if (!Array.isArray(body?.data) || body.data.length !== input.length) {
      throw new EngineError('UNAVAILABLE', `embeddings endpoint ${url} returned ${body?.data?.length ?? 'no'} embeddings for ${input.length} inputs`);
    }
    return [...body.data].sort((a, b) => a.index - b.index).map((d) => d.embedding);
  };

  const cacheKey = (text: string) => `emb:${options.model}:${sha256Key(text)}`;

  const port: EmbeddingsPort = {
    id: `openai:${options.model}`,
    async embed(texts: readonly string[], signal?: AbortSignal): Promise<Float32Array[]> {
      const out: (Float32Array | undefined)[] = new Array(texts.length);
      const missing: number[] = [];
      await Promise.all(
        texts.map(async (text, i) => {
          const hit = await options.cache.get(cacheKey(text));
          if (hit) {
            // A small Buffer is a view into Node's shared pool: copy exactly its bytes.
            const bytes = Buffer.from(hit, 'base64');
            out[i] = new Float32Array(bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength));
          }
          else missing.push(i);
        }),
      );
      missing.sort((a, b) => a - b);
      for (let start = 0; start < missing.length; start += batchSize) {
        const indexes = missing.slice(start, start + batchSize);
        const vectors = await request(indexes.map((i) => texts[i]!), signal);
        await Promise.all(
          indexes.map(async (textIndex, j) => {
            const vector = normalize(vectors[j]!);
            out[textIndex] = vector;
            await options.cache.set(cacheKey(texts[textIndex]!), Buffer.from(vector.buffer).toString('base64'), options.cacheTtlSeconds);
          }),
        );
      }
      const result = out as Float32Array[];
      if (result[0]) dimensions = result[0].length;
      return result;
    },
    async dimensions(): Promise<number> {
      if (!dimensions) await port.embed(['dimension probe']);
      return dimensions;
    },
  };
  return port;
}
