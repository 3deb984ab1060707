/*
 * rag/preparation-worker
 * ======================
 * The worker thread behind worker-preparer.ts: prepares documents with the offline embedder
 * and the heuristic extractor, the same prepareContent the engine runs in process, and
 * posts each document's content back with its vectors and counts transferred. Requests are
 * handled one at a time, in order, so the group the engine waits for comes first. It says
 * READY once loaded and warmed up.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { createOfflineEmbedder } from '../../platform/embeddings/offline-embedder.js';
import type { ChunkSettings } from './chunk.js';
import { prepareContent, type PrepareInput } from './document-preparer.js';
import { HEURISTIC_EXTRACTOR } from './graph/heuristic-extractor.js';
import { encodeError, encodePrepared, READY, type WireError, type WirePreparedContent } from './prepared-wire.js';

export interface PreparationWorkerSetup {
  dimensions: number;
  chunking: ChunkSettings;
}

export interface PreparationRequest {
  id: number;
  docs: PrepareInput[];
  /** Run the heuristic extractor (GraphRAG on). */
  extract: boolean;
  /** Compute the offline vectors (false: another embedder computes them after the write). */
  embed: boolean;
}

export interface PreparationResponse {
  id: number;
  outcomes: ({ content: WirePreparedContent } | { error: WireError })[];
}

const port = parentPort!;
const setup = workerData as PreparationWorkerSetup;
const embedder = createOfflineEmbedder(setup.dimensions);

async function handle(request: PreparationRequest): Promise<void> {
  const outcomes: PreparationResponse['outcomes'] = [];
  const transfer: ArrayBuffer[] = [];
  for (const doc of request.docs) {
    try {
      const { wire, transfer: buffers } = encodePrepared(await prepareContent(doc, setup.chunking, request.embed ? embedder : undefined, request.extract ? HEURISTIC_EXTRACTOR : undefined));
      outcomes.push({ content: wire });
      transfer.push(...buffers);
    } catch (error) {
      outcomes.push({ error: encodeError(error) });
    }
  }
  port.postMessage({ id: request.id, outcomes } satisfies PreparationResponse, transfer);
}

let queue = Promise.resolve();
port.on('message', (request: PreparationRequest) => {
  queue = queue.then(() => handle(request));
});
// Embedding a word builds the SUBTLEX prior now rather than in the first request.
queue = queue.then(async () => {
  await embedder.embed(['license']);
  port.postMessage(READY);
});
