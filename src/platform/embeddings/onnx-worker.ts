/*
 * The worker thread behind worker-onnx-embedder.ts
 * ================================================
 * Runs the ONNX embedder (onnx-embedder.ts) off the main thread: ONNX Runtime's `run` works
 * on the thread that calls it, and a batch of 16 chunks keeps it busy for a good fraction of
 * a second, which on the main thread would stall every request (and PGlite, which runs
 * there). Requests are served one at a time, in arrival order (the server sends one text per
 * request, so a query's embedding waits behind one text). Vectors go back as one transferred
 * buffer.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { createOnnxEmbedder, type OnnxEmbedderOptions } from './onnx-embedder.js';

export interface OnnxWorkerRequest {
  id: number;
  texts: string[];
  /** Embed as search queries (the model's query prefix). */
  query: boolean;
}

export type OnnxWorkerMessage =
  | { id: number; dimensions: number; vectors: Float32Array; error?: undefined }
  | { id: number; error: string }
  /** Once, when the model has loaded. */
  | { loadedMs: number };

const port = parentPort!;
const embedder = await createOnnxEmbedder({ ...(workerData as OnnxEmbedderOptions), onLoad: (ms) => port.postMessage({ loadedMs: ms } satisfies OnnxWorkerMessage) });
const dimensions = await embedder.dimensions();

async function handle({ id, texts, query }: OnnxWorkerRequest): Promise<void> {
  try {
    const vectors = query && embedder.embedQueries ? await embedder.embedQueries(texts) : await embedder.embed(texts);
    const flat = new Float32Array(vectors.length * dimensions);
    vectors.forEach((vector, i) => flat.set(vector, i * dimensions));
    port.postMessage({ id, dimensions, vectors: flat } satisfies OnnxWorkerMessage, [flat.buffer]);
  } catch (error) {
    port.postMessage({ id, error: (error as Error).message } satisfies OnnxWorkerMessage);
  }
}

let queue = Promise.resolve();
port.on('message', (request: OnnxWorkerRequest) => {
  queue = queue.then(() => handle(request));
});
