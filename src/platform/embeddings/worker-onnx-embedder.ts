/*
 * The ONNX embedder on worker threads
 * ===================================
 * What the server embeds with: the same embedder as onnx-embedder.ts, run by onnx-worker.ts
 * on threads of their own (ONNX Runtime's `run` occupies the thread that calls it). Its id
 * and dimensions come from the model's card, so nothing starts until the first text is
 * embedded.
 *
 * Several workers, each running the model on one ONNX Runtime thread: texts are independent,
 * so giving each core whole texts spends no CPU on splitting one inference across threads
 * (measured on 2 cores: bench/results/2026-12-06-embedding-workers.md). A request's texts
 * go to the least busy workers a text at a time; a single text (a query) goes to the least
 * busy one, the first on a tie, so a server that only answers queries starts one worker.
 * Each worker starts on its first text, loads the model once and stays, unreferenced while
 * idle (it does not keep the process alive), until close(). A worker that dies fails the
 * requests it held; the next request starts another.
 */
import { availableParallelism } from 'node:os';
import { createWorkerClient, type WorkerClient } from '../workers/worker-client.js';
import type { EmbeddingsPort } from './embeddings-port.js';
import { findOnnxModel, ONNX_PIPELINE_VERSION, type OnnxEmbedderOptions } from './onnx-embedder.js';
import type { OnnxWorkerMessage, OnnxWorkerRequest } from './onnx-worker.js';

type OnnxAnswer = Exclude<OnnxWorkerMessage, { loadedMs: number }>;

/** Workers when not configured: one per core, up to this many (each holds the model). */
const MAX_DEFAULT_WORKERS = 4;

export interface WorkerOnnxEmbedderOptions extends Omit<OnnxEmbedderOptions, 'threads'> {
  /** Worker threads, each running the model on one ONNX Runtime thread; default one per core, up to 4. */
  workers?: number;
  /** Hears how long the first worker took to load the model. */
  onLoad?: (ms: number) => void;
}

export function createWorkerOnnxEmbedder(options: WorkerOnnxEmbedderOptions): EmbeddingsPort & { close(): Promise<void> } {
  const model = findOnnxModel(options.modelDir);
  const { onLoad, workers, ...setup } = options;
  const count = Math.max(1, workers ?? Math.min(availableParallelism(), MAX_DEFAULT_WORKERS));
  const clients: (WorkerClient<OnnxWorkerRequest, OnnxAnswer> | undefined)[] = new Array(count).fill(undefined);
  /** Texts sent to each worker and not yet answered. */
  const queued: number[] = new Array(count).fill(0);
  let loadReported = false;

  const client = (index: number): WorkerClient<OnnxWorkerRequest, OnnxAnswer> =>
    (clients[index] ??= createWorkerClient<OnnxWorkerRequest, OnnxAnswer>({
      base: import.meta.url,
      name: 'onnx-worker',
      workerData: { ...setup, threads: 1 } satisfies OnnxEmbedderOptions,
      isAnswer: (message): message is OnnxAnswer => typeof message === 'object' && message !== null && 'id' in message,
      onNotice: (message) => {
        if (loadReported) return;
        loadReported = true;
        onLoad?.((message as { loadedMs: number }).loadedMs);
      },
      failures: {
        error: (message) => `the embedding model failed: ${message}`,
        exit: (code) => `the embedding worker stopped (exit code ${code})`,
        closed: 'the embedding worker was closed',
      },
    }));

  const embedOne = async (index: number, text: string, query: boolean, signal?: AbortSignal): Promise<Float32Array> => {
    queued[index]!++;
    try {
      const answer = await client(index).request((id) => ({ id, texts: [text], query }), signal);
      if (answer.error !== undefined) throw new Error(answer.error);
      return answer.vectors;
    } finally {
      queued[index]!--;
    }
  };

  const request = async (texts: readonly string[], query: boolean, signal?: AbortSignal): Promise<Float32Array[]> => {
    // The least busy workers, the first on a tie; as many as there are texts. Each takes the
    // next text when it has embedded its last, so none waits on another's longer texts, and
    // another request's text waits behind one text per worker, not a share of a batch.
    const chosen = queued
      .map((load, index) => ({ load, index }))
      .sort((a, b) => a.load - b.load || a.index - b.index)
      .slice(0, Math.min(count, texts.length))
      .map((w) => w.index);
    const vectors: Float32Array[] = new Array(texts.length);
    let next = 0;
    let failed = false;
    await Promise.all(
      chosen.map(async (index) => {
        try {
          while (next < texts.length && !failed) {
            signal?.throwIfAborted();
            const at = next++;
            vectors[at] = await embedOne(index, texts[at]!, query, signal);
          }
        } catch (error) {
          failed = true; // the other workers stop taking texts
          throw error;
        }
      }),
    );
    return vectors;
  };

  return {
    id: `onnx:${model.name}@${ONNX_PIPELINE_VERSION}`,
    background: true,
    dimensions: async () => model.dimensions,
    embed: (texts, signal) => request(texts, false, signal),
    ...(model.queryPrefix ? { embedQueries: (texts: readonly string[], signal?: AbortSignal) => request(texts, true, signal) } : {}),
    close: async () => {
      await Promise.all(clients.map((c) => c?.close()));
    },
  };
}
