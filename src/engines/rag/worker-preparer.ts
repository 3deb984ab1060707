/*
 * rag/worker-preparer
 * ===================
 * Document preparation on a worker thread, for the offline embedder and the heuristic
 * extractor: pure-JS, CPU-bound work that in process shares the main thread with PGlite
 * (WASM PostgreSQL, in process too). On a thread of its own it runs on the second core
 * while the engine writes the previous group. One worker, started on first use and reused;
 * it does not keep the process alive while idle, and close() ends it (App.close).
 *
 * Starting the worker (loading the text splitter, building the embedder's word-frequency
 * prior) takes a noticeable fraction of a second; the engine would wait that long for its
 * first group. So the first
 * request after a start is prepared here, in process, with the same code: the first group is
 * written while the worker gets ready for the next. Only the first: on a busy machine the
 * worker may take seconds to start, and more work here would only slow the writes.
 */
import { createWorkerClient } from '../../platform/workers/worker-client.js';
import { createOfflineEmbedder } from '../../platform/embeddings/offline-embedder.js';
import { abortError, createInProcessPreparer, type DocumentPreparer, type Preparation } from './document-preparer.js';
import { HEURISTIC_EXTRACTOR } from './graph/heuristic-extractor.js';
import type { PreparationRequest, PreparationResponse, PreparationWorkerSetup } from './preparation-worker.js';
import { decodeError, decodePrepared, READY } from './prepared-wire.js';

export interface WorkerPreparer extends DocumentPreparer {
  /** Starts the worker if it is not running; resolves once it answers requests itself. */
  whenReady(): Promise<void>;
}

/** Prepares with the offline embedder of these dimensions; the only extractor it runs is the heuristic one. */
export function createWorkerPreparer(setup: PreparationWorkerSetup): WorkerPreparer {
  let ready = false;
  let whileStarting: DocumentPreparer | undefined;
  /** Whether the current worker's start has had its request prepared here. */
  let preparedHere = false;
  let readyWaiters: { resolve(): void; reject(error: Error): void }[] = [];

  const client = createWorkerClient<PreparationRequest, PreparationResponse>({
    base: import.meta.url,
    name: 'preparation-worker',
    workerData: setup,
    isAnswer: (message): message is PreparationResponse => message !== READY,
    onStart: () => {
      ready = false;
      preparedHere = false;
    },
    onNotice: () => {
      ready = true;
      for (const waiter of readyWaiters) waiter.resolve();
      readyWaiters = [];
    },
    // The next request starts another worker, and onStart resets what this one left.
    onFail: (error) => {
      for (const waiter of readyWaiters) waiter.reject(error);
      readyWaiters = [];
    },
    failures: {
      error: (message) => `document preparation failed: ${message}`,
      exit: (code) => `the document preparation worker stopped (exit code ${code})`,
      closed: 'the document preparation worker was closed',
    },
  });

  return {
    async prepare(docs, { extractor, signal, embed = true }) {
      if (extractor && extractor !== HEURISTIC_EXTRACTOR) throw new Error(`the worker preparer runs the heuristic extractor only, not ${extractor.id}`);
      if (docs.length === 0) return [];
      if (signal?.aborted) return docs.map(() => ({ error: abortError(signal) }));
      client.start();
      if (!ready && !preparedHere) {
        preparedHere = true;
        whileStarting ??= createInProcessPreparer(createOfflineEmbedder(setup.dimensions), setup.chunking);
        return whileStarting.prepare(docs, { extractor, signal, embed });
      }
      try {
        const { outcomes } = await client.request(
          (id) => ({ id, docs: docs.map((d) => ({ text: d.text, mimeType: d.mimeType, ...(d.title ? { title: d.title } : {}) })), extract: extractor !== undefined, embed }),
          signal,
        );
        return outcomes.map((o): Preparation => ('content' in o ? { content: decodePrepared(o.content) } : { error: decodeError(o.error) }));
      } catch (error) {
        // Each document fails alike: cancelled, or lost with the worker.
        const failure = signal?.aborted ? abortError(signal) : (error as Error);
        return docs.map(() => ({ error: failure }));
      }
    },
    whenReady() {
      client.start();
      return ready ? Promise.resolve() : new Promise<void>((resolve, reject) => readyWaiters.push({ resolve, reject }));
    },
    close: () => client.close(),
  };
}
