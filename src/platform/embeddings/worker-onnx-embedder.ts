/*
 * The ONNX embedder on a worker thread
 * ====================================
 * What the server embeds with: the same embedder as onnx-embedder.ts, run by onnx-worker.ts
 * on a thread of its own (ONNX Runtime's `run` occupies the thread that calls it). Its id and
 * dimensions come from the model's card, so nothing starts until the first text is embedded;
 * the worker then loads the model once and stays, unreferenced while idle (it does not keep
 * the process alive), until close(). A worker that dies fails the requests it held; the next
 * request starts another.
 */
import { createWorkerClient } from '../workers/worker-client.js';
import type { EmbeddingsPort } from './embeddings-port.js';
import { findOnnxModel, ONNX_PIPELINE_VERSION, type OnnxEmbedderOptions } from './onnx-embedder.js';
import type { OnnxWorkerMessage, OnnxWorkerRequest } from './onnx-worker.js';

type OnnxAnswer = Exclude<OnnxWorkerMessage, { loadedMs: number }>;

export function createWorkerOnnxEmbedder(options: OnnxEmbedderOptions & { onLoad?: (ms: number) => void }): EmbeddingsPort & { close(): Promise<void> } {
  const model = findOnnxModel(options.modelDir);
  const { onLoad, ...setup } = options;
  const client = createWorkerClient<OnnxWorkerRequest, OnnxAnswer>({
    base: import.meta.url,
    name: 'onnx-worker',
    workerData: setup,
    isAnswer: (message): message is OnnxAnswer => typeof message === 'object' && message !== null && 'id' in message,
    onNotice: (message) => onLoad?.((message as { loadedMs: number }).loadedMs),
    failures: {
      error: (message) => `the embedding model failed: ${message}`,
      exit: (code) => `the embedding worker stopped (exit code ${code})`,
      closed: 'the embedding worker was closed',
    },
  });

  const request = async (texts: readonly string[], query: boolean, signal?: AbortSignal): Promise<Float32Array[]> => {
    if (texts.length === 0) return [];
    const answer = await client.request((id) => ({ id, texts: [...texts], query }), signal);
    if (answer.error !== undefined) throw new Error(answer.error);
    const { vectors, dimensions } = answer;
    return Array.from({ length: vectors.length / dimensions }, (_, i) => vectors.subarray(i * dimensions, (i + 1) * dimensions));
  };

  return {
    id: `onnx:${model.name}@${ONNX_PIPELINE_VERSION}`,
    background: true,
    dimensions: async () => model.dimensions,
    embed: (texts, signal) => request(texts, false, signal),
    ...(model.queryPrefix ? { embedQueries: (texts: readonly string[], signal?: AbortSignal) => request(texts, true, signal) } : {}),
    close: () => client.close(),
  };
}
