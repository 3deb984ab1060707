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
import type { Worker } from 'node:worker_threads';
import { startModuleWorker } from '../workers/module-worker.js';
import type { EmbeddingsPort } from './embeddings-port.js';
import { findOnnxModel, ONNX_PIPELINE_VERSION, type OnnxEmbedderOptions } from './onnx-embedder.js';
import type { OnnxWorkerMessage, OnnxWorkerRequest } from './onnx-worker.js';

interface Pending {
  resolve(vectors: Float32Array[]): void;
  reject(error: Error): void;
}

export function createWorkerOnnxEmbedder(options: OnnxEmbedderOptions & { onLoad?: (ms: number) => void }): EmbeddingsPort & { close(): Promise<void> } {
  const model = findOnnxModel(options.modelDir);
  const { onLoad, ...setup } = options;
  let worker: Worker | undefined;
  const pending = new Map<number, Pending>();
  let nextId = 0;
  // Referenced only while a request is out.
  const updateRef = () => (pending.size > 0 ? worker?.ref() : worker?.unref());
  const failAll = (error: Error) => {
    for (const [id, job] of pending) {
      pending.delete(id);
      job.reject(error);
    }
  };

  const ensureWorker = (): Worker => {
    if (worker) return worker;
    const started = startModuleWorker(import.meta.url, 'onnx-worker', setup);
    started.on('message', (message: OnnxWorkerMessage) => {
      if ('loadedMs' in message) return onLoad?.(message.loadedMs);
      const job = pending.get(message.id);
      if (!job) return; // aborted meanwhile
      pending.delete(message.id);
      updateRef();
      if (message.error !== undefined) return job.reject(new Error(message.error));
      const { vectors, dimensions } = message;
      job.resolve(Array.from({ length: vectors.length / dimensions }, (_, i) => vectors.subarray(i * dimensions, (i + 1) * dimensions)));
    });
    started.on('error', (error) => {
      if (worker === started) worker = undefined;
      failAll(new Error(`the embedding model failed: ${error.message}`));
    });
    started.on('exit', (code) => {
      if (worker === started) worker = undefined;
      failAll(new Error(`the embedding worker stopped (exit code ${code})`));
    });
    worker = started;
    return started;
  };

  const request = (texts: readonly string[], query: boolean, signal?: AbortSignal): Promise<Float32Array[]> => {
    if (texts.length === 0) return Promise.resolve([]);
    signal?.throwIfAborted();
    const target = ensureWorker();
    const id = nextId++;
    return new Promise<Float32Array[]>((resolve, reject) => {
      const onAbort = () => {
        // The worker finishes the batch; its answer finds nothing pending and is dropped.
        pending.delete(id);
        updateRef();
        reject(signal!.reason instanceof Error ? signal!.reason : new DOMException('The operation was aborted', 'AbortError'));
      };
      pending.set(id, {
        resolve: (vectors) => {
          signal?.removeEventListener('abort', onAbort);
          resolve(vectors);
        },
        reject: (error) => {
          signal?.removeEventListener('abort', onAbort);
          reject(error);
        },
      });
      signal?.addEventListener('abort', onAbort, { once: true });
      updateRef();
      target.postMessage({ id, texts: [...texts], query } satisfies OnnxWorkerRequest);
    });
  };

  return {
    id: `onnx:${model.name}@${ONNX_PIPELINE_VERSION}`,
    background: true,
    dimensions: async () => model.dimensions,
    embed: (texts, signal) => request(texts, false, signal),
    ...(model.queryPrefix ? { embedQueries: (texts: readonly string[], signal?: AbortSignal) => request(texts, true, signal) } : {}),
    async close() {
      const stopping = worker;
      worker = undefined;
      failAll(new Error('the embedding worker was closed'));
      await stopping?.terminate();
    },
  };
}
